// Every hypercall op issued by guest code, with its errors, and hostile requests the host
// must refuse without touching memory outside guest RAM or descriptors it never granted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeHypercall, type Guest, GuestError, HYPERCALL_OPS as OP } from '../src/guest.js';
import { GUEST_TEST_ABI } from './guest-abi.js';
import { errno, guestRuns, guestString, hypercall, SCRATCH, startGuest } from './guest-helpers.js';

const O_RDWR = fs.constants.O_RDWR;
const O_CREAT = fs.constants.O_CREAT;
const O_DIRECTORY = fs.constants.O_DIRECTORY;
const STATX_SIZE = GUEST_TEST_ABI.statxSizeMask;
const STATX_SIZE_OFFSET = GUEST_TEST_ABI.statxSizeOffset;

describe.skipIf(!guestRuns)('hypercall ops from guest code', () => {
  let guest: Guest;
  let dir: string;
  let dirFd: number;
  let guestDir: number;
  let scratch: number;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-guest-'));
    dirFd = fs.openSync(dir, fs.constants.O_RDONLY | O_DIRECTORY);
    guest = startGuest({ vcpus: 2 });
    guestDir = guest.grantFd(dirFd, { access: 'read-write' });
    scratch = guest.info.scratch.address;
  });
  afterAll(() => {
    guest.stop();
    fs.closeSync(dirFd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function openFile(name: string, flags = O_RDWR | O_CREAT): Promise<number> {
    const fd = await hypercall(guest, OP.openat, guestDir, [guestString(guest, SCRATCH.path, name), flags, 0o644]);
    expect(fd).toBeGreaterThanOrEqual(0);
    return fd;
  }

  test('openat, pwrite, pread, fsync, fdatasync, close', async () => {
    const fd = await openFile('a.dat');
    const text = Buffer.from('written by guest code through a hypercall');
    guest.write(scratch + SCRATCH.data, text);
    expect(await hypercall(guest, OP.pwrite, fd, [scratch + SCRATCH.data, text.length, 100])).toBe(text.length);
    expect(fs.readFileSync(path.join(dir, 'a.dat')).subarray(100).toString()).toBe(text.toString());
    fs.writeFileSync(path.join(dir, 'b.dat'), 'from the host');
    const fdB = await openFile('b.dat', O_RDWR);
    expect(await hypercall(guest, OP.pread, fdB, [scratch + SCRATCH.data2, 64, 5])).toBe(8);
    expect(guest.read(scratch + SCRATCH.data2, 8).toString()).toBe('the host');
    expect(await hypercall(guest, OP.fsync, fd)).toBe(0);
    expect(await hypercall(guest, OP.fdatasync, fd)).toBe(0);
    expect(await hypercall(guest, OP.close, fd)).toBe(0);
    expect(await hypercall(guest, OP.close, fd)).toBe(-errno.EBADF);
    expect(await hypercall(guest, OP.pread, fd, [scratch + SCRATCH.data2, 1, 0])).toBe(-errno.EBADF);
    expect(await hypercall(guest, OP.close, fdB)).toBe(0);
  });

  test('openat errors: missing file, escaping the granted directory, bad flags', async () => {
    const missing = guestString(guest, SCRATCH.path, 'missing.dat');
    expect(await hypercall(guest, OP.openat, guestDir, [missing, O_RDWR, 0])).toBe(-errno.ENOENT);
    const parent = guestString(guest, SCRATCH.path, '../escape.dat');
    expect(await hypercall(guest, OP.openat, guestDir, [parent, O_RDWR | O_CREAT, 0o644])).toBe(-errno.EXDEV);
    const absolute = guestString(guest, SCRATCH.path, '/etc/passwd');
    expect(await hypercall(guest, OP.openat, guestDir, [absolute, fs.constants.O_RDONLY, 0])).toBe(-errno.EXDEV);
    expect(fs.existsSync(path.join(dir, '..', 'escape.dat'))).toBe(false);
    const name = guestString(guest, SCRATCH.path, 'x.dat');
    expect(await hypercall(guest, OP.openat, guestDir, [name, 0x40000000, 0])).toBe(-errno.EINVAL); // unknown flag bit
    expect(await hypercall(guest, OP.openat, guestDir, [name, O_RDWR | O_CREAT, 0o1000000])).toBe(-errno.EINVAL);
  });

  test('preadv and pwritev', async () => {
    const fd = await openFile('v.dat');
    guest.write(scratch + SCRATCH.data, Buffer.from('hello '));
    guest.write(scratch + SCRATCH.data2, Buffer.from('vectors'));
    const iov = Buffer.alloc(32);
    iov.writeBigUInt64LE(BigInt(scratch + SCRATCH.data), 0);
    iov.writeBigUInt64LE(6n, 8);
    iov.writeBigUInt64LE(BigInt(scratch + SCRATCH.data2), 16);
    iov.writeBigUInt64LE(7n, 24);
    guest.write(scratch + SCRATCH.iov, iov);
    expect(await hypercall(guest, OP.pwritev, fd, [scratch + SCRATCH.iov, 2, 0])).toBe(13);
    expect(fs.readFileSync(path.join(dir, 'v.dat'), 'utf8')).toBe('hello vectors');
    guest.write(scratch + SCRATCH.data, Buffer.alloc(16));
    guest.write(scratch + SCRATCH.data2, Buffer.alloc(16));
    iov.writeBigUInt64LE(3n, 8);
    iov.writeBigUInt64LE(10n, 24);
    guest.write(scratch + SCRATCH.iov, iov);
    expect(await hypercall(guest, OP.preadv, fd, [scratch + SCRATCH.iov, 2, 0])).toBe(13);
    expect(guest.read(scratch + SCRATCH.data, 3).toString()).toBe('hel');
    expect(guest.read(scratch + SCRATCH.data2, 10).toString()).toBe('lo vectors');
    expect(await hypercall(guest, OP.close, fd)).toBe(0);
  });

  test('fallocate, ftruncate and statx agree with the host', async () => {
    const fd = await openFile('s.dat');
    expect(await hypercall(guest, OP.fallocate, fd, [0, 0, 8192])).toBe(0);
    expect(await hypercall(guest, OP.statx, fd, [STATX_SIZE, scratch + SCRATCH.statx])).toBe(0);
    expect(guest.read(scratch + SCRATCH.statx + STATX_SIZE_OFFSET, 8).readBigUInt64LE(0)).toBe(8192n);
    expect(await hypercall(guest, OP.ftruncate, fd, [100])).toBe(0);
    expect(await hypercall(guest, OP.statx, fd, [STATX_SIZE, scratch + SCRATCH.statx])).toBe(0);
    expect(guest.read(scratch + SCRATCH.statx + STATX_SIZE_OFFSET, 8).readBigUInt64LE(0)).toBe(100n);
    expect(fs.statSync(path.join(dir, 's.dat')).size).toBe(100);
    expect(await hypercall(guest, OP.fallocate, fd, [0, 0, 0])).toBe(-errno.EINVAL); // length 0
    expect(await hypercall(guest, OP.ftruncate, fd, [2n ** 63n])).toBe(-errno.EINVAL);
    expect(await hypercall(guest, OP.close, fd)).toBe(0);
  });

  test('clock_gettime: realtime and monotonic', async () => {
    const before = process.hrtime.bigint();
    const monotonic = BigInt(await hypercall(guest, OP.clockGettime, -1, [1]));
    const after = process.hrtime.bigint();
    expect(monotonic >= before && monotonic <= after).toBe(true);
    const realtime = await hypercall(guest, OP.clockGettime, -1, [0]);
    expect(Math.abs(realtime / 1e6 - Date.now())).toBeLessThan(10_000);
    expect(await hypercall(guest, OP.clockGettime, -1, [7])).toBe(-errno.EINVAL);
  });

  test('wait and wake on a word across two vCPUs', async () => {
    const word = scratch + SCRATCH.word;
    guest.write(word, Buffer.alloc(4));
    const waiting = guest.run('wait_word', [word, 0, 10_000_000_000], { vcpu: 1 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await guest.run('store_wake_word', [word, 1], { vcpu: 0 });
    expect(await waiting).toBe(0n); // woken (DBOS_OK), long before its 10 s timeout
    expect(guest.read(word, 4).readUInt32LE(0)).toBe(1);
    // The word no longer matches: returns at once. Matching with a timeout: DBOS_ETIMEDOUT (8).
    expect(await guest.run('wait_word', [word, 0, 10_000_000_000])).toBe(0n);
    expect(await guest.run('wait_word', [word, 1, 1_000_000])).toBe(-8n);
    expect(await hypercall(guest, OP.wake, -1, [word, 10])).toBe(0); // nobody waits
    expect(await hypercall(guest, OP.wait, -1, [word + 2, 1, 0])).toBe(-errno.EINVAL); // misaligned
    // WAIT would block the shared service thread: refused on the async doorbell.
    expect(await hypercall(guest, OP.wait, -1, [word, 1, 1000], { doorbell: 'async' })).toBe(-errno.EINVAL);
  });

  test('log', async () => {
    guest.takeLog();
    await guest.run('log_hello');
    const text = guestString(guest, SCRATCH.path, 'second line');
    expect(await hypercall(guest, OP.log, -1, [2, text, 11])).toBe(0);
    expect(guest.takeLog()).toBe('[info] hello from the dbos guest\n[warn] second line\n');
    expect(guest.takeLog()).toBe('');
    expect(await hypercall(guest, OP.log, -1, [9, text, 11])).toBe(-errno.EINVAL);
    expect(await hypercall(guest, OP.log, -1, [1, text, 5000])).toBe(-errno.EINVAL);
  });

  test('nop, unknown ops, the three doorbells and the completion interrupt', async () => {
    expect(await hypercall(guest, OP.nop, -1)).toBe(0);
    expect(await hypercall(guest, 999, -1)).toBe(-errno.ENOSYS);
    expect(await hypercall(guest, OP.clockGettime, -1, [1], { doorbell: 'async' })).toBeGreaterThan(0);
    expect(await hypercall(guest, OP.nop, -1, [], { doorbell: 'async', vcpu: 1 })).toBe(0);
    expect(await hypercall(guest, OP.clockGettime, -1, [1], { doorbell: 'port' })).toBeGreaterThan(0);
    expect(await guest.run('hc_completion_irq', [1_000_000_000])).toBe(1n); // irqfd + MSI arrived
  });

  test('a batch of requests with one doorbell, sync and async', async () => {
    const fd = await openFile('batch.dat');
    for (const doorbell of [0, 1]) {
      const requests = Buffer.concat([
        encodeHypercall(OP.ftruncate, fd, [4096]),
        encodeHypercall(OP.clockGettime, -1, [1]),
        encodeHypercall(OP.pread, 12345, [scratch + SCRATCH.data, 8, 0]),
        encodeHypercall(OP.nop, -1),
        encodeHypercall(OP.fsync, fd),
      ]);
      guest.write(scratch + SCRATCH.batch, requests);
      guest.write(scratch + SCRATCH.results, Buffer.alloc(40, 0xff));
      expect(await guest.run('hc_batch', [scratch + SCRATCH.batch, 5, scratch + SCRATCH.results, doorbell])).toBe(0n);
      const results = guest.read(scratch + SCRATCH.results, 40);
      expect(results.readBigInt64LE(0)).toBe(0n);
      expect(results.readBigInt64LE(8)).toBeGreaterThan(0n);
      expect(results.readBigInt64LE(16)).toBe(BigInt(-errno.EBADF));
      expect(results.readBigInt64LE(24)).toBe(0n);
      expect(results.readBigInt64LE(32)).toBe(0n);
    }
    expect(await hypercall(guest, OP.close, fd)).toBe(0);
  });

  test('granted descriptors are duplicates; revoked ones are gone', async () => {
    const file = path.join(dir, 'granted.dat');
    fs.writeFileSync(file, 'granted');
    const hostFd = fs.openSync(file, 'r');
    const guestFd = guest.grantFd(hostFd);
    fs.closeSync(hostFd); // the guest keeps its own duplicate
    expect(await hypercall(guest, OP.pread, guestFd, [scratch + SCRATCH.data, 7, 0])).toBe(7);
    guest.revokeFd(guestFd);
    expect(await hypercall(guest, OP.pread, guestFd, [scratch + SCRATCH.data, 7, 0])).toBe(-errno.EBADF);
    expect(() => guest.revokeFd(guestFd)).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
    expect(() => guest.grantFd(1_000_000)).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
  });

  test('grants carry rights: read-only refuses writes and write-opens beneath it; read-write does not', async () => {
    fs.writeFileSync(path.join(dir, 'rights.dat'), 'read me');
    const readOnlyDir = guest.grantFd(dirFd); // 'read-only' is the default
    const name = guestString(guest, SCRATCH.path, 'rights.dat');
    expect(await hypercall(guest, OP.openat, readOnlyDir, [name, O_RDWR, 0])).toBe(-errno.EROFS);
    expect(
      await hypercall(guest, OP.openat, readOnlyDir, [guestString(guest, SCRATCH.path + 0x80, 'created.dat'), O_RDWR | O_CREAT, 0o644]),
    ).toBe(-errno.EROFS);
    expect(fs.existsSync(path.join(dir, 'created.dat'))).toBe(false);
    const readable = await hypercall(guest, OP.openat, readOnlyDir, [name, fs.constants.O_RDONLY, 0]);
    expect(readable).toBeGreaterThanOrEqual(0);
    expect(await hypercall(guest, OP.pread, readable, [scratch + SCRATCH.data, 7, 0])).toBe(7);
    expect(await hypercall(guest, OP.ftruncate, readable, [0])).toBe(-errno.EBADF);
    expect(await hypercall(guest, OP.close, readable)).toBe(0);
    const hostFd = fs.openSync(path.join(dir, 'rights.dat'), 'r+');
    const readOnlyFile = guest.grantFd(hostFd, { access: 'read-only' });
    const readWriteFile = guest.grantFd(hostFd, { access: 'read-write' });
    expect(await hypercall(guest, OP.pwrite, readOnlyFile, [scratch + SCRATCH.data, 4, 0])).toBe(-errno.EBADF);
    expect(await hypercall(guest, OP.pwrite, readWriteFile, [scratch + SCRATCH.data, 4, 0])).toBe(4);
    fs.closeSync(hostFd);
    const readOnlyHost = fs.openSync(path.join(dir, 'rights.dat'), 'r');
    expect(() => guest.grantFd(readOnlyHost, { access: 'read-write' })).toThrow(expect.objectContaining({ code: 'DBOS_EPERM' }));
    expect(() => guest.grantFd(readOnlyHost, { access: 'write' as never })).toThrow(TypeError);
    fs.closeSync(readOnlyHost);
    for (const granted of [readOnlyDir, readOnlyFile, readWriteFile]) guest.revokeFd(granted);
  });

  describe('hostile requests are refused', () => {
    let fd: number;
    beforeAll(async () => {
      fd = await openFile('hostile.dat');
      fs.writeFileSync(path.join(dir, 'hostile.dat'), Buffer.alloc(8192, 7));
    });

    test('buffers outside guest RAM or overflowing it: EFAULT', async () => {
      const ram = guest.info.memory;
      for (const [address, length] of [
        [ram - 10, 4096], // runs off the end
        [ram, 1],
        [2n ** 63n, 16],
        [2n ** 64n - 8n, 16], // address + length wraps around
        [0x1000, 64], // pread into the GDT: the host never writes boot tables
      ] as Array<[number | bigint, number]>) {
        expect(await hypercall(guest, OP.pread, fd, [address, length, 0])).toBe(-errno.EFAULT);
      }
      expect(await hypercall(guest, OP.pwrite, fd, [ram - 100, 4096, 0])).toBe(-errno.EFAULT);
      expect(await hypercall(guest, OP.statx, fd, [STATX_SIZE, ram - 8])).toBe(-errno.EFAULT);
      expect(await hypercall(guest, OP.wake, -1, [ram, 1])).toBe(-errno.EFAULT);
      expect(await hypercall(guest, OP.log, -1, [1, ram - 1, 100])).toBe(-errno.EFAULT);
      // The file was not written by any of these.
      expect(fs.readFileSync(path.join(dir, 'hostile.dat')).equals(Buffer.alloc(8192, 7))).toBe(true);
    });

    test('oversized lengths and counts: EINVAL', async () => {
      expect(await hypercall(guest, OP.pread, fd, [scratch, 2 ** 31, 0])).toBe(-errno.EINVAL);
      expect(await hypercall(guest, OP.pwrite, fd, [scratch, 2n ** 64n - 1n, 0])).toBe(-errno.EINVAL);
      expect(await hypercall(guest, OP.pread, fd, [scratch, 8, 2n ** 63n])).toBe(-errno.EINVAL); // offset
      expect(await hypercall(guest, OP.preadv, fd, [scratch + SCRATCH.iov, 1000, 0])).toBe(-errno.EINVAL);
      // 40 iovecs of 32 MiB, each inside guest RAM, together over the 1 GiB per-request limit.
      const many = Buffer.alloc(40 * 16);
      for (let i = 0; i < 40; i++) {
        many.writeBigUInt64LE(0x800000n, 16 * i);
        many.writeBigUInt64LE(32n << 20n, 16 * i + 8);
      }
      guest.write(scratch + SCRATCH.batch, many);
      expect(await hypercall(guest, OP.preadv, fd, [scratch + SCRATCH.batch, 40, 0])).toBe(-errno.EINVAL);
      const iov = Buffer.alloc(32);
      iov.writeBigUInt64LE(BigInt(scratch), 0);
      iov.writeBigUInt64LE(BigInt(guest.info.memory - 16), 16);
      iov.writeBigUInt64LE(4096n, 24); // second iovec leaves guest RAM
      iov.writeBigUInt64LE(16n, 8);
      guest.write(scratch + SCRATCH.iov, iov);
      expect(await hypercall(guest, OP.preadv, fd, [scratch + SCRATCH.iov, 2, 0])).toBe(-errno.EFAULT);
      expect(await hypercall(guest, OP.preadv, fd, [guest.info.memory - 8, 1, 0])).toBe(-errno.EFAULT);
    });

    test('descriptors never granted: EBADF', async () => {
      for (const bad of [-1, 3, 200, 255, 256, 1_000_000, -2_147_483_648]) {
        if (bad === fd || bad === guestDir) continue;
        expect(await hypercall(guest, OP.pread, bad, [scratch, 8, 0])).toBe(-errno.EBADF);
        expect(await hypercall(guest, OP.fsync, bad)).toBe(-errno.EBADF);
        expect(await hypercall(guest, OP.close, bad)).toBe(-errno.EBADF);
      }
      // Host fds 0..2 are not guest fds: guest fd 0 is whatever the host granted first.
      expect(guestDir).toBe(0);
    });

    test('paths that do not end inside guest RAM', async () => {
      const ram = guest.info.memory;
      guest.write(ram - 16, Buffer.alloc(16, 0x41)); // "AAAA…" up to the last byte, no NUL
      expect(await hypercall(guest, OP.openat, guestDir, [ram - 16, O_RDWR, 0])).toBe(-errno.EFAULT);
      expect(await hypercall(guest, OP.openat, guestDir, [ram + 4096, O_RDWR, 0])).toBe(-errno.EFAULT);
      guest.write(scratch + SCRATCH.data, Buffer.alloc(4096, 0x41));
      expect(await hypercall(guest, OP.openat, guestDir, [scratch + SCRATCH.data, O_RDWR, 0])).toBe(-errno.ENAMETOOLONG);
    });

    test('after all of that the guest still serves requests', async () => {
      expect(await hypercall(guest, OP.pread, fd, [scratch + SCRATCH.data, 4, 0])).toBe(4);
      expect(guest.read(scratch + SCRATCH.data, 4)).toEqual(Buffer.alloc(4, 7));
    });
  });
});

describe.skipIf(!guestRuns)('guest-ending hypercalls', () => {
  test('EXIT stops the guest with its code', async () => {
    const guest = startGuest();
    try {
      const error = await hypercall(guest, OP.exit, -1, [7]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestError);
      expect((error as GuestError).failure).toMatchObject({ kind: 'exit', exitCode: 7n });
    } finally {
      guest.stop();
    }
  });

  test('a corrupted ring is a guest failure, not a host error', async () => {
    const guest = startGuest();
    try {
      const error = await guest.run('hostile_ring').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestError);
      expect((error as GuestError).failure.kind).toBe('protocol');
      expect((error as GuestError).failure.message).toMatch(/ring corrupt/);
    } finally {
      guest.stop();
    }
  });

  test('host memory writes are bounded too', () => {
    const guest = startGuest();
    try {
      expect(() => guest.write(guest.info.memory - 4, Buffer.alloc(8))).toThrow(expect.objectContaining({ code: 'DBOS_ERANGE' }));
      expect(() => guest.write(0x2000, Buffer.alloc(8))).toThrow(expect.objectContaining({ code: 'DBOS_ERANGE' }));
      expect(() => guest.read(guest.info.memory, 1)).toThrow(expect.objectContaining({ code: 'DBOS_ERANGE' }));
    } finally {
      guest.stop();
    }
  });
});
