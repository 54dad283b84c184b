// Every public call of the guest runtime under hostile arguments: Guest.available / start, run /
// runSync, grantFd / revokeFd, read / write, takeLog, entries, stop, the getters, encodeHypercall and
// GuestError. One guest per child process serves the calls that need a running one (boots cost
// milliseconds); where guests cannot run here the cases still call what needs no guest.
import fs from 'node:fs';
import fc from 'fast-check';
import { call, hostileBigInt, hostileBuffer, hostileNumber, hostileOptions, hostileValue, mostly, type CaseTable } from '@dbos/hostile';
import { Guest, GuestError, encodeHypercall } from '../../src/guest.js';
import { HYPERCALL_OPS } from '../../src/abi.js';
import { dataFd, fixture, guestRuns, notDescriptor, sharedGuest, small, testImage } from './support.js';

const MIB = 1024 * 1024;

/** The shared guest (booted by setup), or undefined where guests cannot run. */
async function setup(): Promise<Guest | undefined> {
  fixture();
  await testImage();
  return sharedGuest();
}

let image: Buffer | undefined;
const imageBytes = () => fc.constant(0).map(() => image ?? Buffer.alloc(0));

/** A call on the shared guest; nothing to do where there is none. */
function withGuest<A extends unknown[]>(body: (guest: Guest, ...args: A) => unknown) {
  return (target: unknown, ...args: A) => (target ? body(target as Guest, ...args) : undefined);
}

const entry = () => mostly(fc.constantFrom('add', 'whoami', 'no_such_entry', '', 'add\0trailing', 'a'.repeat(300)));
const words = () => mostly(fc.array(fc.oneof(fc.integer(), hostileBigInt(), hostileNumber(), hostileValue()), { maxLength: 6 }));
const runOptions = () => fc.oneof(fc.constant(undefined), fc.record({ vcpu: mostly(fc.constantFrom(0, 1)) }), hostileOptions(['vcpu']));
/**
 * Guest-physical addresses: inside the scratch area (the last MiB of 16), or ones that must be refused
 * (boot tables, past RAM, not integers). Never the guest kernel's own memory: a host that overwrites
 * its guest's code has broken that guest, as it could break any memory it owns.
 */
const scratchAddress = () =>
  fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 0xf000 }).map((offset) => 15 * MIB + offset), weight: 3 },
    {
      arbitrary: fc.constantFrom(-1, 0, 0x1000, 0xfffff, 16 * MIB - 1, 16 * MIB, 2 ** 32 + 15 * MIB, 2 ** 53, 2 ** 64, 1.5, Number.NaN),
      weight: 1,
    },
    { arbitrary: notDescriptor(), weight: 1 },
  );
const lifecycle = { setup, teardown: () => undefined };

