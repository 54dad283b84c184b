// Every public call of @dbos/kv under hostile arguments. Each case works on one store (see
// target.ts) with a snapshot and an iteration kept open and read after every call.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { type CaseTable, call, hostileOptions, hostileValue, mostly } from '@dbos/hostile';
import { KvStore, open, Snapshot } from '../../src/index.js';
import { type Target, key, notString, setup, teardown, touchKept, value } from './target.js';

const thisFile = fileURLToPath(import.meta.url);

/** A call on the case's store; the kept handles are read after it, whatever it did. */
function onStore<A extends unknown[]>(args: { [K in keyof A]: fc.Arbitrary<A[K]> }, body: (target: Target, ...args: A) => unknown) {
  return call<A>(
    args,
    async (target, ...values) => {
      const state = target as Target;
      try {
        return await body(state, ...values);
      } finally {
        touchKept(state);
      }
    },
    { setup, teardown: (target) => teardown(target as Target) },
  );
}

const writeOptions = fc.oneof(fc.constantFrom<unknown>(undefined, { sync: true }, { sync: false }, {}), hostileOptions(['sync']));

const openOptions = fc.oneof(
  fc.record(
    {
      create: mostly(fc.boolean()),
      readOnly: mostly(fc.boolean()),
      cacheBytes: mostly(fc.constantFrom(4 << 20, 1, 2 ** 53, 2 ** 40)),
      pageSize: mostly(fc.constantFrom(4096, 8192, 65536, 2048, 12288)),
      checkpointWalBytes: mostly(fc.constantFrom(1 << 20, Number.POSITIVE_INFINITY, 0)),
      waitForLock: mostly(fc.constantFrom(0, 10, 2 ** 32)),
      keyEncoding: mostly(fc.constantFrom('utf8', 'binary', 'json', 'msgpack')),
      valueEncoding: mostly(fc.constantFrom('utf8', 'binary', 'json')),
      sync: mostly(fc.boolean()),
    },
    { requiredKeys: [] },
  ),
  hostileOptions(['create', 'readOnly', 'cacheBytes', 'pageSize', 'checkpointWalBytes', 'waitForLock', 'keyEncoding', 'sync']),
);

const rangeOptions = fc.oneof(
  fc.record(
    { gt: key, gte: key, lt: key, lte: key, reverse: mostly(fc.boolean()), limit: mostly(fc.constantFrom(0, 1, 5, Infinity, -1, 1.5)) },
    { requiredKeys: [] },
  ),
  hostileOptions(['gt', 'gte', 'lt', 'lte', 'reverse', 'limit', 'keys', 'values']),
);

const operation = fc.oneof(
  { arbitrary: fc.record({ type: fc.constant('put'), key, value }), weight: 4 },
  { arbitrary: fc.record({ type: fc.constant('del'), key }), weight: 2 },
  { arbitrary: hostileValue(), weight: 1 },
);

const keyList = fc.oneof(
  { arbitrary: fc.array(key, { maxLength: 10 }), weight: 4 },
  {
    arbitrary: fc.constantFrom<unknown>(
      Array.from({ length: 300 }, (_, i) => `k${i % 50}`),
      new Array(3),
    ),
    weight: 1,
  },
  { arbitrary: hostileValue(), weight: 1 },
);

const progressOptions = fc.oneof(
  fc.constantFrom<unknown>(undefined, { onProgress: () => undefined }, { onProgress: () => false }, { signal: AbortSignal.abort() }),
  hostileOptions(['onProgress', 'signal']),
);

export default {
  'open(path, options)': onStore(
    [fc.constantFrom('existing', 'new', 'file', 'hostile'), openOptions, notString],
    async (t, where, options, hostile) => {
      const dir =
        where === 'existing'
          ? t.store.path
          : where === 'new'
            ? path.join(t.dir, `new-${Math.random()}`)
            : where === 'file'
              ? thisFile
              : hostile;
      const store = open(dir as string, options as never);
      try {
        return [store.readOnly, store.stats().entries];
      } finally {
        await store.close();
      }
    },
  ),
  'get(key)': onStore([key], (t, k) => t.store.get(k as string)),
  'getMany(keys) / getManySync(keys)': onStore([fc.boolean(), keyList], (t, async, keys) =>
    async ? t.store.getMany(keys as string[]) : t.store.getManySync(keys as string[]),
  ),
  'put(key, value, options)': onStore([key, value, writeOptions], (t, k, v, options) =>
    t.store.put(k as string, v as string, options as never),
  ),
  'del(key, options)': onStore([key, writeOptions], (t, k, options) => t.store.del(k as string, options as never)),
  'batch(operations, options)': onStore(
    [fc.oneof(fc.array(operation, { maxLength: 8 }), hostileValue()), writeOptions],
    (t, ops, options) => t.store.batch(ops as never, options as never),
  ),
  'range(options) iterated': onStore([rangeOptions, fc.boolean(), fc.integer({ min: 0, max: 50 })], async (t, options, async, take) => {
    const entries: unknown[] = [];
    const range = t.store.range(options as never);
    if (async) {
      for await (const entry of range) if (entries.push(entry) >= take) break;
    } else {
      for (const entry of range) if (entries.push(entry) >= take) break;
    }
    return entries.length;
  }),
  'snapshot() reads': onStore([key, rangeOptions, fc.boolean()], async (t, k, options, close) => {
    const snapshot = t.store.snapshot();
    try {
      await t.store.put('k2', 'changed');
      return [snapshot.get(k as string), [...snapshot.range(options as never)].length, await snapshot.getMany([k as string])];
    } finally {
      if (close) snapshot.close();
    }
  }),
  'backup(dest, options)': onStore(
    [fc.constantFrom('fresh', 'store', 'file', 'hostile'), progressOptions, notString],
    (t, where, options, hostile) => {
      const dest =
        where === 'fresh'
          ? path.join(t.dir, `backup-${Math.random()}`)
          : where === 'store'
            ? t.store.path
            : where === 'file'
              ? thisFile
              : hostile;
      return t.store.backup(dest as string, options as never);
    },
  ),
  'checkpoint() / check(options) / stats() / mechanism': onStore(
    [fc.constantFrom('checkpoint', 'check', 'stats', 'mechanism'), progressOptions],
    (t, which, options) => {
      if (which === 'checkpoint') return t.store.checkpoint();
      if (which === 'check') return t.store.check(options as never);
      return which === 'stats' ? t.store.stats() : t.store.mechanism;
    },
  ),
  'methods called with a wrong this': onStore(
    [fc.constantFrom(...Object.getOwnPropertyNames(KvStore.prototype), 'snapshot.get', 'snapshot.close'), hostileValue()],
    (t, name, self) => {
      if (name === 'snapshot.get') return Snapshot.prototype.get.call(self as Snapshot, 'k1');
      if (name === 'snapshot.close') return Snapshot.prototype.close.call(self as Snapshot);
      const descriptor = Object.getOwnPropertyDescriptor(KvStore.prototype, name);
      if (name === 'constructor') return new KvStore(Symbol('forged'), t.dir);
      const fn = descriptor?.get ?? descriptor?.value;
      return (fn as (...args: unknown[]) => unknown).call(self, 'k1', 'v1');
    },
  ),
} satisfies CaseTable;
