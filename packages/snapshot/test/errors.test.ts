// Every way the package fails, walked once: each error is a DbosError, or a TypeError / RangeError
// for misuse, and carries a stable code (DBOS_E… or the errno name) — never a plain Error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DbosError, probe } from '@dbos/platform';
import { createSpace, crc32c, imageSize, mechanisms, verifyImage } from '../src/index.js';
import type { SnapshotMechanism, SnapshotSpace } from '../src/index.js';

const PAGE = 4096;
type ErrorClass = typeof DbosError | typeof TypeError | typeof RangeError;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-snapshot-errors-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The error `run` throws or rejects with, checked for class and code. */
async function expectFailure(run: () => unknown, kind: ErrorClass, code: string): Promise<Error> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${kind.name} ${code}`).toBeInstanceOf(kind);
  const error = caught as Error & { code?: unknown };
  expect(error.constructor, `${error.message}: a plain Error`).not.toBe(Error);
  expect(error.code, error.message).toBe(code);
  expect(error.code).toMatch(/^(DBOS_E[A-Z]+|E[A-Z0-9]+)$/);
  return error;
}

test('createSpace and mechanisms(): misuse is TypeError/RangeError, the guest runtime DbosError', async () => {
  await expectFailure(() => createSpace(null as never), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => createSpace({ size: 4096.5 }), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => createSpace({ size: 1000 }), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => createSpace({ size: 2 ** 43 }), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => createSpace({ size: PAGE, mechanism: 'toString' as SnapshotMechanism }), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => createSpace({ size: PAGE, writes: 'sometimes' as never }), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => createSpace({ size: PAGE, mechanism: 'epoch', writes: 'raw' }), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => createSpace({ size: PAGE, copyReserve: 100 }), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => createSpace({ size: PAGE, runtime: 'guest' }), DbosError, 'DBOS_ENOTSUP');
  await expectFailure(() => createSpace({ size: PAGE, runtime: 'kvm' as never }), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => mechanisms({ runtime: 'kvm' as never }), TypeError, 'DBOS_EINVAL');
  const uffd = mechanisms().find((m) => m.mechanism === 'uffd-wp')!;
  if (!uffd.available)
    await expectFailure(() => createSpace({ size: PAGE, writes: 'raw', mechanism: 'uffd-wp' }), DbosError, 'DBOS_ENOTSUP');
});

test('a space: its native errors arrive converted (take at the limit, the barrier, closed handles)', async () => {
  const space = createSpace({ size: 16 * PAGE });
  const snapshots = Array.from({ length: 16 }, () => space.snapshot());
  const limit = await expectFailure(() => space.snapshot(), DbosError, 'DBOS_ELIMIT'); // from dbos_snap_take
  expect((limit as Error & { cause?: unknown }).cause).toBeInstanceOf(Error);
  for (const snapshot of snapshots) snapshot.release();
  await expectFailure(() => space.write(16 * PAGE, Uint8Array.of(1)), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => space.write(-1, Uint8Array.of(1)), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => space.write(0, [1] as never), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => space.beginWrite(16), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => space.endWrite(), DbosError, 'DBOS_EINVAL'); // from the binding
  space.beginWrite(1);
  await expectFailure(() => space.beginWrite(2), DbosError, 'DBOS_EBUSY'); // from the binding
  await expectFailure(() => space.snapshot(), DbosError, 'DBOS_EBUSY');
  await expectFailure(() => space.write(0, Uint8Array.of(1)), DbosError, 'DBOS_EBUSY');
  space.endWrite();
  await expectFailure(() => space.load(42 as never), TypeError, 'DBOS_EINVAL');
  space.close();
  await expectFailure(() => space.snapshot(), DbosError, 'DBOS_ECLOSED');
  await expectFailure(() => space.memory, DbosError, 'DBOS_ECLOSED');
  await expectFailure(() => space.nativeHandle(), DbosError, 'DBOS_ECLOSED');
  await expectFailure(() => space.stats(), DbosError, 'DBOS_ECLOSED');

  const raw = createSpace({ size: 16 * PAGE, writes: 'raw', mechanism: 'fork' });
  await expectFailure(() => raw.beginWrite(0), DbosError, 'DBOS_ENOTSUP'); // no barrier for raw spaces
  const snapshot = raw.snapshot();
  const p = probe();
  if (!(p.userfaultfd.features.wpAsync && p.pagemapScan.available))
    await expectFailure(() => snapshot.dirtySince(), DbosError, 'DBOS_ENOTSUP');
  raw.close();
});

test('a snapshot: reads, iteration and release', async () => {
  const space = createSpace({ size: 16 * PAGE });
  const snapshot = space.snapshot();
  await expectFailure(() => snapshot.readPage(16), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => snapshot.readPage(0, new Uint8Array(100)), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => snapshot.read(15 * PAGE, 2 * PAGE), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => snapshot.read(0, 8, new Uint8Array(4)), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => [...snapshot.pages({ batch: 1.5 })], TypeError, 'DBOS_EINVAL');
  await expectFailure(() => snapshot.writeTo({} as never), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => snapshot.writeTo(-1), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => snapshot.writeTo(path.join(dir, 'x.img'), { onProgress: 1 as never }), TypeError, 'DBOS_EINVAL');
  snapshot.release();
  await expectFailure(() => snapshot.readPage(0), DbosError, 'DBOS_ECLOSED');
  await expectFailure(() => snapshot.copies, DbosError, 'DBOS_ECLOSED'); // from dbos_snap_info_get
  await expectFailure(() => snapshot.dirtySince(), DbosError, 'DBOS_ECLOSED');
  await expectFailure(() => snapshot.writeTo(path.join(dir, 'x.img')), DbosError, 'DBOS_ECLOSED');
  space.close();
});

test('images: the host errno and the C status arrive as DbosError or RangeError with their codes', async () => {
  const space: SnapshotSpace = createSpace({ size: 16 * PAGE });
  const snapshot = space.snapshot();
  const file = path.join(dir, 'good.img');
  await snapshot.writeTo(file);
  await expectFailure(() => snapshot.writeTo(path.join(dir, 'missing', 'x.img')), DbosError, 'ENOENT'); // open(2)
  const full = fs.openSync('/dev/full', 'w');
  await expectFailure(() => snapshot.writeTo(full), DbosError, 'DBOS_ENOSPC'); // the C writer
  fs.closeSync(full);
  const readOnly = fs.openSync(file, 'r');
  const badFd = await expectFailure(() => snapshot.writeTo(readOnly), DbosError, 'DBOS_EINVAL'); // ftruncate on O_RDONLY
  expect(badFd.message).toMatch(/^writeTo \d+: /);
  fs.closeSync(readOnly);

  await expectFailure(() => verifyImage(42 as never), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => verifyImage(path.join(dir, 'missing.img')), DbosError, 'ENOENT');
  const empty = path.join(dir, 'empty.img');
  fs.writeFileSync(empty, '');
  expect(await expectFailure(() => verifyImage(empty), DbosError, 'DBOS_ECORRUPT')).toMatchObject({ badPage: -1 });
  const corrupt = path.join(dir, 'corrupt.img');
  const bytes = fs.readFileSync(file);
  bytes[4096 + 3 * PAGE + 7]! ^= 1;
  fs.writeFileSync(corrupt, bytes);
  expect(await expectFailure(() => verifyImage(corrupt), DbosError, 'DBOS_ECORRUPT')).toMatchObject({ badPage: 3 });
  await expectFailure(() => space.load(file), DbosError, 'DBOS_EBUSY'); // a snapshot is live
  snapshot.release();
  expect(await expectFailure(() => space.load(corrupt), DbosError, 'DBOS_ECORRUPT')).toMatchObject({ badPage: 3 });
  const small = createSpace({ size: 8 * PAGE });
  await expectFailure(() => small.load(file), RangeError, 'DBOS_ERANGE'); // page count mismatch, from C
  await expectFailure(() => small.load(path.join(dir, 'missing.img')), DbosError, 'ENOENT');
  small.close();
  space.close();
});

test('checksums and sizes: misuse only', async () => {
  await expectFailure(() => crc32c('123' as never), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => crc32c(new Uint8Array(1), 1.5), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => crc32c(new Uint8Array(1), 2 ** 32), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => imageSize(1.5), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => imageSize(-1), RangeError, 'DBOS_ERANGE');
  await expectFailure(() => imageSize(2 ** 31), RangeError, 'DBOS_ERANGE');
});
