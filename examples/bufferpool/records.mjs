// A record store on @dbos/bufferpool: fixed-size records hashed to pages of one file that is four
// times larger than the pool. Writes take an exclusive fix; point reads are optimistic (no
// latch, validated by version); a batch of independent lookups is issued as async fixes, which
// the pool merges into one native batch so their misses are read together.
// `node records.mjs [directory]` (after `pnpm build`); prints what it did and the pool's counters.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BufferPool } from '@dbos/bufferpool';

const RECORD_BYTES = 128; // 4-byte key (0 = empty slot), 124-byte value
const DATA_PAGES = 256; // 1 MiB of 4 KiB pages
const POOL_BYTES = 256 * 1024; // a quarter of the file
const RECORDS = 6000;

const dir = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-records-'));
const file = path.join(dir, 'records.pages');
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const pageOf = (key) => 1 + ((Math.imul(key, 2654435761) >>> 0) % DATA_PAGES);

/** The slot of `key` in a page's payload (or of the first empty slot), or -1 when the page is full. */
function slotOf(data, key) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 0; at + RECORD_BYTES <= data.length; at += RECORD_BYTES) {
    const stored = view.getUint32(at, true);
    if (stored === key || stored === 0) return at;
  }
  return -1;
}

function put(pool, key, value) {
  const page = pool.fixExclusive(pageOf(key));
  try {
    const at = slotOf(page.data, key);
    if (at < 0) throw new Error(`page ${page.pid} is full`);
    new DataView(page.data.buffer, page.data.byteOffset).setUint32(at, key, true);
    page.data.fill(0, at + 4, at + RECORD_BYTES);
    encoder.encodeInto(value, page.data.subarray(at + 4, at + RECORD_BYTES));
  } finally {
    page.release({ dirty: true });
  }
}

/** An optimistic read: the function may run again if a writer changed the page meanwhile. */
function get(pool, key) {
  return pool.read(pageOf(key), (data) => {
    const at = slotOf(data, key);
    if (at < 0 || new DataView(data.buffer, data.byteOffset).getUint32(at, true) !== key) return undefined;
    const bytes = data.subarray(at + 4, at + RECORD_BYTES);
    return decoder.decode(bytes.subarray(0, bytes.indexOf(0) < 0 ? bytes.length : bytes.indexOf(0)));
  });
}

const valueFor = (key) => `record ${key}: ${'*'.repeat(key % 50)}`;

// 1. Create the file and write the records: eviction writes pages back as the pool fills.
const pool = BufferPool.open(file, { create: true, poolBytes: POOL_BYTES });
for (let i = 0; i < DATA_PAGES; i++) pool.allocate().release();
for (let key = 1; key <= RECORDS; key++) put(pool, key, valueFor(key));
let stats = pool.stats();
console.log(
  `wrote ${RECORDS} records into ${DATA_PAGES} pages (${(DATA_PAGES * pool.pageSize) / 1024} KiB file, ${POOL_BYTES / 1024} KiB pool)`,
);
console.log(`  evictions ${stats.evictions}, pages written ${stats.pagesWritten}, resident ${stats.residentBytes / 1024} KiB`);
await pool.flush();
await pool.close();

// 2. Reopen: point reads are optimistic; batched lookups go to the device together.
const again = BufferPool.open(file, { poolBytes: POOL_BYTES });
console.log(`reopened: ${again.mechanism}`);
for (const key of [1, 777, RECORDS]) console.log(`  get(${key}) = "${get(again, key)}"`);
const keys = Array.from({ length: 48 }, (_, i) => 1 + ((i * 997) % RECORDS));
const before = again.stats();
const pages = await Promise.all(keys.map((key) => again.fix(pageOf(key))));
let found = 0;
pages.forEach((page, i) => {
  const at = slotOf(page.data, keys[i]);
  if (at >= 0 && new DataView(page.data.buffer, page.data.byteOffset).getUint32(at, true) === keys[i]) found++;
  page.release();
});
stats = again.stats();
console.log(
  `batched lookups: ${found}/${keys.length} found with ${stats.asyncBatches - before.asyncBatches} native batch(es) of up to ${stats.asyncBatchPagesMax} pages, ${stats.misses - before.misses} misses`,
);

// 3. A view never outlives its fix.
const page = again.fixShared(pageOf(1));
const view = page.data;
page.release();
let doubleUnfix;
try {
  page.release();
} catch (error) {
  doubleUnfix = error.code;
}
console.log(`after unfix the view has length ${view.length}; a second unfix is refused with ${doubleUnfix}`);
await again.close();
if (!process.argv[2]) fs.rmSync(dir, { recursive: true, force: true });
console.log('records example finished');
