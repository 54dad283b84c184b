// Files damaged underneath the pool: truncated, corrupted, torn, or a disk that fills up. Each is
// a clear error naming the page, never data and never a crash.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { BufferPool } from '../src/index.js';
import { MiB, expectError, fillPage, pageMismatch, scratch } from './helpers.js';

const dir = scratch('damage');
afterAll(() => dir.remove());
const packageDir = fileURLToPath(new URL('..', import.meta.url));

async function fileWith(name: string, pages: number): Promise<string> {
  const file = dir.file(name);
  const pool = BufferPool.open(file, { create: true, poolBytes: MiB });
  for (let i = 0; i < pages; i++) {
    const page = pool.allocate();
    fillPage(page.data, page.pid);
    page.release();
  }
  await pool.close();
  return file;
}

test('a file truncated underneath an open pool: pages past the end are DBOS_ECORRUPT naming the page', async () => {
  const file = await fileWith('truncated.pages', 64);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  fs.truncateSync(file, 20 * 4096); // pages 20..64 are gone
  const error = expectError(() => pool.fixShared(40), 'DBOS_ECORRUPT', 'DbosError') as Error;
  expect(error.message).toMatch(/40/);
  expect((error.cause as { pid?: unknown }).pid).toBe(40);
  const page = pool.fixShared(10);
  expect(pageMismatch(page.data, 10)).toBe(-1);
  page.release();
  // The async path reports the same error for the same page, and its batch neighbours still load.
  const [bad, good] = await Promise.allSettled([pool.fix(50), pool.fix(11)]);
  expect(bad.status).toBe('rejected');
  expect(((bad as PromiseRejectedResult).reason as { code?: string }).code).toBe('DBOS_ECORRUPT');
  expect(good.status).toBe('fulfilled');
  (good as PromiseFulfilledResult<{ release(): void }>).value.release();
  expect(() => pool.read(60, () => 0)).toThrow(/60/);
  await pool.close().catch(() => undefined);
});

test('a corrupted byte in a page on disk: DBOS_ECORRUPT (checksum), the other pages unharmed', async () => {
  const file = await fileWith('corrupt.pages', 16);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from([0xff ^ 0x5a]), 0, 1, 7 * 4096 + 1000); // inside page 7's payload
  fs.closeSync(fd);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  const error = expectError(() => pool.fixShared(7), 'DBOS_ECORRUPT', 'DbosError') as Error;
  expect(error.message).toMatch(/page 7/);
  expect(error.message).toMatch(/checksum/);
  expectError(() => pool.fixMany([6, 7, 8]), 'DBOS_ECORRUPT', 'DbosError');
  for (const pid of [6, 8]) expect(pool.read(pid, (data) => pageMismatch(data, pid))).toBe(-1);
  await pool.close();
});

test('a page written at another page offset (a misdirected write) is refused by its id', async () => {
  const file = await fileWith('misdirected.pages', 8);
  const page3 = Buffer.alloc(4096);
  const fd = fs.openSync(file, 'r+');
  fs.readSync(fd, page3, 0, 4096, 3 * 4096);
  fs.writeSync(fd, page3, 0, 4096, 5 * 4096); // page 5 now holds page 3's bytes, checksum and all
  fs.closeSync(fd);
  const pool = BufferPool.open(file, { poolBytes: MiB });
  const error = expectError(() => pool.fixShared(5), 'DBOS_ECORRUPT', 'DbosError') as Error;
  expect(error.message).toMatch(/page 5/);
  expect(pool.read(3, (data) => pageMismatch(data, 3))).toBe(-1);
  await pool.close();
});

test('a full disk (file-size limit): a coded error, no crash, and every page flushed before it reads back', () => {
  const file = dir.file('full.pages');
  const child = path.join(packageDir, 'test/children/disk-full.ts');
  // SIGXFSZ ignored: writes past the limit fail with EFBIG instead of killing the process.
  const run = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 1024; exec "${process.execPath}" --import tsx "${child}" "${file}"`], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.signal, run.stderr).toBeNull();
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout.trim().split('\n').pop() as string) as {
    flushedPages: number;
    failure: { code: string; name: string; message: string } | null;
  };
  expect(report.failure, 'the limit was reached').not.toBeNull();
  expect(report.failure?.code).toMatch(/^DBOS_E(NOSPC|IO)$/);
  expect(report.failure?.name).toBe('DbosError');
  expect(report.flushedPages).toBeGreaterThan(0);
  // Without the limit: every page of a completed flush reads back; later ones are data or an error, never wrong data.
  const pool = BufferPool.open(file, { poolBytes: MiB, buffered: true });
  expect(pool.pageCount - 1).toBeGreaterThanOrEqual(report.flushedPages);
  for (let pid = 1; pid < pool.pageCount; pid++) {
    let result: number;
    try {
      result = pool.read(pid, (data) => pageMismatch(data, pid));
    } catch (error) {
      expect(pid, `page ${pid} was flushed`).toBeGreaterThan(report.flushedPages);
      expect((error as { code?: string }).code).toBe('DBOS_ECORRUPT');
      continue;
    }
    expect(result, `page ${pid}`).toBe(-1);
  }
  return pool.close();
});
