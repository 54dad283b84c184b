// Every way the package fails, walked once: each error is a DbosError, or a TypeError / RangeError
// for misuse, and carries a stable code (DBOS_E… or the errno name) — never a plain Error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { DbosError, probe } from '@dbos/platform';
import { createSpace, crc32c, imageSize, mechanisms, Snapshot, SnapshotSpace, verifyImage } from '../src/index.js';
import type { SnapshotMechanism } from '../src/index.js';

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

// One reproducer per finding of the hostile-call suite (test/hostile/), quick to run and to read.
test('hostile findings: each refused with a coded error', async () => {
  const space = createSpace({ size: 16 * PAGE });
  const snapshot = space.snapshot();
  // Options that are not objects, flags that are not booleans, paths with NUL bytes.
  await expectFailure(() => snapshot.pages(null as never), TypeError, 'DBOS_EINVAL'); // at the call, not the first step
  await expectFailure(() => snapshot.writeTo(path.join(dir, 'n.img'), null as never), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => snapshot.writeTo(path.join(dir, 'n.img'), { sync: 'yes' as never }), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => snapshot.writeTo(`${dir}/a\0b`), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => verifyImage('a\0b'), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => space.load('\0'), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => mechanisms(null as never), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => createSpace({ size: PAGE, hugePages: 'yes' as never }), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => snapshot.readPage(0, [] as never), TypeError, 'DBOS_EINVAL');
  // Forged objects and foreign receivers.
  await expectFailure(
    () => new (SnapshotSpace as unknown as new (...args: unknown[]) => unknown)({}, 4096, 'raw'),
    TypeError,
    'DBOS_EINVAL',
  );
  await expectFailure(() => new (Snapshot as unknown as new (...args: unknown[]) => unknown)(space, snapshot.id), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => Snapshot.prototype.read.call({} as never, 0, 1), TypeError, 'DBOS_EINVAL');
  await expectFailure(() => Reflect.get(SnapshotSpace.prototype, 'closed', {}), TypeError, 'DBOS_EINVAL');
  // Shared memory is read and written like any other (it was an uncoded "Invalid argument").
  const shared = new Uint8Array(new SharedArrayBuffer(PAGE)).fill(3);
  expect(crc32c(shared)).toBe(crc32c(new Uint8Array(PAGE).fill(3)));
  space.write(0, shared);
  expect(snapshot.readPage(0, new Uint8Array(new SharedArrayBuffer(PAGE)))[0]).toBe(0);
  snapshot.release();
  space.close();
  // A read into a new buffer larger than the machine's memory (or than one buffer can hold: the
  // engine's uncoded RangeError before), without a target, is refused before anything is allocated.
  const huge = createSpace({ size: 2 ** 42 });
  const whole = huge.snapshot();
  await expectFailure(() => whole.read(0, 2 ** 42), DbosError, 'DBOS_ENOMEM');
  whole.release();
  huge.close();
});

test('hostile findings: memory a space would fault in is checked against the machine', async () => {
  // With a machine of 1 MiB (mocked), populating 2 MiB or keeping a 2 MiB reserve is refused up front.
  const totalmem = vi.spyOn(os, 'totalmem').mockReturnValue(2 ** 20);
  try {
    await expectFailure(() => createSpace({ size: 2 * 2 ** 20, populate: true }), DbosError, 'DBOS_ENOMEM');
    await expectFailure(() => createSpace({ size: PAGE, copyReserve: 2 * 2 ** 20 }), DbosError, 'DBOS_ENOMEM');
  } finally {
    totalmem.mockRestore();
  }
});

test('hostile findings: during a load, snapshot, writes and close wait their turn', async () => {
  const source = createSpace({ size: 16 * PAGE });
  const image = source.snapshot();
  const file = path.join(dir, 'turn.img');
  await image.writeTo(file);
  image.release();
  source.close();
  const space = createSpace({ size: 16 * PAGE });
  const loading = space.load(file);
  await expectFailure(() => space.snapshot(), DbosError, 'DBOS_EBUSY'); // it blocked the JavaScript thread on the C mutex
  await expectFailure(() => space.write(0, Uint8Array.of(1)), DbosError, 'DBOS_EBUSY');
  await expectFailure(() => space.beginWrite(0), DbosError, 'DBOS_EBUSY');
  await expectFailure(() => space.close(), DbosError, 'DBOS_EBUSY');
  await loading;
  space.snapshot().release();
  space.close();
});

test('hostile findings: an onProgress that throws stops the write, empties the file, rejects with its error', async () => {
  const space = createSpace({ size: 1024 * PAGE });
  const snapshot = space.snapshot();
  const file = path.join(dir, 'stopped.img');
  const thrown = new Error('enough');
  let calls = 0;
  const error = await snapshot
    .writeTo(file, {
      progressIntervalBytes: 1,
      onProgress: () => {
        calls++;
        throw thrown;
      },
    })
    .catch((caught: unknown) => caught);
  expect(error).toBe(thrown); // before: an uncaught exception that ended the process
  expect(calls).toBe(1); // no progress after the throw
  expect(fs.statSync(file).size).toBe(0);
  await snapshot.writeTo(file);
  await verifyImage(file);
  snapshot.release();
  space.close();
});
