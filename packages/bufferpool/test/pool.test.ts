// The buffer pool from TypeScript: files made, written, closed and read back; pages larger than
// the pool; batches; optimistic reads; views that die with their fix.
import { afterAll, expect, test } from 'vitest';
import { BufferPool, type Page } from '../src/index.js';
import { MiB, expectCoded, expectError, fillPage, pageMismatch, rejected, scratch } from './helpers.js';

const dir = scratch('pool');
afterAll(() => dir.remove());

/** A new file with `count` data pages (ids 1..count), each filled with its pattern. */
async function populate(file: string, count: number, poolBytes = 4 * MiB): Promise<void> {
  const pool = BufferPool.open(file, { create: true, poolBytes });
  for (let i = 0; i < count; i++) {
    const page = pool.allocate();
    expect(page.pid).toBe(i + 1);
    fillPage(page.data, page.pid);
    page.release();
  }
  await pool.close();
}

test('a new file has only its header page; reopening keeps the page size and the pages', async () => {
  const file = dir.file('new.pages');
  const pool = BufferPool.open(file, { create: true, pageSize: 8192, poolBytes: MiB });
  expect(pool.pageSize).toBe(8192);
  expect(pool.payloadSize).toBe(8192 - 32);
  expect(pool.pageCount).toBe(1);
  const page = pool.allocate();
  expect(page.pid).toBe(1);
  expect(page.mode).toBe('exclusive');
  expect(page.data.length).toBe(pool.payloadSize);
  expect(page.data.every((byte) => byte === 0)).toBe(true);
  fillPage(page.data, 1);
  pool.unfix(page, { dirty: true });
  expect(pool.pageCount).toBe(2);
  await pool.close();
  expect(pool.closed).toBe(true);

  const again = BufferPool.open(file, { pageSize: 8192, poolBytes: MiB });
  expect(again.pageCount).toBe(2);
  const back = again.fixShared(1);
  expect(pageMismatch(back.data, 1)).toBe(-1);
  back.release();
  await again.close();
  expectError(() => BufferPool.open(file, { pageSize: 4096 }), 'DBOS_ERANGE', 'RangeError');
});

test('pages written through exclusive fixes survive flush, close and reopen', async () => {
  const file = dir.file('rewrite.pages');
  await populate(file, 64);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  for (let pid = 1; pid <= 64; pid += 3) {
    const page = pool.fixExclusive(pid);
    expect(pageMismatch(page.data, pid)).toBe(-1);
    fillPage(page.data, pid, 1);
    page.release({ dirty: true });
  }
  await pool.flush();
  expect(pool.stats().dirtyPages).toBe(0);
  await pool.close();
  const again = BufferPool.open(file, { poolBytes: MiB });
  for (let pid = 1; pid <= 64; pid++) {
    const page = again.fixShared(pid);
    expect(pageMismatch(page.data, pid, pid % 3 === 1 ? 1 : 0), `page ${pid}`).toBe(-1);
    again.unfix(page);
  }
  await again.close();
});

test('a file four times the pool: every page is verified from JavaScript, memory stays within the budget', async () => {
  const file = dir.file('large.pages');
  const poolBytes = MiB; // 256 pages of 4 KiB
  const count = 1024;
  const writer = BufferPool.open(file, { create: true, poolBytes });
  for (let i = 0; i < count; i++) {
    const page = writer.allocate();
    fillPage(page.data, page.pid, 2);
    page.release();
    expect(writer.stats().residentBytes).toBeLessThanOrEqual(poolBytes);
  }
  expect(writer.stats().evictions).toBeGreaterThan(0);
  expect(writer.stats().pagesWritten).toBeGreaterThan(0);
  await writer.close();

  const reader = BufferPool.open(file, { poolBytes });
  expect(reader.pageCount).toBe(count + 1);
  // Two passes in different orders: the second finds most pages evicted again.
  const order = Array.from({ length: count }, (_, i) => i + 1);
  for (const pass of [order, [...order].reverse()]) {
    for (const pid of pass) {
      const page = reader.fixShared(pid);
      const at = pageMismatch(page.data, pid, 2);
      if (at !== -1) throw new Error(`page ${pid} differs at byte ${at}`);
      page.release();
    }
    const stats = reader.stats();
    expect(stats.residentBytes).toBeLessThanOrEqual(poolBytes);
    expect(stats.residentPages).toBeLessThanOrEqual(stats.budgetPages);
  }
  const stats = reader.stats();
  expect(stats.misses).toBeGreaterThanOrEqual(count + count - stats.budgetPages);
  expect(stats.evictions).toBeGreaterThan(0);
  await reader.close();
});

