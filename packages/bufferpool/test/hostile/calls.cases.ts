// Every public call of @dbos/bufferpool under hostile arguments (argument fuzz). Each case works
// on one pool over a 48-page file with two pages kept fixed across calls (see target.ts); pages
// a call fixes are unfixed again, or kept, so the pool never runs out of room by design.
import fc from 'fast-check';
import { type CaseTable, TRAP_ERROR, call, hostileOptions, hostileValue, mostly } from '@dbos/hostile';
import { BufferPool, Page } from '../../src/index.js';
import { type Target, mode, pid, pidList, setup, teardown, touchKept } from './target.js';

/** A call on the case's pool; kept pages are checked after it, whatever it did. */
function onPool<A extends unknown[]>(args: { [K in keyof A]: fc.Arbitrary<A[K]> }, body: (target: Target, ...args: A) => unknown) {
  return call<A>(
    args,
    async (target, ...values) => {
      const state = target as Target;
      try {
        return await settlePages(state, body(state, ...values));
      } finally {
        touchKept(state);
      }
    },
    { setup, teardown: (target) => teardown(target as Target) },
  );
}

/** Pages a call returned: a few are kept (touched after every later call), the rest unfixed. */
async function settlePages(target: Target, result: unknown): Promise<unknown> {
  const value = await result;
  const pages = (Array.isArray(value) ? value : [value]).filter(
    (item): item is Page => typeof item === 'object' && item !== null && 'fixed' in item,
  );
  for (const page of pages) {
    if (!page.fixed) continue;
    if (page.mode === 'shared' && target.kept.length < 6) target.kept.push(page);
    else page.release({ dirty: false });
  }
  return pages.length > 0 ? pages.length : value;
}

const openOptions = fc.oneof(
  fc.record(
    {
      pageSize: mostly(fc.constantFrom(4096, 8192, 65536, 2048, 12288, 131072)),
      poolBytes: mostly(fc.constantFrom(8 * 4096, 2 ** 20, 7 * 4096, 2 ** 40, 2 ** 53)),
      create: mostly(fc.boolean()),
      buffered: mostly(fc.boolean()),
      readOnly: mostly(fc.boolean()),
      evictBatch: mostly(fc.constantFrom(1, 4, 64, 1024, 1025, 0)),
    },
    { requiredKeys: [] },
  ),
  hostileOptions(['pageSize', 'poolBytes', 'create', 'buffered', 'readOnly', 'evictBatch']),
);

const unfixOptions = fc.oneof(fc.constantFrom<unknown>(undefined, { dirty: true }, { dirty: false }, {}), hostileOptions(['dirty']));

/** A page argument: the case's live pages, unfixed ones, look-alikes, or anything. */
const pageArgument = fc.oneof(
  { arbitrary: fc.constantFrom('fresh-shared', 'fresh-exclusive', 'unfixed', 'prototype', 'proxy', 'plain'), weight: 3 },
  { arbitrary: hostileValue(), weight: 1 },
);

function pageFor(target: Target, name: unknown): unknown {
  const { pool } = target;
  switch (name) {
    case 'fresh-shared':
      return pool.fixShared(10);
    case 'fresh-exclusive':
      return pool.fixExclusive(11);
    case 'unfixed': {
      const page = pool.fixShared(12);
      page.release();
      return page;
    }
    case 'prototype':
      return Object.create(Object.getPrototypeOf(target.kept[0] ?? {}));
    case 'proxy':
      return new Proxy(pool.fixShared(13), {});
    case 'plain':
      return { pid: 1, mode: 'shared', data: new Uint8Array(10) };
    default:
      return name;
  }
}

