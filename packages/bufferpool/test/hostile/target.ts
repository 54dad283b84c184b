// What the hostile cases share: a scratch page file, a pool over it, and pages kept fixed across
// calls. After every call each kept page's view is read and written end to end, so a call that
// unfixed, evicted or unmapped a page a live handle still shows crashes the child there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { hostileBigInt, hostileNumber, hostileValue } from '@dbos/hostile';
import { BufferPool, type Page } from '../../src/index.js';

export const PAGES = 48;

export interface Target {
  dir: string;
  file: string;
  pool: BufferPool;
  kept: Page[];
}

export async function setup(): Promise<Target> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-bp-hostile-'));
  const file = path.join(dir, 'pages');
  const writer = BufferPool.open(file, { create: true, poolBytes: 2 ** 20 });
  for (let i = 0; i < PAGES; i++) {
    const page = writer.allocate();
    page.data.fill(page.pid & 0xff);
    page.release();
  }
  await writer.close();
  const pool = BufferPool.open(file, { poolBytes: 64 * 4096 });
  return { dir, file, pool, kept: [pool.fixShared(1), pool.fixExclusive(2)] };
}

export async function teardown(target: Target): Promise<void> {
  await target.pool.close().catch((error: unknown) => {
    if ((error as { code?: unknown }).code !== 'DBOS_ECLOSED') throw error;
  });
  touchKept(target);
  fs.rmSync(target.dir, { recursive: true, force: true });
}

/** Read and write every kept page's view: first byte, last byte, and every 512 bytes between. */
export function touchKept(target: Target): void {
  target.kept = target.kept.filter((page) => page.fixed);
  for (const page of target.kept) {
    const data = page.data;
    for (let at = 0; at < data.length; at += 512) data[at] = (data[at] ?? 0) ^ 0;
    if (data.length > 0) data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0;
  }
}

/** Page ids: valid ones, the edges (0, the page count), and hostile numbers and bigints. */
export const pid = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: PAGES }), weight: 5 },
  { arbitrary: fc.constantFrom<unknown>(0, PAGES + 1, PAGES + 2, 1n, BigInt(PAGES), 2 ** 40), weight: 2 },
  { arbitrary: hostileNumber(), weight: 1 },
  { arbitrary: hostileBigInt(), weight: 1 },
  { arbitrary: hostileValue(), weight: 1 },
);

export const pidList = fc.oneof(
  { arbitrary: fc.array(pid, { maxLength: 12 }), weight: 4 },
  { arbitrary: fc.array(fc.integer({ min: 1, max: PAGES }), { maxLength: 40 }).map((ids) => Float64Array.from(ids)), weight: 1 },
  { arbitrary: fc.array(fc.integer({ min: 1, max: PAGES }), { maxLength: 40 }).map((ids) => Uint32Array.from(ids)), weight: 1 },
  {
    arbitrary: fc.constantFrom<unknown>(
      new Array(1025).fill(1),
      [],
      new Array(5),
      Array.from({ length: 40 }, (_, i) => i + 1),
    ),
    weight: 1,
  },
  { arbitrary: hostileValue(), weight: 1 },
);

export const mode = fc.oneof(
  { arbitrary: fc.constantFrom<unknown>('shared', 'exclusive', undefined), weight: 4 },
  { arbitrary: hostileValue(), weight: 1 },
);
