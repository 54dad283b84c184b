// Out-of-memory reads: a data set four times a memory budget, each store read in its own memory
// cgroup of the same size, so that a store reading through the page cache (lmdb's map,
// rocksdb-native's and LevelDB's files) cannot use the machine's free memory as a cache the others
// do not get. Page cache counts against a cgroup.
//
// Per store: load the keys here (fast mode, batches of 1000), close, drop the page cache, then start
// out-of-memory-child.ts inside a cgroup limited to the budget plus an allowance for the Node.js
// process itself; it opens the store with the budget as its cache and measures random gets one at
// a time, then getMany calls of 100 keys. Keys are made on demand from their index (workload.keyAt):
// a data set larger than memory cannot be held as Buffers by the processes that read it.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childOutput } from '@dbos/benchmarks/child';
import { createMemoryCgroup, dropPageCache, memoryCgroupSupport } from '@dbos/benchmarks/cgroup';
import { keyAt } from '@dbos/benchmarks/workload';
import type { Op, StoreKind } from '@dbos/benchmarks/adapters/kv-stores';
import { KEY_BYTES, VALUE_BYTES, makeValue } from './data.js';

const MiB = 2 ** 20;
/** The key set's seed: not the in-memory lines' keys (makeKeys), which are held as Buffers. */
export const OOM_KEY_SEED = 41;
const LOAD_BATCH = 1000;

export interface OutOfMemoryPlan {
  /** The store's cache and, with the allowance, the cgroup's limit. */
  budgetBytes: number;
  /** The Node.js process itself (V8 heap, code, the stores' modules), the same for every store. */
  allowanceBytes: number;
  keyCount: number;
  /** Seconds of each measured read line (each after half as long again of warm-up). */
  seconds: number;
}

export function outOfMemoryPlan(full: boolean): OutOfMemoryPlan {
  const budgetBytes = (full ? 256 : 64) * MiB;
  return {
    budgetBytes,
    allowanceBytes: 96 * MiB,
    keyCount: Math.ceil((4 * budgetBytes) / (KEY_BYTES + VALUE_BYTES)),
    seconds: full ? 6 : 3,
  };
}

/** What the child measured. */
export interface OutOfMemoryReads {
  getOpsPerSecond: number;
  manyKeysPerSecond: number;
  /** The child's resident set at the end (its heap, code and the store's own cache). */
  rssBytes: number;
}

export interface OutOfMemoryResult extends OutOfMemoryReads {
  loadSeconds: number;
  /** The cgroup's peak (page cache included) and how often it hit its limit. */
  peakBytes: number | null;
  limitHits: number | null;
  /** On-disk bytes of the loaded store. */
  storeBytes: number;
}

/** Why the lines cannot be measured here (no cgroup, or the page cache cannot be dropped), or null. */
export function outOfMemoryUnavailable(): string | null {
  const support = memoryCgroupSupport();
  if ('none' in support) return `no memory cgroup: ${support.none}`;
  try {
    fs.accessSync('/proc/sys/vm/drop_caches', fs.constants.W_OK);
  } catch {
    return 'the page cache cannot be dropped (needs root), so every store would start warm';
  }
  return null;
}

function directoryBytes(dir: string): number {
  let bytes = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) bytes += fs.statSync(path.join(entry.parentPath, entry.name)).blocks * 512;
  return bytes;
}

async function load(kind: StoreKind, dir: string, plan: OutOfMemoryPlan): Promise<number> {
  const start = performance.now();
  // Loaded with room to spare (outside the cgroup): how fast a store loads out of memory is not this line.
  const store = await kind.open(dir, { mode: 'fast', cacheBytes: 16 * plan.budgetBytes });
  for (let first = 0; first < plan.keyCount; first += LOAD_BATCH) {
    const ops: Op[] = [];
    for (let i = first; i < Math.min(plan.keyCount, first + LOAD_BATCH); i++)
      ops.push({ type: 'put', key: keyAt(i, KEY_BYTES, OOM_KEY_SEED), value: makeValue(i, 0) });
    await store.write(ops);
  }
  await store.close();
  return (performance.now() - start) / 1000;
}

/** The reader's last line of output, once it has exited. */
async function readerResult(child: ChildProcess): Promise<OutOfMemoryReads> {
  const { stdout, stderr, code, signal } = await childOutput(child);
  if (code !== 0)
    throw new Error(`the out-of-memory reader exited with ${signal ?? code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as OutOfMemoryReads;
}

/** Load `kind` into a fresh directory under `base`, then read it under the budget. */
export async function measureOutOfMemory(kind: StoreKind, base: string, plan: OutOfMemoryPlan): Promise<OutOfMemoryResult> {
  const dir = fs.mkdtempSync(path.join(base, 'oom-'));
  try {
    const loadSeconds = await load(kind, dir, plan);
    const storeBytes = directoryBytes(dir);
    if (!dropPageCache()) throw new Error('cannot drop the page cache (needs root): every store would start warm');
    const group = createMemoryCgroup(`kv-oom-${kind.name.replace(/[^A-Za-z0-9]+/g, '-')}`, plan.budgetBytes + plan.allowanceBytes);
    if ('none' in group) throw new Error(`no memory cgroup: ${group.none}`);
    try {
      const child = group.spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./out-of-memory-child.ts', import.meta.url)),
          kind.name,
          dir,
          String(plan.keyCount),
          String(plan.budgetBytes),
          String(plan.seconds),
        ],
        { cwd: fileURLToPath(new URL('..', import.meta.url)), env: process.env },
      );
      const reads = await readerResult(child);
      return { ...reads, loadSeconds, storeBytes, peakBytes: group.peakBytes(), limitHits: group.limitHits() };
    } finally {
      group.remove();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
