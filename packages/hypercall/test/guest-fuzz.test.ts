// Seeded random hypercall batches: whatever the guest asks, the host answers every request with
// an integer, touches nothing outside guest RAM and the granted directory, and keeps serving.
// WAIT (could sleep up to its random timeout) and EXIT (ends the guest) are left out on purpose.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { encodeHypercall, HYPERCALL_OPS as OP } from '../src/guest.js';
import { GUEST_TEST_ABI } from './guest-abi.js';
import { guestRuns, SCRATCH, startGuest } from './guest-helpers.js';

const ROUNDS = 40;
const BATCH = GUEST_TEST_ABI.ringEntries; // a full ring per doorbell

function xorshift(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

test.skipIf(!guestRuns)('random hypercall batches never break the host or the ring', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-guest-fuzz-'));
  const outside = path.join(os.tmpdir(), `dbos-guest-fuzz-outside-${process.pid}`);
  const dirFd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const guest = startGuest({ memory: 16 * 1024 * 1024 });
  try {
    const guestDir = guest.grantFd(dirFd, { access: 'read-write' });
    const ram = BigInt(guest.info.memory);
    const scratch = guest.info.scratch.address;
    // Names the guest may try to open: inside, escaping, absolute, long.
    guest.write(scratch + SCRATCH.path, Buffer.from('fuzz.dat\0'));
    guest.write(scratch + SCRATCH.path + 0x40, Buffer.from(`../${path.basename(outside)}\0`));
    guest.write(scratch + SCRATCH.path + 0x80, Buffer.from(`${outside}\0`));
    const random = xorshift(0xdb05);
    const big = () => (BigInt(random()) << 32n) | BigInt(random());
    const interesting = (): bigint => {
      switch (random() % 12) {
        case 0:
          return 0n;
        case 1:
          return BigInt(random() % 4096);
        case 2:
          return BigInt(scratch + (random() % 0x8000));
        case 3:
          return BigInt(scratch + SCRATCH.path + 0x40 * (random() % 3));
        case 4:
          return ram - BigInt(random() % 64);
        case 5:
          return ram + BigInt(random() % 4096);
        case 6:
          return 2n ** 63n - 1n;
        case 7:
          return 2n ** 64n - 1n - BigInt(random() % 16);
        case 8:
          return BigInt(0x1000 + (random() % 0x4000)); // boot tables
        case 9:
          return BigInt(random() % 2 ** 31);
        case 10:
          return 0x42n; // O_RDWR | O_CREAT
        default:
          return big();
      }
    };
    const ops = [
      OP.nop,
      OP.pread,
      OP.pwrite,
      OP.preadv,
      OP.pwritev,
      OP.fsync,
      OP.fdatasync,
      OP.openat,
      OP.close,
      OP.fallocate,
      OP.ftruncate,
      OP.statx,
      OP.clockGettime,
      OP.wake,
      OP.log,
      17,
      255,
      65535,
    ];
    let served = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const requests: Buffer[] = [];
      for (let i = 0; i < BATCH; i++) {
        const op = ops[random() % ops.length]!;
        const fd = [guestDir, -1, 1, 2, 255, 256, random() | 0][random() % 7]!;
        requests.push(encodeHypercall(op, fd, [interesting(), interesting(), interesting(), interesting(), interesting()], random() & 1));
      }
      guest.write(scratch + SCRATCH.batch, Buffer.concat(requests));
      expect(await guest.run('hc_batch', [scratch + SCRATCH.batch, BATCH, scratch + SCRATCH.results, round & 1])).toBe(0n);
      const results = guest.read(scratch + SCRATCH.results, BATCH * 8);
      for (let i = 0; i < BATCH; i++) {
        const result = results.readBigInt64LE(i * 8);
        // Either a success value or a Linux errno: never garbage.
        expect(result >= -4095n).toBe(true);
        served++;
      }
    }
    expect(served).toBe(ROUNDS * BATCH);
    // Nothing escaped the granted directory, and the guest still works.
    expect(fs.existsSync(outside)).toBe(false);
    expect(guest.runSync('add', [1, 1])).toBe(2n);
    expect(guest.status).toBe('running');
  } finally {
    guest.stop();
    fs.closeSync(dirFd);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(outside, { force: true });
  }
});