export default {
  'Guest.available()': call([], () => Guest.available()),
  'Guest.start(options)': call(
    [
      fc.oneof(
        {
          arbitrary: fc.record(
            {
              image: mostly(imageBytes()),
              memory: mostly(fc.constantFrom(16 * MIB, 18 * MIB)),
              vcpus: mostly(fc.constantFrom(1, 2)),
              engineRing: mostly(fc.constantFrom(0, 3, undefined)),
            },
            { requiredKeys: [] },
          ),
          weight: 3,
        },
        { arbitrary: hostileOptions(['image', 'memory', 'vcpus', 'engineRing']), weight: 1 },
        { arbitrary: fc.record({ image: fc.constantFrom('.', 'data', '/nonexistent/image.bin', 'fifo', 'sub', '') }), weight: 1 },
      ),
    ],
    (_t, options) => {
      const guest = Guest.start(options as never);
      try {
        return guest.runSync('add', [1, 2]);
      } finally {
        guest.stop();
      }
    },
    {
      setup: async () => {
        fixture();
        image = guestRuns() ? await testImage() : undefined;
      },
    },
  ),
  'guest.run(entry, args, options)': call(
    [entry(), words(), runOptions()],
    withGuest((guest, name, args, options) => guest.run(name as string, args as never, options as never)),
    lifecycle,
  ),
  'guest.runSync(entry, args, options)': call(
    [entry(), words(), runOptions()],
    withGuest((guest, name, args, options) => guest.runSync(name as string, args as never, options as never)),
    lifecycle,
  ),
  'guest.grantFd(fd, options), revokeFd': call(
    [
      fc.oneof(dataFd(), fc.integer({ min: 0, max: 64 }), fc.constant(2 ** 32 + 1)),
      fc.oneof(
        fc.constant(undefined),
        fc.record({ access: mostly(fc.constantFrom('read-only', 'read-write')) }),
        hostileOptions(['access']),
      ),
    ],
    withGuest((guest, fd, options) => {
      const granted = guest.grantFd(fd as number, options as never);
      guest.revokeFd(granted);
    }),
    lifecycle,
  ),
  'guest.revokeFd(guestFd)': call(
    [fc.oneof(fc.integer({ min: -2, max: 300 }), hostileNumber(), hostileValue())],
    withGuest((guest, fd) => guest.revokeFd(fd as number)),
    lifecycle,
  ),
  'guest.read(address, length)': call(
    [scratchAddress(), small(8192)],
    withGuest((guest, address, length) => guest.read(address as number, length as number)),
    lifecycle,
  ),
  'guest.write(address, data)': call(
    [
      scratchAddress(),
      fc.oneof(
        { arbitrary: fc.constant(0).map(() => Buffer.alloc(64, 7)), weight: 2 },
        { arbitrary: hostileBuffer(256), weight: 2 },
        { arbitrary: hostileValue(), weight: 1 },
      ),
    ],
    withGuest((guest, address, data) => guest.write(address as number, data as Uint8Array)),
    lifecycle,
  ),
  'guest.takeLog(), entries(), info, status, failure': call(
    [],
    withGuest((guest) => [guest.takeLog(), guest.entries(), guest.info, guest.status, guest.failure]),
    lifecycle,
  ),
  'guest.stop(), then every call': call(
    [fc.constantFrom('run', 'runSync', 'grantFd', 'revokeFd', 'read', 'write', 'takeLog', 'entries', 'stop')],
    async (_t, method) => {
      if (!guestRuns()) return;
      const guest = Guest.start({ image: await testImage(), memory: 16 * MIB });
      const running = guest.run('spin_ns', [1e9]).catch((error: unknown) => error);
      guest.stop();
      const calls: Record<string, () => unknown> = {
        run: () => guest.run('add', [1, 2]),
        runSync: () => guest.runSync('add', [1, 2]),
        grantFd: () => guest.grantFd(fixture().dataFd),
        revokeFd: () => guest.revokeFd(0),
        read: () => guest.read(guest.info.scratch.address, 8),
        write: () => guest.write(guest.info.scratch.address, Buffer.alloc(8)),
        takeLog: () => guest.takeLog(),
        entries: () => guest.entries(),
        stop: () => guest.stop(),
      };
      const outcome = await Promise.resolve()
        .then(calls[method as string])
        .then(
          () => null,
          (error: unknown) => error,
        );
      if (method !== 'stop' && (outcome as { code?: unknown } | null)?.code !== 'DBOS_ECLOSED')
        throw new Error(`${String(method)} after stop: ${String(outcome)}`);
      if (((await running) as { code?: unknown }).code !== 'DBOS_ECLOSED')
        throw new Error('a call running at stop did not end with DBOS_ECLOSED');
    },
  ),
  'encodeHypercall(op, fd, args, flags)': call(
    [
      mostly(fc.constantFrom(...Object.values(HYPERCALL_OPS))),
      mostly(fc.integer()),
      words(),
      fc.oneof(fc.constant(undefined), mostly(fc.integer({ min: 0, max: 0xffff }))),
    ],
    (_t, op, fd, args, flags) => encodeHypercall(op as number, fd as number, args as never, flags as number),
  ),
  'new GuestError(message, failure, options)': call(
    [
      mostly(fc.string()),
      mostly(fc.constant({ kind: 'panic', vcpu: 0, message: 'x', exitCode: 0n, exitReason: 0, suberror: 0, registers: null })),
      hostileValue(),
    ],
    (_t, message, failure, options) => {
      const error = new GuestError(message as string, failure as never, options as never);
      if (error.code !== 'DBOS_EGUEST') throw new Error('GuestError without its code');
    },
  ),
  'a data file granted read-only refuses writes': call(
    [fc.constantFrom('read-only', undefined)],
    withGuest(async (guest, access) => {
      const granted = guest.grantFd(fixture().dataFd, access === undefined ? undefined : { access: access as 'read-only' });
      try {
        const scratch = guest.info.scratch.address;
        guest.write(scratch, encodeHypercall(HYPERCALL_OPS.pwrite, granted, [scratch + 0x1000, 8, 0]));
        const result = await guest.run('hc_request', [scratch, 0]);
        if (result !== -9n) throw new Error(`a write through a read-only grant returned ${result}, not -EBADF`);
      } finally {
        guest.revokeFd(granted);
      }
      return fs.fstatSync(fixture().dataFd).size;
    }),
    lifecycle,
  ),
} satisfies CaseTable;
