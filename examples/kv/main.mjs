// An order book on @dbos/kv: orders stored as JSON under keys "order:<customer>:<id>", each new
// order written together with its customer's running total in one atomic batch; a customer's
// orders read back with a prefix range; a snapshot taken before a price change still shows the
// old prices while the store shows the new ones; a backup, and the store reopened.
// `node main.mjs [directory]` (after `pnpm build` in packages/kv); prints what it did.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from '@dbos/kv';

const CUSTOMERS = 50;
const ORDERS = 2000;

const root = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-example-'));
const dir = path.join(root, 'orders');
const orderKey = (customer, id) => `order:${String(customer).padStart(3, '0')}:${String(id).padStart(6, '0')}`;
const totalKey = (customer) => `total:${String(customer).padStart(3, '0')}`;

// 1. Open (created on first use) with JSON values; writes default to sync: true (power-loss safe).
const db = open(dir, { valueEncoding: 'json' });

// 2. Each order and its customer's new total in one batch: after a crash both or neither are there.
//    The batches of one turn share group commits; we wait for all of them at the end, once.
const totals = new Map();
const durable = [];
for (let id = 0; id < ORDERS; id++) {
  const customer = id % CUSTOMERS;
  const price = 1 + (id % 97);
  totals.set(customer, (totals.get(customer) ?? 0) + price);
  durable.push(
    db.batch(
      [
        { type: 'put', key: orderKey(customer, id), value: { id, customer, price } },
        { type: 'put', key: totalKey(customer), value: totals.get(customer) },
      ],
      { sync: id === ORDERS - 1 }, // the last one syncs the log: everything before it is on disk too
    ),
  );
}
await Promise.all(durable);
console.log(`wrote ${ORDERS} orders for ${CUSTOMERS} customers (${db.stats().groupCommits} group commits)`);

// 3. Reads are synchronous and see every write at once.
const seven = [...db.range({ gte: 'order:007:', lt: 'order:007;' })];
const sum = seven.reduce((total, { value }) => total + value.price, 0);
console.log(`customer 7: ${seven.length} orders, total ${db.get(totalKey(7))} (sum of orders ${sum})`);
console.log(
  `the last 3 orders of customer 7: ${[...db.range({ gte: 'order:007:', lt: 'order:007;', reverse: true, limit: 3, values: false })].join(', ')}`,
);

// 4. A snapshot keeps its view while a price change is written.
const before = db.snapshot();
await db.put(orderKey(7, 7), { id: 7, customer: 7, price: 1000 });
console.log(`order 7: ${before.get(orderKey(7, 7)).price} in the snapshot, ${db.get(orderKey(7, 7)).price} now`);
before.close();

// 5. Batched lookups run on worker threads.
const wanted = Array.from({ length: 48 }, (_, i) => orderKey(i % CUSTOMERS, i));
const found = (await db.getMany(wanted)).filter((order) => order !== undefined).length;
console.log(`getMany: ${found}/${wanted.length} found`);

// 6. A consistent backup while the store stays open, then check, close and reopen.
const backupDir = path.join(root, 'orders-backup');
await db.backup(backupDir);
await db.check();
await db.close();
const copy = open(backupDir, { valueEncoding: 'json', create: false });
console.log(`backup: ${copy.stats().entries} entries, order 7 price ${copy.get(orderKey(7, 7)).price}`);
await copy.close();
const again = open(dir, { valueEncoding: 'json', create: false });
console.log(`reopened: ${again.stats().entries} entries, customer 7 total ${again.get(totalKey(7))}`);
await again.close();
if (process.argv[2] === undefined) fs.rmSync(root, { recursive: true, force: true });
console.log('kv example finished');
