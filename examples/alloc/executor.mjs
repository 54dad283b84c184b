// One query operator of an executor, with all its working memory in an @dbos/alloc Arena: GROUP BY
// customer over the orders of a range of days, keeping every matching order (the input a median, a
// window function or a hash join's build side needs). Each order becomes a 16-byte node in its
// customer's list, each customer a 24-byte group found through an open-addressing table; all three
// live in the arena, linked by pool offsets (the pointers of this off-heap world), and the whole
// structure goes back to the pool with one reset(), however many allocations it made.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

const NONE = 0xffffffff; // an empty bucket, the end of a list
const NODE_BYTES = 16; // next node (u32), order index (u32), amount in cents (f64)
const GROUP_BYTES = 24; // customer (u32), orders (u32), first node (u32), unused (u32), sum in cents (f64)
const SLICE_ORDERS = 4096; // orders scanned before the query gives the event loop back

/** The orders table: columns in plain typed arrays (in an engine, pages of the buffer pool). */
export function makeOrders(count, customers, days, seed) {
  const orders = { count, customer: new Uint32Array(count), day: new Uint16Array(count), cents: new Uint32Array(count) };
  let state = seed;
  const random = (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  for (let i = 0; i < count; i++) {
    orders.customer[i] = random(customers);
    orders.day[i] = random(days);
    orders.cents[i] = 100 + random(100_000);
  }
  return orders;
}

/** A DataView over the whole pool ('shared' views: every allocation is a window on one buffer). */
function poolView(allocation) {
  if (allocation.bytes.byteOffset !== allocation.offset) throw new Error('expected views: shared (offset = place in the pool buffer)');
  return new DataView(allocation.bytes.buffer);
}

/**
 * Run the query in `arena` (which must be empty), a slice at a time. Resolves with the groups'
 * table offset and counts; an allocation that does not fit rejects with the pool's DBOS_ENOMEM.
 * `onSlice` runs after every slice (the caller samples memory there).
 */
export async function groupOrdersByCustomer(arena, orders, { dayFirst, dayEnd, customers }, onSlice = () => {}) {
  const bucketCount = 2 ** Math.ceil(Math.log2(customers * 2));
  const table = arena.alloc(bucketCount * 4, { align: 8 });
  const pool = poolView(table);
  new Uint32Array(pool.buffer, table.offset, bucketCount).fill(NONE);
  let rows = 0;
  let groups = 0;
  for (let first = 0; first < orders.count; first += SLICE_ORDERS) {
    const end = Math.min(orders.count, first + SLICE_ORDERS);
    for (let order = first; order < end; order++) {
      const day = orders.day[order];
      if (day < dayFirst || day >= dayEnd) continue;
      const customer = orders.customer[order];
      let bucket = Math.imul(customer, 0x9e3779b1) >>> (32 - Math.log2(bucketCount));
      let group = pool.getUint32(table.offset + bucket * 4, true);
      while (group !== NONE && pool.getUint32(group, true) !== customer) {
        bucket = (bucket + 1) & (bucketCount - 1);
        group = pool.getUint32(table.offset + bucket * 4, true);
      }
      if (group === NONE) {
        group = arena.alloc(GROUP_BYTES, { align: 8, zero: true }).offset;
        pool.setUint32(group, customer, true);
        pool.setUint32(group + 8, NONE, true);
        pool.setUint32(table.offset + bucket * 4, group, true);
        groups++;
      }
      const node = arena.alloc(NODE_BYTES, { align: 8 }).offset;
      pool.setUint32(node, pool.getUint32(group + 8, true), true);
      pool.setUint32(node + 4, order, true);
      pool.setFloat64(node + 8, orders.cents[order], true);
      pool.setUint32(group + 8, node, true);
      pool.setUint32(group + 4, pool.getUint32(group + 4, true) + 1, true);
      pool.setFloat64(group + 16, pool.getFloat64(group + 16, true) + orders.cents[order], true);
      rows++;
    }
    onSlice();
    await yieldToEventLoop();
  }
  return { pool, table: table.offset, bucketCount, rows, groups };
}

/**
 * Walk what the query built and compare it with a plain recomputation from the orders: every list
 * must hold exactly its customer's orders of the range, and every count and sum must match.
 * Returns the top customers by orders and whether everything matched.
 */
export function checkAndSummarize(result, orders, { dayFirst, dayEnd }, top) {
  const expected = new Map();
  for (let order = 0; order < orders.count; order++) {
    if (orders.day[order] < dayFirst || orders.day[order] >= dayEnd) continue;
    const entry = expected.get(orders.customer[order]) ?? { count: 0, cents: 0 };
    entry.count++;
    entry.cents += orders.cents[order];
    expected.set(orders.customer[order], entry);
  }
  const { pool, table, bucketCount } = result;
  const found = [];
  let matches = expected.size === result.groups;
  for (let bucket = 0; bucket < bucketCount; bucket++) {
    const group = pool.getUint32(table + bucket * 4, true);
    if (group === NONE) continue;
    const customer = pool.getUint32(group, true);
    const count = pool.getUint32(group + 4, true);
    const cents = pool.getFloat64(group + 16, true);
    let listed = 0;
    let listedCents = 0;
    for (let node = pool.getUint32(group + 8, true); node !== NONE; node = pool.getUint32(node, true)) {
      const order = pool.getUint32(node + 4, true);
      if (orders.customer[order] !== customer || orders.day[order] < dayFirst || orders.day[order] >= dayEnd) matches = false;
      listed++;
      listedCents += pool.getFloat64(node + 8, true);
    }
    const want = expected.get(customer);
    if (want === undefined || want.count !== count || want.cents !== cents || listed !== count || listedCents !== cents) matches = false;
    found.push({ customer, count, cents });
  }
  found.sort((a, b) => b.count - a.count || a.customer - b.customer);
  return { top: found.slice(0, top), matches };
}
