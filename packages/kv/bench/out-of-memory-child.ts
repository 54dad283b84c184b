// One store's out-of-memory reads, in a process of its own that out-of-memory.ts starts inside a
// memory cgroup: open the store loaded there with the memory budget as its cache, read uniform
// random keys one at a time, then in getMany calls of 100, and print one JSON line.
//
//   node --import tsx bench/out-of-memory-child.ts <store name> <dir> <key count> <budget bytes> <seconds>
//
// Every value read is checked (found, 100 bytes, carrying its key's index): a store that returned
// nothing fast would not be measured as fast.
import { Random, keyAt } from '@dbos/benchmarks/workload';
import { peers, type Store, type StoreKind } from '@dbos/benchmarks/adapters/kv-stores';
import { KEY_BYTES, VALUE_BYTES } from './data.js';
import { loadDbos } from './dbos-store.js';
import { OOM_KEY_SEED, type OutOfMemoryReads } from './out-of-memory.js';

const MANY_BATCH = 100;

async function kindNamed(name: string): Promise<StoreKind> {
  const dbos = await loadDbos();
  const kinds = 'missing' in dbos ? peers : [dbos, ...peers];
  const kind = kinds.find((k) => k.name === name);
  if (!kind) throw new Error(`no store named '${name}'`);
  return kind;
}

function check(value: Buffer | undefined, index: number): void {
  if (!value || value.length !== VALUE_BYTES || value.readUInt32LE(0) !== index)
    throw new Error(`key ${index} read back ${value ? `a wrong value (${value.length} bytes)` : 'nothing'}`);
}

/** Keys read for `seconds` after `warmSeconds` of the same: keys/s. */
async function timed(seconds: number, warmSeconds: number, step: () => Promise<number> | number): Promise<number> {
  const warmEnd = performance.now() + warmSeconds * 1000;
  while (performance.now() < warmEnd) await step();
  const start = performance.now();
  const end = start + seconds * 1000;
  let keys = 0;
  while (performance.now() < end) keys += await step();
  return keys / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const [name, dir, countText, budgetText, secondsText] = process.argv.slice(2);
  const count = Number(countText);
  const seconds = Number(secondsText);
  const kind = await kindNamed(name ?? '');
  const store: Store = await kind.open(dir ?? '', { mode: 'fast', cacheBytes: Number(budgetText) });
  const random = new Random(77);
  const key = Buffer.alloc(KEY_BYTES);
  const getOne = store.getSync
    ? () => {
        const index = random.below(count);
        check(store.getSync!(keyAt(index, KEY_BYTES, OOM_KEY_SEED, key)), index);
        return 1;
      }
    : async () => {
        const index = random.below(count);
        check(await store.get!(keyAt(index, KEY_BYTES, OOM_KEY_SEED, key)), index);
        return 1;
      };
  const getMany = async () => {
    const indices = Array.from({ length: MANY_BATCH }, () => random.below(count));
    const values = await store.getMany(indices.map((index) => keyAt(index, KEY_BYTES, OOM_KEY_SEED)));
    for (let i = 0; i < MANY_BATCH; i++) check(values[i], indices[i]!);
    return MANY_BATCH;
  };
  const getOpsPerSecond = await timed(seconds, seconds / 2, getOne);
  const manyKeysPerSecond = await timed(seconds, seconds / 2, getMany);
  await store.close();
  const result: OutOfMemoryReads = { getOpsPerSecond, manyKeysPerSecond, rssBytes: process.memoryUsage.rss() };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
