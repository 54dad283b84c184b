// What the hostile cases of @dbos/hypercall share: a private directory with a data file and a FIFO,
// made once per child process (the parent only lists case names), descriptor arbitraries that never
// name a descriptor the child did not open itself (a hostile `close` of fd 2 or of libuv's epoll fd
// would test the process, not the package), sizes whose legal values stay small (no hostile fallocate
// of a terabyte), the test guest image, and a check that throws an uncoded error, which the harness
// reports as a finding.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { hostileValue } from '@dbos/hostile';
import { Guest } from '../../src/guest.js';

/** Fail the case: an uncoded Error is a finding, whatever the message says. */
export function expectThat(condition: unknown, what: string): void {
  if (!condition) throw new Error(`expected ${what}`);
}

export interface Files {
  dir: string;
  /** 1 MiB of data, opened O_RDWR: what most ops work on. */
  data: string;
  dataFd: number;
  dirFd: number;
  /** A FIFO with a writer held open here: reads from it wait until `feed` writes. */
  fifoRead: number;
  fifoWrite: number;
}

let files: Files | undefined;

/** The child's fixture, made on first use; its working directory moves there (relative openat paths land inside). */
export function fixture(): Files {
  if (files) return files;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-hypercall-hostile-'));
  const data = path.join(dir, 'data');
  fs.writeFileSync(data, Buffer.alloc(1 << 20, 0x5a));
  fs.mkdirSync(path.join(dir, 'sub'));
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo, path.join(dir, 'lonely')]); // 'lonely' never gets a reader or writer here
  const fifoRead = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const fifoWrite = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK); // a full FIFO never blocks a feed
  files = {
    dir,
    data,
    dataFd: fs.openSync(data, fs.constants.O_RDWR),
    dirFd: fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY),
    fifoRead,
    fifoWrite,
  };
  process.chdir(dir);
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return files;
}

/** Empty the FIFO, so the next read from it waits for {@link feedFifo}. */
export function drainFifo(): void {
  const sink = Buffer.alloc(1 << 16);
  try {
    while (fs.readSync(fixture().fifoRead, sink) > 0);
  } catch {
    // EAGAIN: empty
  }
}

/** Let every read waiting on the FIFO finish. */
export function feedFifo(bytes = 16 << 10): void {
  try {
    fs.writeSync(fixture().fifoWrite, Buffer.alloc(bytes, 1));
  } catch {
    // full: the readers have enough
  }
}

/** Numbers that are no descriptor of this process (negative, unopened, beyond int32, fractions). */
const notOpen = fc.constantFrom(
  -1,
  -100,
  99_999,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 + 1,
  2 ** 53,
  1.5,
  -0.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
);

/** Hostile values that are not integers a descriptor could be (those could name libuv's own fds). */
export function notDescriptor(): fc.Arbitrary<unknown> {
  return hostileValue().filter((value) => !(typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 31));
}

/** Mostly the data file's descriptor; otherwise one this process never opened, or no number at all. */
export function dataFd(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.constant(0).map(() => fixture().dataFd), weight: 4 },
    { arbitrary: notOpen, weight: 1 },
    { arbitrary: notDescriptor(), weight: 1 },
  );
}

/** A position, offset or length: small legal values, or illegal ones (never a huge legal one). */
export function small(max = 1 << 20): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.integer({ min: 0, max }), weight: 4 },
    { arbitrary: fc.constantFrom(0, 1, 4095, 4096, 4097), weight: 2 },
    { arbitrary: fc.constantFrom(-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 2 ** 64, -(2 ** 31)), weight: 1 },
    { arbitrary: notDescriptor(), weight: 1 },
  );
}

/** Like {@link small}, plus legal values the kernel must refuse or handle sparsely (2^40, 2^53 - 1). */
export function position(): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: small(), weight: 5 }, { arbitrary: fc.constantFrom(2 ** 40, 2 ** 53 - 1, 2 ** 31, 2 ** 32 + 1), weight: 1 });
}

/** Image bytes of the test image (test/guest-image.ts builds it once per change). */
let image: Buffer | undefined;
export async function testImage(): Promise<Buffer> {
  if (!image) image = fs.readFileSync((await import('../guest-image.js')).testImagePath);
  return image;
}

/** Whether guests boot here: the guest cases pass trivially where they cannot (guest.test.ts fails then, where /dev/kvm opens). */
export const guestRuns = (): boolean => Guest.available().available;

let shared: Guest | undefined;

/** One guest per child, booted on first use with two vCPUs; calls that fail it leave it failed (still coded). */
export async function sharedGuest(): Promise<Guest | undefined> {
  if (!guestRuns()) return undefined;
  shared ??= Guest.start({ image: await testImage(), memory: 16 * 1024 * 1024, vcpus: 2 });
  return shared;
}

/** Wait `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
