// The guest runtime's lifecycle: availability, boot/stop without leaks, calls, vCPUs, timer,
// failures. Runs wherever /dev/kvm opens; skips with a printed reason elsewhere.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Guest, GuestError, type GuestOptions } from '../src/guest.js';
import { hasCode, probe } from '@dbos/platform';
import { GUEST_TEST_ABI } from './guest-abi.js';
import { availability, guestRuns, kvmOpens, SCRATCH, startGuest, testImage, testImagePath } from './guest-helpers.js';

const MIB = 1024 * 1024;

test('where /dev/kvm opens, the guest runtime is available (a skip there is a failure)', () => {
  // DBOS_REQUIRE_KVM=1 (CI on KVM machines) makes a missing /dev/kvm a failure too.
  if (kvmOpens() || process.env.DBOS_REQUIRE_KVM === '1') expect(availability).toMatchObject({ available: true });
  else expect(availability).toMatchObject({ available: false, code: expect.stringMatching(/^DBOS_E/) });
});

test('Guest.start refuses bad options before touching /dev/kvm', () => {
  expect(() => startGuest({ memory: 1 })).toThrow(RangeError);
  expect(() => startGuest({ memory: 17 * MIB })).toThrow(RangeError);
  expect(() => startGuest({ vcpus: 0 })).toThrow(RangeError);
  expect(() => startGuest({ vcpus: 17 })).toThrow(RangeError);
  expect(() => startGuest({ engineRing: 1 as 0 })).toThrow(TypeError);
});

describe("the image is the caller's", () => {
  const HEADER = { magic: 0, abiVersion: 8 } as const; // struct dbos_guest_image_header
  const patched = (at: number, value: bigint): Buffer => {
    const copy = Buffer.from(testImage);
    copy.writeBigUInt64LE(value, at);
    return copy;
  };
  // Bad images are refused before /dev/kvm is opened, so these hold on any machine.
  const withoutKvm = <T>(body: () => T): T => {
    const saved = process.env.DBOS_KVM_DEVICE;
    process.env.DBOS_KVM_DEVICE = '/nonexistent/kvm';
    try {
      return body();
    } finally {
      if (saved === undefined) delete process.env.DBOS_KVM_DEVICE;
      else process.env.DBOS_KVM_DEVICE = saved;
    }
  };

  test('without an image, Guest.start says how to build one', () => {
    for (const options of [undefined, {}, { memory: 32 * MIB }]) {
      let error: unknown;
      try {
        Guest.start(options as unknown as GuestOptions);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ code: 'DBOS_EINVAL', message: expect.stringMatching(/buildGuestImage.*dbos-native guest-image/s) });
    }
    expect(() => Guest.start({ image: 42 as unknown as string })).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
  });

  test('malformed images are DBOS_EINVAL, an image of another ABI DBOS_ENOTSUP, each with the reason', () => {
    withoutKvm(() => {
      const refused = (image: Uint8Array, code: string, reason: RegExp) =>
        expect(() => Guest.start({ image })).toThrow(
          expect.objectContaining({ name: 'DbosError', code, message: expect.stringMatching(reason) }),
        );
      refused(Buffer.from('not a guest image, just text'), 'DBOS_EINVAL', /must hold its header/);
      refused(new Uint8Array(0), 'DBOS_EINVAL', /no guest image/);
      refused(patched(HEADER.magic, 0x1234n), 'DBOS_EINVAL', /wrong magic/);
      refused(patched(HEADER.abiVersion, 999n), 'DBOS_ENOTSUP', /ABI version/);
      refused(testImage.subarray(0, testImage.length - 4096), 'DBOS_EINVAL', /base or size/);
      refused(Buffer.concat([testImage, Buffer.alloc(4 * MIB)]), 'DBOS_EINVAL', /fit/);
    });
  });

  test('a path that cannot be read is a DbosError with its errno code', () => {
    expect(() => Guest.start({ image: '/nonexistent/dbos/guest.bin' })).toThrow(
      expect.objectContaining({ name: 'DbosError', code: 'ENOENT' }),
    );
  });

  test.skipIf(!guestRuns)('an image given by path boots', () => {
    const guest = Guest.start({ image: testImagePath, memory: 16 * MIB });
    try {
      expect(guest.info.imageSize).toBe(fs.statSync(testImagePath).size);
      expect(guest.runSync('add', [40, 2])).toBe(42n);
    } finally {
      guest.stop();
    }
  });

  test.skipIf(!guestRuns)('the VMM keeps its own copy: the caller may overwrite its bytes at once', () => {
    const bytes = Buffer.from(testImage);
    const guest = Guest.start({ image: bytes, memory: 16 * MIB });
    try {
      bytes.fill(0xcc); // entry names and the trap vectors are read from the VMM's copy
      expect(guest.entries()).toEqual(expect.arrayContaining(['add', 'crash']));
      expect(guest.runSync('add', [2, 3])).toBe(5n);
    } finally {
      guest.stop();
    }
  });
});

