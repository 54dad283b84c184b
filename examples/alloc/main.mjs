// A query executor's memory on @dbos/alloc: every query gets its own Arena from one Allocator whose
// limitBytes is a hard budget for all of them. Each query (executor.mjs) groups a range of orders
// by customer and keeps every matching order: hundreds of thousands of small allocations, released
// with one reset() when the query ends. Six such queries arrive at once and together need more than
// the budget: instead of the process growing until the kernel's OOM killer ends it, the queries
// that ask for memory the pool no longer has get DBOS_ENOMEM, abort and free their arena, the
// others finish with checked results, and the rejected ones succeed when retried alone.
// `node main.mjs` (after `pnpm build` in packages/alloc); prints what it did.
import { Allocator } from '@dbos/alloc';
import { checkAndSummarize, groupOrdersByCustomer, makeOrders } from './executor.mjs';

const MiB = 2 ** 20;
const LIMIT_BYTES = 8 * MiB; // the executor's memory budget, for all queries together
const CUSTOMERS = 10_000;
const DAYS = 365;
const ORDERS = 300_000;
const QUERY_DAYS = 120; // each query keeps about a third of the orders: ~1.9 MiB of nodes and groups
const QUERIES = 6;

const mebibytes = (bytes) => (bytes / MiB).toFixed(1);
const orders = makeOrders(ORDERS, CUSTOMERS, DAYS, 7);
const allocator = new Allocator({ limitBytes: LIMIT_BYTES, prefaultBytes: LIMIT_BYTES });
const start = allocator.stats();
console.log(
  `pool: limit ${mebibytes(start.limitBytes)} MiB, ${mebibytes(start.residentBytes)} MiB pre-faulted, huge pages ${start.hugePages}`,
);

let arenaBytesPeak = 0;
const sample = () => {
  arenaBytesPeak = Math.max(arenaBytesPeak, allocator.stats().bytesArenas);
};

/** Run one query in its own arena; the arena is released whatever happens. */
async function runQuery(number, query) {
  const arena = allocator.arena();
  const label = `query ${number} (days ${query.dayFirst}-${query.dayEnd - 1})`;
  try {
    const result = await groupOrdersByCustomer(arena, orders, query, sample);
    const { top, matches } = checkAndSummarize(result, orders, query, 1);
    const allocations = result.rows + result.groups + 1;
    const held = arena.bytesReserved;
    const started = process.hrtime.bigint();
    arena.reset();
    const resetUs = Number(process.hrtime.bigint() - started) / 1000;
    console.log(
      `${label}: ${result.rows} orders of ${result.groups} customers, ${allocations} allocations in ${mebibytes(held)} MiB; ` +
        `top customer ${top[0].customer} with ${top[0].count} orders, ${top[0].cents} cents; checked: ${matches}; ` +
        `reset freed it all in ${resetUs.toFixed(0)} µs`,
    );
    return 'finished';
  } catch (error) {
    if (error?.code !== 'DBOS_ENOMEM') throw error;
    console.log(
      `${label}: rejected with ${error.code} after ${arena.bytesRequested} bytes; its arena (${mebibytes(arena.bytesReserved)} MiB) released`,
    );
    return 'rejected';
  } finally {
    arena.close();
  }
}

const queries = Array.from({ length: QUERIES }, (_, i) => {
  const dayFirst = Math.floor((i * (DAYS - QUERY_DAYS)) / (QUERIES - 1));
  return { dayFirst, dayEnd: dayFirst + QUERY_DAYS, customers: CUSTOMERS };
});
const outcomes = await Promise.all(queries.map((query, i) => runQuery(i + 1, query)));
const rejected = outcomes.flatMap((outcome, i) => (outcome === 'rejected' ? [i] : []));
console.log(
  `overload: ${QUERIES} queries at once: ${QUERIES - rejected.length} finished, ${rejected.length} rejected with DBOS_ENOMEM; ` +
    `peak arena memory ${arenaBytesPeak} of ${allocator.limitBytes} bytes`,
);

const retried = [];
for (const i of rejected) retried.push(await runQuery(i + 1, queries[i]));
console.log(`retry alone: ${retried.filter((outcome) => outcome === 'finished').length} of ${rejected.length} finished`);

const end = allocator.stats();
console.log(
  `pool after: ${end.bytesArenas} bytes in arenas, ${end.bytesInUse} in use, ${end.pagesFree + end.pagesCached} of ${end.pagesTotal} pages free, ` +
    `largest free run ${end.freeRunPagesMax} pages, ${mebibytes(end.residentBytes)} MiB resident`,
);
allocator.check();
allocator.close();
console.log('alloc example finished');
