// One error contract: everything this package throws or rejects with is a DbosError (GuestError
// included) or a TypeError / RangeError, and carries a stable code: a DBOS_E… status name or an
// errno name. Native errors reach users only through @dbos/platform's fromNative.
import { DbosError, STATUS_CODES } from '@dbos/platform';
import { expect, test } from 'vitest';
import { encodeHypercall, Gateway, Guest, GuestError, type GuestOptions } from '../src/index.js';
import { guestRuns, startGuest, testImage } from './guest-helpers.js';

const MIB = 1024 * 1024;

/** The error `attempt` throws or rejects with (undefined when it succeeds). */
async function failureOf(attempt: () => unknown): Promise<unknown> {
  try {
    await attempt();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectContract(error: unknown, what: string): void {
  expect(error, `${what} must fail`).toBeInstanceOf(Error);
  const ok = error instanceof DbosError || error instanceof TypeError || error instanceof RangeError;
  expect(ok, `${what}: ${String(error)} is a ${(error as Error).constructor.name}`).toBe(true);
  const code = (error as { code?: unknown }).code;
  expect(typeof code, `${what}: no code on ${String(error)}`).toBe('string');
  const known = (STATUS_CODES as readonly string[]).includes(code as string) || /^E[A-Z0-9]+$/.test(code as string);
  expect(known, `${what}: code ${String(code)}`).toBe(true);
}

test('gateway misuse and failures carry the contract', async () => {
  const gateway = new Gateway({ threads: 1 });
  const closed = new Gateway({ threads: 1 });
  await closed.close();
  const cases: Array<[string, () => unknown]> = [
    ['unknown backend', () => new Gateway({ backend: 'spdk' as never })],
    ['queue depth out of range', () => new Gateway({ queueDepth: 0 })],
    ['ops not an array', () => gateway.submitSync('x' as never)],
    ['unknown op', () => gateway.submitSync([{ op: 'mmap' } as never])],
    ['range outside the buffer', () => gateway.submitSync([{ op: 'pread', fd: 0, buffer: Buffer.alloc(8), position: 0, length: 9 }])],
    ['async range outside the buffer', () => gateway.readBatch(0, [0, 8], 8, Buffer.alloc(8))],
    ['closed gateway', () => closed.submit([])],
    ['closed gateway, sync', () => closed.readBatchSync(0, [0], 8, Buffer.alloc(8))],
    ['encodeHypercall with 6 arguments', () => encodeHypercall(0, 0, [1, 2, 3, 4, 5, 6])],
  ];
  try {
    for (const [what, attempt] of cases) expectContract(await failureOf(attempt), what);
  } finally {
    await gateway.close();
  }
});

test('guest start refusals carry the contract, on any machine', async () => {
  const cases: Array<[string, () => unknown]> = [
    ['no image', () => Guest.start({} as GuestOptions)],
    ['an image that is not one', () => Guest.start({ image: Buffer.from('nope') })],
    ['an image file that is missing', () => Guest.start({ image: '/nonexistent/image.bin' })],
    ['memory not a 2 MiB multiple', () => startGuest({ memory: 17 * MIB })],
    ['engine ring 1', () => startGuest({ engineRing: 1 as 0 })],
  ];
  for (const [what, attempt] of cases) expectContract(await failureOf(attempt), what);
  const saved = process.env.DBOS_KVM_DEVICE;
  process.env.DBOS_KVM_DEVICE = '/nonexistent/kvm';
  try {
    expectContract(await failureOf(() => Guest.start({ image: testImage })), 'no KVM device');
  } finally {
    if (saved === undefined) delete process.env.DBOS_KVM_DEVICE;
    else process.env.DBOS_KVM_DEVICE = saved;
  }
});

test.skipIf(!guestRuns)("a running guest's errors carry the contract; a guest failure is a GuestError", async () => {
  const guest = startGuest({ memory: 16 * MIB });
  const failed = startGuest({ memory: 16 * MIB });
  try {
    const cases: Array<[string, () => unknown]> = [
      ['unknown entry', () => guest.run('no_such_entry')],
      ['unknown entry, sync', () => guest.runSync('no_such_entry')],
      ['bad argument', () => guest.run('add', [1.5])],
      ['vCPU out of range', () => guest.runSync('add', [], { vcpu: 3 })],
      ['read outside guest RAM', () => guest.read(guest.info.memory, 8)],
      ['write into the boot tables', () => guest.write(0x1000, Buffer.alloc(8))],
      ['grant of a descriptor that is not open', () => guest.grantFd(987654)],
      ['revoke of a descriptor never granted', () => guest.revokeFd(200)],
    ];
    for (const [what, attempt] of cases) expectContract(await failureOf(attempt), what);
    const crash = await failureOf(() => failed.run('crash', [0]));
    expectContract(crash, 'a guest panic');
    expect(crash).toBeInstanceOf(GuestError);
    expect(crash).toMatchObject({ code: 'DBOS_EGUEST', failure: { kind: 'panic' } });
    expectContract(await failureOf(() => failed.runSync('add', [1, 2])), 'a call into a failed guest');
    guest.stop();
    expectContract(await failureOf(() => guest.run('add', [1, 2])), 'a call after stop');
    expectContract(await failureOf(() => guest.takeLog()), 'log after stop');
  } finally {
    guest.stop();
    failed.stop();
  }
});