/** A read function: a plain reader, one that throws, one that returns a promise, one that keeps the view, or anything. */
const readFunction = fc.oneof(
  {
    arbitrary: fc.constantFrom<unknown>(
      (data: Uint8Array) => data[0],
      () => {
        throw Object.assign(new RangeError('the reader itself failed'), { [TRAP_ERROR]: true }); // the caller's own error passes through
      },
      async () => 1,
      (data: Uint8Array) => data,
      (data: Uint8Array) => data.subarray(10, 20).reduce((a, b) => a + b, 0),
    ),
    weight: 4,
  },
  { arbitrary: hostileValue(), weight: 1 },
);

export default {
  'BufferPool.open(path, options)': onPool(
    [fc.constantFrom('existing', 'new', 'dir', 'hostile'), openOptions, hostileValue()],
    async (t, where, options, path) => {
      const file = where === 'existing' ? t.file : where === 'new' ? `${t.dir}/new-${Math.random()}` : where === 'dir' ? t.dir : path;
      const pool = BufferPool.open(file as string, options as never);
      try {
        const page = pool.pageCount > 1 ? pool.fixShared(1) : null;
        page?.release();
        return [pool.pageSize, pool.payloadSize, pool.stats().budgetPages];
      } finally {
        await pool.close();
      }
    },
  ),
  'fixShared(pid) / fixExclusive(pid)': onPool([fc.boolean(), pid], (t, exclusive, id) =>
    exclusive ? t.pool.fixExclusive(id as number) : t.pool.fixShared(id as number),
  ),
  'unfix(page, options) / page.release(options)': onPool([pageArgument, unfixOptions, fc.boolean()], (t, which, options, viaPage) => {
    const page = pageFor(t, which);
    try {
      // Page.prototype.release with `this` whatever the argument is: a look-alike must not pass.
      if (viaPage) return Page.prototype.release.call(page as Page, options as never);
      return t.pool.unfix(page as Page, options as never);
    } finally {
      if (typeof page === 'object' && page !== null && (page as Page).fixed === true) (page as Page).release({ dirty: false });
    }
  }),
  'page.data after unfix': onPool([fc.constantFrom('shared', 'exclusive')], (t, how) => {
    const page = how === 'shared' ? t.pool.fixShared(20) : t.pool.fixExclusive(21);
    const data = page.data;
    page.release();
    data[0] = 1; // detached: a no-op
    if (data.length !== 0) throw new Error('a view outlived its fix');
    return page.data;
  }),
  'read(pid, fn)': onPool([pid, readFunction], (t, id, fn) => t.pool.read(id as number, fn as never)),
  'fixMany(pids, mode)': onPool([pidList, mode], (t, ids, how) => t.pool.fixMany(ids as never, how as never)),
  'fix(pid, mode) batched': onPool([fc.array(fc.tuple(pid, mode), { minLength: 1, maxLength: 20 })], async (t, requests) => {
    const outcomes = await Promise.allSettled(requests.map(([id, how]) => t.pool.fix(id as number, how as never)));
    const pages = outcomes.filter((o): o is PromiseFulfilledResult<Page> => o.status === 'fulfilled').map((o) => o.value);
    for (const page of pages) page.release({ dirty: false });
    const failed = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
    return pages.length;
  }),
  'fixManyAsync(pids, mode)': onPool([pidList, mode], (t, ids, how) => t.pool.fixManyAsync(ids as never, how as never)),
  'prefetch(pids)': onPool([pidList], (t, ids) => t.pool.prefetch(ids as never)),
  'allocate() / free(pid)': onPool([fc.boolean(), pid], (t, allocate, id) => {
    if (allocate) {
      const page = t.pool.allocate();
      page.data[0] = 7;
      page.release();
      return page.pid;
    }
    return t.pool.free(id as number);
  }),
  'flush() / stats() / pageCount / mechanism': onPool([fc.constantFrom('flush', 'stats', 'pageCount', 'mechanism')], (t, which) => {
    if (which === 'flush') return t.pool.flush();
    if (which === 'stats') return t.pool.stats();
    return which === 'pageCount' ? t.pool.pageCount : t.pool.mechanism;
  }),
} satisfies CaseTable;
