// The example's program: build a B+tree in a file several times larger than the buffer pool, check
// a range scan, close, reopen, and read every key back three ways (optimistic point lookups,
// batched async lookups, a full ordered scan). Returns what it measured; `log` gets the report.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BufferPool, type BufferPoolStats } from '@dbos/bufferpool';
import { BTree, VALUE_BYTES } from './btree.js';

export interface ExampleOptions {
  /** Where the page file goes (default: a temporary directory, removed afterwards). */
  dir?: string;
  /** Keys to insert (default 20 000: a file about 8 times the pool). */
  keys?: number;
  /** The pool's memory budget (default 256 KiB: 64 pages of 4 KiB). */
  poolBytes?: number;
  /** Lookups per batch of async fixes (default 32). */
  batch?: number;
  log?: (line: string) => void;
}

export interface ExampleResult {
  inserted: number;
  fileBytes: number;
  poolBytes: number;
  height: number;
  build: BufferPoolStats;
  range: { count: number; expected: number; matches: boolean };
  reopened: { size: number; height: number; root: number };
  lookups: { found: number; wrong: number; absentFound: number; perSecond: number };
  batched: { found: number; wrong: number; perSecond: number; nativeBatches: number };
  scan: { count: number; ordered: boolean; matches: boolean };
  read: BufferPoolStats;
}

const MASK = (1n << 64n) - 1n;
const END = 1n << 64n; // past every u64 key: range(from, END) runs to the last key

/** The i-th key: a bijection of i over 64 bits (splitmix64's finalizer), so keys are distinct and arrive in random order. */
export function keyOf(i: number): bigint {
  let z = (BigInt(i + 1) * 0x9e3779b97f4a7c15n) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

const encoder = new TextEncoder();

/** The value stored under `key`: its text, zero-padded to VALUE_BYTES. */
export function valueFor(key: bigint): Uint8Array {
  const value = new Uint8Array(VALUE_BYTES);
  encoder.encodeInto(`value of ${key.toString(16).padStart(16, '0')}`, value);
  return value;
}

const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && a.length === b.length && a.every((byte, i) => byte === b[i]);
const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;
const statsLine = (s: BufferPoolStats) =>
  `hits ${s.hits}, misses ${s.misses}, evictions ${s.evictions}, pages written ${s.pagesWritten}, resident ${s.residentPages} of ${s.budgetPages} pages`;

export async function runExample(options: ExampleOptions = {}): Promise<ExampleResult> {
  const keys = options.keys ?? 20_000;
  const poolBytes = options.poolBytes ?? 256 * 1024;
  const batch = options.batch ?? 32;
  const log = options.log ?? (() => {});
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-btree-'));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'index.pages');
  fs.rmSync(file, { force: true }); // a file from an earlier run is replaced
  const sorted = Array.from({ length: keys }, (_, i) => keyOf(i)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  try {
    // 1. Build: keys arrive in random order, so most inserts touch a leaf the pool has evicted.
    let pool = BufferPool.open(file, { create: true, poolBytes });
    log(`pool: ${pool.mechanism}`);
    let tree = BTree.open(pool);
    let started = performance.now();
    for (let i = 0; i < keys; i++) tree.put(keyOf(i), valueFor(keyOf(i)));
    const seconds = (performance.now() - started) / 1000;
    const height = tree.info.height;
    log(
      `inserted ${keys} keys in ${seconds.toFixed(2)} s (${Math.round(keys / seconds)}/s): height ${height}, ${tree.layout.leafCapacity} entries per leaf`,
    );

    // A range scan over the leaves' sibling links must return exactly the sorted keys in [from, to).
    const first = Math.floor(keys / 3);
    const expected = sorted.slice(first, first + Math.min(1000, keys - first));
    const to = first + expected.length < keys ? sorted[first + expected.length]! : END;
    const scanned = [...tree.range(sorted[first]!, to)];
    const range = {
      count: scanned.length,
      expected: expected.length,
      matches: scanned.length === expected.length && scanned.every(([key, value], i) => key === expected[i] && same(value, valueFor(key))),
    };
    log(`range scan: ${range.count} entries (expected ${range.expected}), in order with their values: ${range.matches ? 'yes' : 'NO'}`);
    await pool.flush();
    const fileBytes = fs.statSync(file).size;
    const build = pool.stats();
    log(
      `file ${kib(fileBytes)} (${build.pageCount} pages) over a pool of ${kib(poolBytes)}: ${(fileBytes / poolBytes).toFixed(1)}x the memory`,
    );
    log(`  build pool: ${statsLine(build)}`);
    await pool.close();

    // 2. Reopen: the header page gives the root, so the tree is there as it was.
    pool = BufferPool.open(file, { poolBytes });
    tree = BTree.open(pool);
    const reopened = tree.info;
    log(`reopened: ${reopened.size} keys, root page ${reopened.root}, height ${reopened.height}`);

    // 3. Point lookups: optimistic reads, one key at a time, in random order.
    started = performance.now();
    let found = 0;
    let wrong = 0;
    for (let i = 0; i < keys; i++) {
      const value = tree.get(keyOf(i));
      if (value === undefined) continue;
      found++;
      if (!same(value, valueFor(keyOf(i)))) wrong++;
    }
    let perSecond = Math.round(keys / ((performance.now() - started) / 1000));
    let absentFound = 0;
    for (let i = keys; i < keys + 100; i++) if (tree.get(keyOf(i)) !== undefined) absentFound++;
    const lookups = { found, wrong, absentFound, perSecond };
    let s = pool.stats();
    log(
      `point lookups: ${found}/${keys} found (${wrong} wrong values, ${absentFound}/100 absent keys found), ${perSecond}/s; optimistic reads ${s.optimisticReads}, restarts ${s.optimisticRestarts}`,
    );

    // 4. The same keys in batches: each level's pages are fixed together, their misses read in one go.
    const before = s;
    started = performance.now();
    found = 0;
    wrong = 0;
    for (let i = 0; i < keys; i += batch) {
      const group = Array.from({ length: Math.min(batch, keys - i) }, (_, j) => keyOf(i + j));
      const values = await tree.getMany(group);
      values.forEach((value, j) => {
        if (value === undefined) return;
        found++;
        if (!same(value, valueFor(group[j]!))) wrong++;
      });
    }
    perSecond = Math.round(keys / ((performance.now() - started) / 1000));
    s = pool.stats();
    const batched = { found, wrong, perSecond, nativeBatches: s.asyncBatches - before.asyncBatches };
    log(
      `batched lookups (${batch} per batch): ${found}/${keys} found (${wrong} wrong values), ${perSecond}/s; ${batched.nativeBatches} native batches of up to ${s.asyncBatchPagesMax} pages, ${s.misses - before.misses} misses`,
    );

    // 5. Every entry, in order, through the leaf chain.
    let count = 0;
    let ordered = true;
    let matches = true;
    let previous = -1n;
    for (const [key, value] of tree.range(0n, END)) {
      if (key <= previous) ordered = false;
      if (key !== sorted[count] || !same(value, valueFor(key))) matches = false;
      previous = key;
      count++;
    }
    const scan = { count, ordered, matches: matches && count === keys };
    log(
      `full scan: ${count} entries, ascending: ${ordered ? 'yes' : 'NO'}, equal to the inserted keys and values: ${scan.matches ? 'yes' : 'NO'}`,
    );
    const read = pool.stats();
    log(`  read pool: ${statsLine(read)}`);
    await pool.close();
    return { inserted: keys, fileBytes, poolBytes, height, build, range, reopened, lookups, batched, scan, read };
  } finally {
    if (options.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
}