describe.skipIf(!guestRuns)('guest lifecycle', () => {
  function openFds(): number {
    return fs.readdirSync('/proc/self/fd').length;
  }
  function rssBytes(): number {
    const line = fs
      .readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'))!;
    return Number(/(\d+)/.exec(line)![1]) * 1024;
  }

  test('boots and stops 100 times without leaking descriptors, threads or memory', () => {
    const cycle = () => {
      const guest = startGuest({ memory: 16 * MIB });
      expect(guest.runSync('add', [2, 3])).toBe(5n);
      guest.stop();
    };
    for (let i = 0; i < 5; i++) cycle(); // warm up allocator caches
    const fdsBefore = openFds();
    const rssBefore = rssBytes();
    for (let i = 0; i < 100; i++) cycle();
    expect(openFds()).toBe(fdsBefore);
    // 100 guests of 16 MiB each would add 1.6 GiB if RAM leaked; allow allocator noise only.
    expect(rssBytes() - rssBefore).toBeLessThan(24 * MIB);
    const threads = fs.readdirSync('/proc/self/task').length;
    cycle();
    expect(fs.readdirSync('/proc/self/task').length).toBe(threads);
  });

  test('one KVM verdict: Guest.available() and guest.info report what probe().kvm.kind says', () => {
    const kind = probe().kvm.kind;
    expect(availability).toMatchObject({ available: true, kvm: kind });
    const guest = startGuest({ memory: 16 * MIB });
    try {
      expect(guest.info.kvm).toBe(kind);
      expect(guest.info.engineRing).toBe(kind === 'pvm' ? 3 : 0);
    } finally {
      guest.stop();
    }
  });

  test('info reports the KVM flavour and the engine ring', () => {
    const guest = startGuest({ vcpus: 2 });
    try {
      expect(guest.info.kvm).toBe(availability.available ? availability.kvm : 'none');
      expect(guest.info.engineRing).toBe(guest.info.kvm === 'pvm' ? 3 : 0);
      expect(availability).toMatchObject({ engineRing: guest.info.engineRing });
      expect(guest.info.vcpus).toBe(2);
      expect(guest.info.imageSize).toBeGreaterThan(4096);
      expect(guest.info.scratch.address + guest.info.scratch.size).toBe(guest.info.memory);
      const who = guest.runSync('whoami', [], { vcpu: 1 });
      expect(Number(who >> 32n)).toBe(guest.info.engineRing); // the CPL guest code really runs at
      expect(Number((who >> 16n) & 0xffffn)).toBe(2);
      expect(Number(who & 0xffffn)).toBe(1);
      expect(guest.entries()).toEqual(expect.arrayContaining(['add', 'whoami', 'hc_request', 'pte_map', 'crash']));
    } finally {
      guest.stop();
    }
  });

  test('two guests run side by side, each with its own memory', async () => {
    const a = startGuest({ memory: 16 * MIB });
    const b = startGuest({ memory: 32 * MIB });
    try {
      const word = a.info.scratch.address;
      a.write(word, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
      b.write(b.info.scratch.address, Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]));
      const [ra, rb] = await Promise.all([a.run('atomic_add_loop', [word, 10]), b.run('atomic_add_loop', [b.info.scratch.address, 5])]);
      expect([ra, rb]).toEqual([11n, 14n]);
    } finally {
      a.stop();
      b.stop();
    }
  });

  test('stop is idempotent and later calls fail with DBOS_ECLOSED', async () => {
    const guest = startGuest();
    guest.stop();
    guest.stop();
    expect(guest.status).toBe('stopped');
    await expect(guest.run('add', [1, 1])).rejects.toMatchObject({ code: 'DBOS_ECLOSED' });
  });

  test('stop interrupts a running call', async () => {
    const guest = startGuest();
    const running = guest.run('spin_ns', [60_000_000_000]); // a minute of guest time
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    guest.stop();
    await expect(running).rejects.toMatchObject({ code: 'DBOS_ECLOSED' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('the engine also runs in ring 0 (the hardware-virtualization layout), emulated on PVM', () => {
    const guest = startGuest({ engineRing: 0 });
    try {
      expect(guest.info.engineRing).toBe(0);
      expect(guest.runSync('add', [20, 22])).toBe(42n);
      expect(guest.runSync('whoami') >> 32n).toBe(0n);
      // Faults are handled inside the #PF trap here (no upcall): the hardware path.
      expect(guest.runSync('fault_demand_zero', [GUEST_TEST_ABI.engineVa, 4, 1])).toBe(4n);
      expect(guest.runSync('kcall_nop_loop', [3])).toBeGreaterThan(0n);
    } finally {
      guest.stop();
    }
  });

  describe('calls', () => {
    let guest: Guest;
    beforeAll(() => {
      guest = startGuest({ vcpus: 2 });
    });
    afterAll(() => guest.stop());

    test('arguments and results cross intact, including negative and 64-bit values', async () => {
      expect(await guest.run('add', [40, 2])).toBe(42n);
      expect(await guest.run('add', [-5n, 3])).toBe(-2n);
      expect(await guest.run('add', [2n ** 62n, 2n ** 62n])).toBe(-(2n ** 63n));
      expect(guest.runSync('add', [0xffffffffffffffffn, 1])).toBe(0n);
    });

    test('unknown entries, bad arguments and a busy vCPU are refused', async () => {
      await expect(guest.run('no_such_entry')).rejects.toMatchObject({ code: 'DBOS_ENOENT' });
      await expect(guest.run('add', [1.5])).rejects.toThrow(TypeError);
      await expect(guest.run('add', [2n ** 64n])).rejects.toThrow(RangeError);
      await expect(guest.run('add', [1, 2, 3, 4, 5])).rejects.toThrow(TypeError);
      await expect(guest.run('add', [], { vcpu: 2 })).rejects.toThrow(RangeError);
      const long = guest.run('spin_ns', [200_000_000]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await expect(guest.run('add', [1, 2])).rejects.toMatchObject({ code: 'DBOS_EBUSY' });
      await long;
    });

    test('two vCPUs run guest code at the same time on shared memory', async () => {
      const word = guest.info.scratch.address + SCRATCH.word + 0x100;
      guest.write(word, Buffer.alloc(8));
      const rounds = 2_000_000;
      const [a, b] = await Promise.all([
        guest.run('atomic_add_loop', [word, rounds], { vcpu: 0 }),
        guest.run('atomic_add_loop', [word, rounds], { vcpu: 1 }),
      ]);
      expect(guest.read(word, 8).readBigUInt64LE(0)).toBe(BigInt(2 * rounds));
      expect(a > BigInt(rounds) || b > BigInt(rounds)).toBe(true);
      expect(Number(guest.runSync('whoami', [], { vcpu: 1 }) & 0xffffn)).toBe(1);
    });

    test('LAPIC timer ticks are delivered to the guest', async () => {
      const periodNs = 1_000_000;
      const spinNs = 60_000_000;
      const ticks = Number(await guest.run('timer_ticks', [periodNs, spinNs]));
      // ~60 expected; interrupts are counted by the guest's own handler. A busy host can
      // deschedule the vCPU thread and KVM then coalesces periods, so only "several" is certain.
      expect(ticks).toBeGreaterThanOrEqual(3);
      expect(ticks).toBeLessThan((spinNs / periodNs) * 2);
      // Stopped afterwards: no more ticks.
      expect(Number(await guest.run('timer_ticks', [0, 0]))).toBeLessThanOrEqual(1);
    });

    test('kernel calls through the trap gate return', async () => {
      const ns = await guest.run('kcall_nop_loop', [10]);
      expect(ns).toBeGreaterThan(0n);
    });
  });

  describe('failures become JavaScript errors and Node keeps running', () => {
    const cases: Array<[string, number, (failure: GuestError['failure']) => void]> = [
      ['an engine panic (platform_panic)', 0, (f) => expect(f.message).toMatch(/deliberate panic/)],
      [
        'a NULL dereference (#PF)',
        1,
        (f) => {
          expect(f.message).toMatch(/unhandled page fault/);
          expect(f.registers?.vector).toBe(14n);
          expect(f.registers?.cr2).toBe(8n);
        },
      ],
      ['an invalid opcode (#UD)', 2, (f) => expect(f.registers?.vector).toBe(6n)],
      ['a divide error (#DE)', 3, (f) => expect(f.registers?.vector).toBe(0n)],
    ];
    for (const [name, kind, check] of cases) {
      test(name, async () => {
        const guest = startGuest();
        try {
          const error = await guest.run('crash', [kind, 1]).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(GuestError);
          expect(hasCode(error, 'DBOS_EGUEST')).toBe(true);
          const failure = (error as GuestError).failure;
          expect(failure.kind).toBe('panic');
          expect(failure.vcpu).toBe(0);
          expect(failure.registers).not.toBeNull();
          expect(failure.registers!.rip).toBeGreaterThan(0x100000n);
          check(failure);
          expect(guest.status).toBe('failed');
          expect(guest.failure).toEqual(failure);
          // A failed guest stays failed, with the same report.
          await expect(guest.run('add', [1, 2])).rejects.toMatchObject({ code: 'DBOS_EGUEST', failure: { kind: 'panic' } });
        } finally {
          guest.stop();
        }
        const next = startGuest();
        expect(next.runSync('add', [1, 2])).toBe(3n);
        next.stop();
      });
    }
  });
});

describe.skipIf(!guestRuns)('KVM failure exits become guest failures, never crashes', () => {
  test('an instruction PVM cannot emulate (rdtscp in ring 0): internal-error with registers', async () => {
    const guest = startGuest({ engineRing: 0 });
    try {
      const error = await guest.run('crash', [5]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestError);
      const failure = (error as GuestError).failure;
      if (guest.info.kvm === 'pvm') {
        expect(failure.kind).toBe('internal-error');
        expect(failure.message).toMatch(/KVM_EXIT_INTERNAL_ERROR/);
        expect(failure.registers!.rip).toBeGreaterThan(0x100000n);
      }
    } finally {
      guest.stop();
    }
  });

  test('a triple fault (empty IDT, then #UD): shutdown with registers', async () => {
    const guest = startGuest({ engineRing: 0 });
    try {
      const error = await guest.run('crash', [6]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestError);
      const failure = (error as GuestError).failure;
      expect(failure.kind).toBe('shutdown');
      expect(failure.message).toMatch(/triple fault/);
      expect(failure.registers).not.toBeNull();
    } finally {
      guest.stop();
    }
    const next = startGuest(); // and the next guest is fine
    expect(next.runSync('add', [1, 2])).toBe(3n);
    next.stop();
  });
});

describe('refusals name the reason', () => {
  const withDevice = <T>(device: string, body: () => T): T => {
    const saved = process.env.DBOS_KVM_DEVICE;
    process.env.DBOS_KVM_DEVICE = device;
    try {
      return body();
    } finally {
      if (saved === undefined) delete process.env.DBOS_KVM_DEVICE;
      else process.env.DBOS_KVM_DEVICE = saved;
    }
  };

  test('a missing KVM device: DBOS_ENOTSUP saying so', () => {
    withDevice('/nonexistent/kvm', () => {
      expect(Guest.available()).toMatchObject({ available: false, code: 'DBOS_ENOTSUP', reason: expect.stringMatching(/No such file/) });
      expect(() => startGuest()).toThrow(expect.objectContaining({ code: 'DBOS_ENOTSUP', message: expect.stringMatching(/nonexistent/) }));
    });
  });

  test('a device that is not KVM: DBOS_ENOTSUP naming the failed check', () => {
    withDevice('/dev/null', () => {
      expect(Guest.available()).toMatchObject({
        available: false,
        code: 'DBOS_ENOTSUP',
        reason: expect.stringMatching(/KVM_GET_API_VERSION/),
      });
    });
  });
});

describe.skipIf(!guestRuns)('engine stack', () => {
  test('deep recursion works; overflowing into the guard page is a guest panic, not corruption', async () => {
    const guest = startGuest();
    try {
      expect(guest.runSync('stack_depth', [100])).toBe(100n); // ~100 KiB of stack
      const error = await guest.run('stack_depth', [400]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestError);
      const failure = (error as GuestError).failure;
      expect(failure.kind).toBe('panic');
      const guard = BigInt(GUEST_TEST_ABI.cpuAreaGpa + GUEST_TEST_ABI.cpuGuard); // vCPU 0's guard page
      const cr2 = failure.registers!.cr2!;
      expect(cr2 >= guard && cr2 < guard + 4096n).toBe(true);
    } finally {
      guest.stop();
    }
  });
});
