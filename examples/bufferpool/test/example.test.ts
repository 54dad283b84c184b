// The example must do what it prints: every key found with its value (point and batched lookups,
// a full scan), a range scan exact and in order, the tree intact after reopen, and a file much
// larger than the pool, so that the pool really missed and evicted.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BufferPool } from '@dbos/bufferpool';
import { expect, test } from 'vitest';
import { BTree } from '../src/btree.js';
import { keyOf, runExample, valueFor } from '../src/example.js';

test('the index outgrows the pool, and every key comes back by lookup, batch, scan and after reopen', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-btree-test-'));
  try {
    const lines: string[] = [];
    const result = await runExample({ dir, log: (line) => lines.push(line) });
    const keys = result.inserted;
    expect(keys).toBe(20_000);

    // Larger than memory: the file is several times the budget, the pool stayed within it and
    // had to miss and evict, both while building and while reading the reopened file.
    expect(result.fileBytes).toBeGreaterThanOrEqual(4 * result.poolBytes);
    expect(result.build.residentPages).toBeLessThanOrEqual(result.build.budgetPages);
    expect(result.build.evictions).toBeGreaterThan(result.build.budgetPages);
    expect(result.build.pagesWritten).toBeGreaterThan(0);
    expect(result.read.misses).toBeGreaterThan(result.fileBytes / 4096);
    expect(result.read.evictions).toBeGreaterThan(0);
    expect(result.height).toBeGreaterThanOrEqual(2);

    expect(result.range).toEqual({ count: 1000, expected: 1000, matches: true });
    expect(result.reopened.size).toBe(keys);
    expect(result.reopened.height).toBe(result.height);
    expect(result.lookups).toMatchObject({ found: keys, wrong: 0, absentFound: 0 });
    expect(result.read.optimisticReads).toBeGreaterThanOrEqual(keys * result.height);
    expect(result.batched).toMatchObject({ found: keys, wrong: 0 });
    // Lookups were merged: fewer native batches than page fixes (one per key and level).
    expect(result.batched.nativeBatches).toBeGreaterThan(0);
    expect(result.batched.nativeBatches).toBeLessThan(keys);
    expect(result.read.asyncBatchPagesMax).toBeGreaterThan(1);
    expect(result.scan).toEqual({ count: keys, ordered: true, matches: true });
    expect(lines).toContain(`reopened: ${keys} keys, root page ${result.reopened.root}, height ${result.height}`);

    // The file opened again here, by a pool of its own: the header page leads to the same tree.
    const pool = BufferPool.open(path.join(dir, 'index.pages'), { poolBytes: result.poolBytes });
    try {
      const tree = BTree.open(pool);
      expect(tree.info).toEqual(result.reopened);
      for (const i of [0, 1, 777, keys - 1]) expect(tree.get(keyOf(i))).toEqual(valueFor(keyOf(i)));
      expect(tree.get(keyOf(keys))).toBeUndefined();
      const sorted = Array.from({ length: keys }, (_, i) => keyOf(i)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const tail = [...tree.range(sorted[keys - 10]!, 1n << 64n)].map(([key]) => key);
      expect(tail).toEqual(sorted.slice(keys - 10));
      // A replaced value is not a new key.
      expect(tree.put(keyOf(5), valueFor(keyOf(6)))).toBe(false);
      expect(tree.get(keyOf(5))).toEqual(valueFor(keyOf(6)));
      expect(tree.info.size).toBe(keys);
    } finally {
      await pool.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('pnpm start runs src/main.ts through tsx and ends with its verdict', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--keys', '3000'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toMatch(/^inserted 3000 keys in [\d.]+ s/m);
  expect(output).toContain('point lookups: 3000/3000 found (0 wrong values, 0/100 absent keys found)');
  expect(output).toMatch(/full scan: 3000 entries, ascending: yes, equal to the inserted keys and values: yes/);
  expect(output.trimEnd().endsWith('bufferpool example finished')).toBe(true);
});
