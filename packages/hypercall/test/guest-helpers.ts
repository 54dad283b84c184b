// Shared by the guest tests: the test image, whether the tests must run here, and request builders.
import fs from 'node:fs';
import os from 'node:os';
import { Guest, encodeHypercall, type GuestOptions } from '../src/guest.js';
import { testImagePath } from './guest-image.js';

export { testImagePath };

/** The test image's bytes, read once: most tests boot from bytes, a few from the path. */
export const testImage = fs.readFileSync(testImagePath);

/** Guest.start with the test image. */
export function startGuest(options: Omit<GuestOptions, 'image'> = {}): Guest {
  return Guest.start({ ...options, image: testImage });
}

/** /dev/kvm opens for this process: then every guest test must run (a skip is a failure). */
export function kvmOpens(): boolean {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', fs.constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

export const availability = Guest.available();
export const guestRuns = availability.available;
if (!guestRuns) {
  // Printed once per file: why the guest tests are skipped on this machine.
  console.log(`guest tests skipped: ${'reason' in availability ? availability.reason : ''}`);
}

export const errno = os.constants.errno;

/** Fixed offsets inside the guest's scratch area for request buffers. */
export const SCRATCH = {
  request: 0x0,
  path: 0x100,
  data: 0x1000,
  data2: 0x2000,
  iov: 0x3000,
  statx: 0x3100,
  word: 0x4000,
  batch: 0x5000,
  results: 0x6000,
} as const;

/** One hypercall through the guest: written to scratch, issued by guest code on `vcpu`. */
export async function hypercall(
  guest: Guest,
  op: number,
  fd: number,
  args: ReadonlyArray<number | bigint> = [],
  options: { doorbell?: 'sync' | 'async' | 'port'; vcpu?: number; flags?: number } = {},
): Promise<number> {
  const base = guest.info.scratch.address + SCRATCH.request + 0x80 * (options.vcpu ?? 0);
  guest.write(base, encodeHypercall(op, fd, args, options.flags ?? 0));
  const doorbell = { sync: 0, async: 1, port: 2 }[options.doorbell ?? 'sync'];
  const result = await guest.run('hc_request', [base, doorbell], { vcpu: options.vcpu ?? 0 });
  return Number(result);
}

/** A NUL-terminated string in guest scratch; returns its guest-physical address. */
export function guestString(guest: Guest, offset: number, text: string): number {
  const address = guest.info.scratch.address + offset;
  guest.write(address, Buffer.from(`${text}\0`));
  return address;
}
