// Every error the package throws, along every path: a DbosError, or a TypeError / RangeError for
// misuse, each with a stable DBOS_E… code of the C status enum; errors that started in native
// code keep the native error as `cause`.
import fs from 'node:fs';
import { afterAll, expect, test } from 'vitest';
import { BufferPool, Page } from '../src/index.js';
import { KiB, MiB, expectCoded, expectError, fillPage, patchHeader, rejected, scratch } from './helpers.js';

const dir = scratch('errors');
afterAll(() => dir.remove());

function fromNative(error: unknown): void {
  expect((error as Error).cause, 'the native error is kept as cause').toBeInstanceOf(Error);
}

async function fileWith(name: string, pages: number, pageSize = 4096): Promise<string> {
  const file = dir.file(name);
  const pool = BufferPool.open(file, { create: true, pageSize, poolBytes: MiB });
  for (let i = 0; i < pages; i++) {
    const page = pool.allocate();
    fillPage(page.data, page.pid);
    page.release();
  }
  await pool.close();
  return file;
}

test('open: bad arguments are TypeError / RangeError before any file is touched', () => {
  const file = dir.file('never.pages');
  expectError(() => BufferPool.open(42 as never), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open(''), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open('a\0b'), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open(new URL('https://example.com/x')), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open(file, 'create' as never), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open(file, { pageSize: 4096.5 }), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open(file, { pageSize: Number.NaN }), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open(file, { pageSize: 2048 }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => BufferPool.open(file, { pageSize: 12 * KiB }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => BufferPool.open(file, { pageSize: 128 * KiB }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => BufferPool.open(file, { poolBytes: 7 * 4096 }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => BufferPool.open(file, { poolBytes: -1 }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => BufferPool.open(file, { poolBytes: 1n as never }), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open(file, { evictBatch: 0 }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => BufferPool.open(file, { evictBatch: 5000 }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => BufferPool.open(file, { create: 1 as never }), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open(file, { buffered: 'no' as never }), 'DBOS_EINVAL', 'TypeError');
  expectError(() => BufferPool.open(file, { readOnly: null as never }), 'DBOS_EINVAL', 'TypeError');
  expect(fs.existsSync(file)).toBe(false);
});

test('open: refusals of the file carry the C code and name the check', async () => {
  fromNative(expectError(() => BufferPool.open(dir.file('absent.pages')), 'DBOS_ENOENT', 'DbosError'));
  // A budget of more than 2^32 pages.
  fromNative(expectError(() => BufferPool.open(dir.file('huge.pages'), { create: true, poolBytes: 2 ** 45 }), 'DBOS_EINVAL', 'DbosError'));
  const foreign = dir.file('foreign.pages');
  fs.writeFileSync(foreign, Buffer.alloc(8192, 'x'));
  const notOurs = expectError(() => BufferPool.open(foreign), 'DBOS_EINVAL', 'DbosError');
  fromNative(notOurs);
  expect((notOurs as Error).message).toMatch(/not a buffer-pool file|foreign/);
  const empty = dir.file('empty.pages');
  fs.writeFileSync(empty, '');
  expectError(() => BufferPool.open(empty), 'DBOS_EINVAL', 'DbosError');

  const file = await fileWith('header.pages', 4);
  const mismatch = expectError(() => BufferPool.open(file, { pageSize: 8192 }), 'DBOS_ERANGE', 'RangeError');
  expect((mismatch as Error).message).toMatch(/page size/);
  patchHeader(file, { version: 2 });
  expectError(() => BufferPool.open(file), 'DBOS_ENOTSUP', 'DbosError');
  patchHeader(file, { version: 1 });
  await BufferPool.open(file).close();
  patchHeader(file, { pageCount: 5000n }, true); // a changed header whose checksum no longer matches
  expect((expectError(() => BufferPool.open(file), 'DBOS_ECORRUPT', 'DbosError') as Error).message).toMatch(/checksum/);
});

test('page ids: type, sign, range; native range checks as RangeError', async () => {
  const file = await fileWith('ids.pages', 4);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', null, undefined, {}, [1]]) {
    expectError(() => pool.fixShared(bad as never), 'DBOS_EINVAL', 'TypeError');
  }
  for (const bad of [-1, -1n, 2 ** 53, 2n ** 64n]) expectError(() => pool.fixShared(bad as never), 'DBOS_ERANGE', 'RangeError');
  fromNative(expectError(() => pool.fixShared(0), 'DBOS_ERANGE', 'RangeError')); // the header page
  fromNative(expectError(() => pool.fixExclusive(5), 'DBOS_ERANGE', 'RangeError')); // past the end
  expectError(() => pool.read(99n, () => 0), 'DBOS_ERANGE', 'RangeError');
  expectError(() => pool.free(-3), 'DBOS_ERANGE', 'RangeError');
  expectError(() => pool.free(0), 'DBOS_ERANGE', 'RangeError');
  expectError(() => pool.prefetch([1, 9_000]), 'DBOS_ERANGE', 'RangeError');
  expectError(() => pool.fixMany('1,2' as never), 'DBOS_EINVAL', 'TypeError');
  expectError(() => pool.fixMany([1, 'x'] as never), 'DBOS_EINVAL', 'TypeError');
  expectError(() => pool.fixMany([1, -2]), 'DBOS_ERANGE', 'RangeError');
  expectError(() => pool.fixMany(new Array(2000).fill(1)), 'DBOS_ERANGE', 'RangeError');
  expectError(() => pool.fixMany([1], 'write' as never), 'DBOS_EINVAL', 'TypeError');
  expectCoded(await rejected(pool.fix(1.5)), 'DBOS_EINVAL', 'TypeError');
  expectCoded(await rejected(pool.fix(1, 'both' as never)), 'DBOS_EINVAL', 'TypeError');
  expectCoded(await rejected(pool.fix(77)), 'DBOS_ERANGE', 'RangeError');
  expectCoded(await rejected(pool.fixManyAsync([1, 2, 88])), 'DBOS_ERANGE', 'RangeError');
  expect(pool.stats().fixedPages).toBe(0);
  expect(pool.stats().liveViews).toBe(0);
  await pool.close();
});

test('unfix and pages: misuse, double unfix, use after unfix', async () => {
  const file = await fileWith('unfix.pages', 4);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  const other = BufferPool.open(await fileWith('other.pages', 2), { poolBytes: MiB });
  expectError(() => pool.unfix({} as never), 'DBOS_EINVAL', 'TypeError');
  expectError(() => pool.unfix(null as never), 'DBOS_EINVAL', 'TypeError');
  expectError(() => new (Page as unknown as new () => Page)(), 'DBOS_EINVAL', 'TypeError');
  expectError(() => new (BufferPool as unknown as new () => BufferPool)(), 'DBOS_EINVAL', 'TypeError');
  const foreignPage = other.fixShared(1);
  expectError(() => pool.unfix(foreignPage), 'DBOS_EINVAL', 'DbosError');
  foreignPage.release();
  const shared = pool.fixShared(1);
  expectError(() => pool.unfix(shared, 'dirty' as never), 'DBOS_EINVAL', 'TypeError');
  expectError(() => pool.unfix(shared, { dirty: 1 as never }), 'DBOS_EINVAL', 'TypeError');
  expectError(() => shared.release({ dirty: true }), 'DBOS_EINVAL', 'DbosError');
  expect(shared.fixed).toBe(true);
  shared.release();
  expectError(() => shared.release(), 'DBOS_EINVAL', 'DbosError');
  expectError(() => shared.data, 'DBOS_ECLOSED', 'DbosError');
  expectError(() => Page.prototype.release.call({} as Page), 'DBOS_EINVAL', 'TypeError');
  expectError(() => pool.read(1, 'fn' as never), 'DBOS_EINVAL', 'TypeError');
  expectError(() => pool.read(1, async () => 1), 'DBOS_EINVAL', 'TypeError');
  // An error thrown by a read's function on a stable page is the caller's, passed through.
  expect(() =>
    pool.read(1, () => {
      throw new SyntaxError('mine');
    }),
  ).toThrow(SyntaxError);
  await other.close();
  await pool.close();
});

test('every resident page fixed: DBOS_ELIMIT, never a hang', async () => {
  const file = await fileWith('limit.pages', 20);
  const pool = BufferPool.open(file, { poolBytes: 8 * 4096, evictBatch: 2 });
  const held = Array.from({ length: 8 }, (_, i) => pool.fixShared(i + 1));
  fromNative(expectError(() => pool.fixShared(12), 'DBOS_ELIMIT', 'DbosError'));
  for (const page of held) page.release();
  expectError(() => pool.fixMany([1, 2, 3, 4, 5, 6]), 'DBOS_ELIMIT', 'DbosError'); // more than half the pool
  const page = pool.fixShared(12);
  page.release();
  // A flush would wait for a page this thread holds exclusively: refused instead.
  const writer = pool.fixExclusive(13);
  expectCoded(await rejected(pool.flush()), 'DBOS_EBUSY', 'DbosError');
  writer.release();
  await pool.flush();
  await pool.close();
});

test('read-only pools: writes are DBOS_EPERM; a closed pool: everything is DBOS_ECLOSED', async () => {
  const file = await fileWith('closed.pages', 3);
  const reader = BufferPool.open(file, { readOnly: true, poolBytes: MiB });
  fromNative(expectError(() => reader.fixExclusive(1), 'DBOS_EPERM', 'DbosError'));
  expectError(() => reader.fixMany([1, 2], 'exclusive'), 'DBOS_EPERM', 'DbosError');
  expectCoded(await rejected(reader.fix(1, 'exclusive')), 'DBOS_EPERM', 'DbosError');
  expectError(() => reader.allocate(), 'DBOS_EPERM', 'DbosError');
  expectError(() => reader.free(2), 'DBOS_EPERM', 'DbosError');
  await reader.close();
  // Read-only never creates.
  expectError(() => BufferPool.open(dir.file('ro-absent.pages'), { readOnly: true, create: true }), 'DBOS_ENOENT', 'DbosError');

  const pool = BufferPool.open(file, { poolBytes: MiB });
  await pool.close();
  const calls: [string, () => unknown][] = [
    ['fixShared', () => pool.fixShared(1)],
    ['fixExclusive', () => pool.fixExclusive(1)],
    ['fixMany', () => pool.fixMany([1])],
    ['read', () => pool.read(1, () => 0)],
    ['prefetch', () => pool.prefetch([1])],
    ['allocate', () => pool.allocate()],
    ['free', () => pool.free(1)],
    ['stats', () => pool.stats()],
    ['pageCount', () => pool.pageCount],
    ['mechanism', () => pool.mechanism],
  ];
  for (const [, call] of calls) expectError(call, 'DBOS_ECLOSED', 'DbosError');
  for (const call of [() => pool.fix(1), () => pool.fixManyAsync([1]), () => pool.flush()]) {
    expectCoded(await rejected(call()), 'DBOS_ECLOSED', 'DbosError');
  }
  await pool.close();
});

test('open: a file another pool has open is DBOS_EBUSY (one writer; readers share)', async () => {
  const file = await fileWith('locked.pages', 2);
  const writer = BufferPool.open(file, { poolBytes: MiB });
  const second = expectError(() => BufferPool.open(file, { poolBytes: MiB }), 'DBOS_EBUSY', 'DbosError');
  fromNative(second);
  expect((second as Error).message).toMatch(/another pool has the file open/);
  expectError(() => BufferPool.open(file, { poolBytes: MiB, readOnly: true }), 'DBOS_EBUSY', 'DbosError');
  await writer.close();
  const readers = [BufferPool.open(file, { poolBytes: MiB, readOnly: true }), BufferPool.open(file, { poolBytes: MiB, readOnly: true })];
  expectError(() => BufferPool.open(file, { poolBytes: MiB }), 'DBOS_EBUSY', 'DbosError');
  await Promise.all(readers.map((reader) => reader.close()));
  await BufferPool.open(file, { poolBytes: MiB }).close();
});
