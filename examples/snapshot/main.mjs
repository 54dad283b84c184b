// HTAP on @dbos/snapshot: an account table (one 8-byte balance per account) takes a stream of
// transfers, each moving money between two accounts, while an analytic query sums every balance.
// The query runs in slices, giving the event loop back between slices so the transfers never
// pause. Over live memory it sees some transfers half done (one side applied, the other not yet
// read) and its sum drifts; over a snapshot, taken in O(1) between two transfers, it sees exactly
// one moment, so the sum is the bank's total to the cent, however long the scan takes.
// `node main.mjs` (after `pnpm build` in packages/snapshot); prints what it did.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { createSpace, PAGE_SIZE } from '@dbos/snapshot';

const ACCOUNTS = 262_144; // 2 MiB of balances: 512 pages
const OPENING_BALANCE = 1_000n;
const SLICE_PAGES = 16; // pages the query reads before it yields
const TRANSFERS_PER_TURN = 200;

const space = createSpace({ size: ACCOUNTS * 8 }); // barrier writes: the epoch mechanism
const bank = new BigInt64Array(space.memory.buffer, space.memory.byteOffset, ACCOUNTS);
console.log(`space: ${space.pageCount} pages, mechanism ${space.mechanism}`);

// Open every account. Writes go through write(), the barrier that keeps snapshots exact.
const opening = new BigInt64Array(PAGE_SIZE / 8).fill(OPENING_BALANCE);
for (let page = 0; page < space.pageCount; page++) space.write(page * PAGE_SIZE, new Uint8Array(opening.buffer));
const TOTAL = OPENING_BALANCE * BigInt(ACCOUNTS);

// The OLTP side: transfers between random accounts, a batch every turn of the event loop.
let seed = 42;
const random = (n) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % n;
};
const cell = new BigInt64Array(1);
const setBalance = (account, value) => {
  cell[0] = value;
  space.write(account * 8, new Uint8Array(cell.buffer));
};
let transfers = 0;
let running = true;
async function transferLoop() {
  while (running) {
    for (let i = 0; i < TRANSFERS_PER_TURN; i++) {
      const from = random(ACCOUNTS);
      const to = random(ACCOUNTS);
      const amount = BigInt(1 + random(100));
      if (from === to || bank[from] < amount) continue;
      setBalance(from, bank[from] - amount);
      setBalance(to, bank[to] + amount);
      transfers++;
    }
    await yieldToEventLoop();
  }
}

// The OLAP side: the same sum over live memory and over a snapshot, SLICE_PAGES at a time.
const perPage = PAGE_SIZE / 8;
async function sumLive() {
  let sum = 0n;
  for (let page = 0; page < space.pageCount; page += SLICE_PAGES) {
    const end = Math.min(ACCOUNTS, (page + SLICE_PAGES) * perPage);
    for (let account = page * perPage; account < end; account++) sum += bank[account];
    await yieldToEventLoop();
  }
  return sum;
}
async function sumSnapshot(snapshot) {
  let sum = 0n;
  const slice = new BigInt64Array(SLICE_PAGES * perPage);
  for (let page = 0; page < space.pageCount; page += SLICE_PAGES) {
    const pages = Math.min(SLICE_PAGES, space.pageCount - page);
    snapshot.read(page * PAGE_SIZE, pages * PAGE_SIZE, new Uint8Array(slice.buffer));
    for (let i = 0; i < pages * perPage; i++) sum += slice[i];
    await yieldToEventLoop();
  }
  return sum;
}

const oltp = transferLoop();
await yieldToEventLoop();

const before = transfers;
const live = await sumLive();
console.log(`live scan:     sum ${live}, off by ${live - TOTAL} (${transfers - before} transfers ran during the scan)`);

const snapshot = space.snapshot();
const atSnapshot = transfers;
const exact = await sumSnapshot(snapshot);
console.log(`snapshot scan: sum ${exact}, off by ${exact - TOTAL} (${transfers - atSnapshot} transfers ran during the scan)`);
console.log(`snapshot: taken in ${snapshot.takeDurationNs} ns, ${snapshot.copies} pages copied for the writers meanwhile`);

running = false;
await oltp;
snapshot.release();
let final = 0n;
for (const balance of bank) final += balance;
console.log(`after ${transfers} transfers the live total is ${final} (expected ${TOTAL})`);
space.close();
console.log('snapshot example finished');