test('fixMany fixes a batch in one call; all or nothing', async () => {
  const file = dir.file('many.pages');
  await populate(file, 200);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  const pids = Array.from({ length: 32 }, (_, i) => 1 + ((i * 37) % 200));
  const before = pool.stats().misses;
  const pages = pool.fixMany(pids);
  expect(pool.stats().misses - before).toBe(32);
  pages.forEach((page, i) => {
    expect(page.pid).toBe(pids[i]);
    expect(pageMismatch(page.data, page.pid)).toBe(-1);
  });
  for (const page of pages) page.release();
  expect(pool.stats().fixedPages).toBe(0);
  // One bad id fails the batch, and no page of it stays fixed.
  expectError(() => pool.fixMany([1, 2, 500]), 'DBOS_ERANGE', 'RangeError');
  expect(pool.stats().liveViews).toBe(0);
  const exclusive = pool.fixMany([3n, 4n], 'exclusive');
  expect(exclusive.map((page) => page.mode)).toEqual(['exclusive', 'exclusive']);
  for (const page of exclusive) page.release({ dirty: false });
  expectError(() => pool.fixMany([5, 5], 'exclusive'), 'DBOS_EBUSY', 'DbosError');
  await pool.close();
});

test('async fixes asked for in one tick go to the device as one batch', async () => {
  const file = dir.file('async.pages');
  await populate(file, 300);
  const pool = BufferPool.open(file, { poolBytes: 2 * MiB }); // 512 pages: batches of up to 128
  const pids = Array.from({ length: 48 }, (_, i) => 1 + ((i * 53) % 300));
  const before = pool.stats();
  const pages = await Promise.all(pids.map((pid) => pool.fix(pid)));
  const after = pool.stats();
  expect(after.asyncBatches - before.asyncBatches).toBe(1);
  expect(after.asyncBatchPagesMax).toBe(48);
  expect(after.misses - before.misses).toBe(48);
  for (const page of pages) {
    expect(pageMismatch(page.data, page.pid)).toBe(-1);
    page.release();
  }
  // fixManyAsync: the same, as one call; exclusive fixes write.
  const written = await pool.fixManyAsync([10, 11, 12], 'exclusive');
  for (const page of written) {
    fillPage(page.data, page.pid, 5);
    page.release();
  }
  // An async fix that conflicts with a held one waits for its unfix instead of failing.
  const held = pool.fixExclusive(10);
  const waiting = pool.fix(10);
  let settled = false;
  void waiting.then(() => {
    settled = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(settled).toBe(false);
  held.release({ dirty: false });
  const got = await waiting;
  expect(pageMismatch(got.data, 10, 5)).toBe(-1);
  got.release();
  // An error reaches the request that caused it, not its batch neighbours.
  const mixed = await Promise.allSettled([pool.fix(1), pool.fix(100_000), pool.fix(2)]);
  expect(mixed.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expectCoded((mixed[1] as PromiseRejectedResult).reason, 'DBOS_ERANGE', 'RangeError');
  for (const outcome of mixed) if (outcome.status === 'fulfilled') outcome.value.release();
  await pool.close();
});

test('optimistic reads validate, and start again when the page changed under them', async () => {
  const file = dir.file('optimistic.pages');
  await populate(file, 16);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  expect(pool.read(5, (data, pid) => [pid, pageMismatch(data, 5)])).toEqual([5, -1]);
  let calls = 0;
  const restartsBefore = pool.stats().optimisticRestarts;
  const seen = pool.read(6, (data) => {
    calls++;
    const first = data[100];
    if (calls === 1) {
      // A writer changes the page during the first attempt: that attempt must not count.
      const page = pool.fixExclusive(6);
      fillPage(page.data, 6, 7);
      page.release();
    }
    return first;
  });
  expect(calls).toBe(2);
  expect(pool.stats().optimisticRestarts).toBeGreaterThan(restartsBefore);
  const check = pool.fixShared(6);
  expect(seen).toBe(check.data[100]);
  expect(pageMismatch(check.data, 6, 7)).toBe(-1);
  // A page that changes under every attempt: after 8 the read runs under a shared fix, where it must see a stable page.
  let attempts = 0;
  const restarts = pool.stats().optimisticRestarts;
  const stable = pool.read(9, (data) => {
    attempts++;
    if (attempts <= 8) {
      const page = pool.fixExclusive(9);
      fillPage(page.data, 9, attempts);
      page.release();
    }
    return pageMismatch(data, 9, 8);
  });
  expect(attempts).toBe(9);
  expect(stable).toBe(-1);
  expect(pool.stats().optimisticRestarts - restarts).toBe(8);
  // The view dies with the read.
  let kept: Uint8Array | undefined;
  pool.read(7, (data) => {
    kept = data;
  });
  expect(kept?.length).toBe(0);
  // Reading a page this thread holds exclusively would never validate: refused.
  const writer = pool.fixExclusive(8);
  expectError(() => pool.read(8, () => 0), 'DBOS_EBUSY', 'DbosError');
  writer.release({ dirty: false });
  // Reading a page this thread holds shared is fine.
  expect(pool.read(6, (data) => data[100])).toBe(seen);
  check.release();
  await pool.close();
});

test('views are detached by unfix and close; a second unfix is DBOS_EINVAL', async () => {
  const file = dir.file('views.pages');
  await populate(file, 8);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  const page = pool.fixShared(1);
  const data = page.data;
  const words = new Uint32Array(data.buffer, data.byteOffset, 4);
  page.release();
  expect(page.fixed).toBe(false);
  expect(data.length).toBe(0);
  expect(words.length).toBe(0);
  expect(data[0]).toBeUndefined();
  expectError(() => page.data, 'DBOS_ECLOSED', 'DbosError');
  expectError(() => page.release(), 'DBOS_EINVAL', 'DbosError');
  expectError(() => pool.unfix(page), 'DBOS_EINVAL', 'DbosError');

  const held: Page[] = [pool.fixShared(2), pool.fixExclusive(3)];
  const views = held.map((p) => p.data);
  fillPage(views[1] as Uint8Array, 3, 9);
  await pool.close();
  expect(views.map((view) => view.length)).toEqual([0, 0]);
  expect(held.every((p) => !p.fixed)).toBe(true);
  expectError(() => held[0]?.release(), 'DBOS_ECLOSED', 'DbosError');
  expectError(() => pool.fixShared(1), 'DBOS_ECLOSED', 'DbosError');
  await pool.close(); // idempotent
  // close() wrote the exclusive page it released.
  const again = BufferPool.open(file, { poolBytes: MiB });
  expect(again.read(3, (d) => pageMismatch(d, 3, 9))).toBe(-1);
  await again.close();
});

test('fixes on one thread that would wait for themselves are refused, not hung', async () => {
  const file = dir.file('busy.pages');
  await populate(file, 4);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  const shared = pool.fixShared(1);
  const alsoShared = pool.fixShared(1);
  expectError(() => pool.fixExclusive(1), 'DBOS_EBUSY', 'DbosError');
  shared.release();
  alsoShared.release();
  const exclusive = pool.fixExclusive(2);
  expectError(() => pool.fixShared(2), 'DBOS_EBUSY', 'DbosError');
  expectError(() => pool.fixExclusive(2), 'DBOS_EBUSY', 'DbosError');
  expectError(() => pool.free(2), 'DBOS_EBUSY', 'DbosError');
  exclusive.release({ dirty: false });
  await pool.close();
});

test('freed pages are reused by allocate, also after reopening', async () => {
  const file = dir.file('free.pages');
  await populate(file, 10);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  pool.free(4);
  pool.free(7n);
  expectError(() => pool.free(4), 'DBOS_EINVAL', 'DbosError');
  expect(pool.stats().freePages).toBe(2);
  const reused = pool.allocate();
  expect([4, 7]).toContain(reused.pid);
  expect(reused.data.every((byte) => byte === 0)).toBe(true);
  reused.release();
  await pool.close();
  const again = BufferPool.open(file, { poolBytes: MiB });
  expect(again.stats().freePages).toBe(1);
  const next = again.allocate();
  expect([4, 7]).toContain(next.pid);
  expect(next.pid).not.toBe(reused.pid);
  next.release();
  expect(again.pageCount).toBe(11);
  await again.close();
});

test('read-only pools refuse writes; prefetch warms pages without fixing them', async () => {
  const file = dir.file('readonly.pages');
  await populate(file, 40);
  const pool = BufferPool.open(file, { readOnly: true, poolBytes: MiB });
  expectError(() => pool.fixExclusive(1), 'DBOS_EPERM', 'DbosError');
  expectError(() => pool.allocate(), 'DBOS_EPERM', 'DbosError');
  expectError(() => pool.free(1), 'DBOS_EPERM', 'DbosError');
  const before = pool.stats();
  pool.prefetch([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(pool.stats().fixedPages).toBe(0);
  const pages = pool.fixMany([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(pool.stats().misses - before.misses).toBe(8); // the fixes waited for the prefetch's reads
  for (const page of pages) {
    expect(pageMismatch(page.data, page.pid)).toBe(-1);
    page.release();
  }
  await pool.close();
});

test('close() rejects fixes still pending and releases the pages it finds fixed', async () => {
  const file = dir.file('closing.pages');
  await populate(file, 20);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  const pending = [pool.fix(1), pool.fix(2, 'exclusive')];
  const closing = pool.close();
  for (const fix of pending) expectCoded(await rejected(fix), 'DBOS_ECLOSED', 'DbosError');
  await closing;
  expect(pool.closed).toBe(true);
  expectCoded(await rejected(pool.fix(3)), 'DBOS_ECLOSED', 'DbosError');
  expectCoded(await rejected(pool.flush()), 'DBOS_ECLOSED', 'DbosError');
});

test('the mechanism line names what the pool runs on', async () => {
  const { probe } = await import('@dbos/platform');
  const file = dir.file('mechanism.pages');
  const pool = BufferPool.open(file, { create: true, poolBytes: MiB });
  expect(pool.mechanism.length).toBeGreaterThan(10);
  expect(probe({ refresh: true }).mechanisms.bufferpool?.host).toBe(pool.mechanism);
  await pool.close();
  const line = probe({ refresh: true }).mechanisms.bufferpool;
  expect(line?.loaded).toBe(true);
  expect(line?.host).toMatch(/page file in/);
});

test('worker-thread batch loads and JavaScript-thread writes at the same time, in a pool smaller than the file', async () => {
  const file = dir.file('concurrent.pages');
  await populate(file, 400);
  const pool = BufferPool.open(file, { poolBytes: 512 * 1024, evictBatch: 16 }); // 128 pages
  for (let round = 1; round <= 3; round++) {
    // Reads of pages 201..400 go to worker threads in batches while this thread rewrites 1..200.
    const reads = Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const page = await pool.fix(201 + i);
        const at = pageMismatch(page.data, page.pid);
        page.release();
        return at;
      }),
    );
    for (let pid = 1; pid <= 200; pid++) {
      const page = pool.fixExclusive(pid);
      fillPage(page.data, pid, round);
      page.release();
    }
    expect((await reads).every((at) => at === -1)).toBe(true);
    expect(pool.stats().residentBytes).toBeLessThanOrEqual(512 * 1024);
  }
  await pool.close();
  const again = BufferPool.open(file, { poolBytes: MiB });
  for (let pid = 1; pid <= 400; pid++)
    expect(
      again.read(pid, (data) => pageMismatch(data, pid, pid <= 200 ? 3 : 0)),
      `page ${pid}`,
    ).toBe(-1);
  await again.close();
});
