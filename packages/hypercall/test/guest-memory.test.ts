// The guest's own page tables, driven by guest code: map / unmap / protect visible to the
// guest's loads and stores, hardware accessed/dirty bits, demand faults through a registered
// #PF handler, and dbos/platform.h on top of them.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Guest, GuestError } from '../src/guest.js';
import { GUEST_TEST_ABI } from './guest-abi.js';
import { guestRuns, startGuest } from './guest-helpers.js';

const ABI = GUEST_TEST_ABI;
const ENGINE_VA = ABI.engineVa;
const PAGE = ABI.page;
const PROT_READ = ABI.protRead;
const PROT_READ_WRITE = ABI.protReadWrite;
const PTE_PRESENT = ABI.ptePresent;
const PTE_WRITE = ABI.pteWrite;
const PTE_ACCESSED = ABI.pteAccessed;
const PTE_DIRTY = ABI.pteDirty;
const PTE_ADDRESS = ABI.pteAddressMask;
// -dbos_status values the entries return.
const EINVAL = -BigInt(ABI.statusEinval);
const ENOENT = -BigInt(ABI.statusEnoent);
const EEXIST = -BigInt(ABI.statusEexist);

describe.skipIf(!guestRuns)('guest page tables', () => {
  let guest: Guest;
  beforeAll(() => {
    guest = startGuest({ memory: 32 * 1024 * 1024 });
  });
  afterAll(() => guest.stop());

  const run = (entry: string, args: Array<number | bigint> = []) => guest.runSync(entry, args);

  test('map makes a frame visible to guest code; A/D bits come from the hardware walk', () => {
    const va = ENGINE_VA + 16 * PAGE;
    const pa = Number(run('frame_alloc'));
    expect(pa).toBeGreaterThanOrEqual(0x800000);
    guest.write(pa, Buffer.from('8 bytes!'));
    expect(run('pte_map', [va, pa, PROT_READ_WRITE])).toBe(0n);
    expect(run('mem_read64', [va])).toBe(Buffer.from('8 bytes!').readBigInt64LE(0));
    let pte = run('pte_query', [va]);
    expect(pte & PTE_ADDRESS).toBe(BigInt(pa));
    expect(pte & (PTE_PRESENT | PTE_WRITE | PTE_ACCESSED)).toBe(PTE_PRESENT | PTE_WRITE | PTE_ACCESSED);
    expect(pte & PTE_DIRTY).toBe(0n); // read only so far
    run('mem_write64', [va, 0x1234]);
    expect(run('pte_query', [va]) & PTE_DIRTY).toBe(PTE_DIRTY);
    expect(guest.read(pa, 8).readBigUInt64LE(0)).toBe(0x1234n); // the guest's store hit that frame
    // Clear A/D (with INVLPG): a read sets A again but not D.
    expect(run('pte_clear_ad', [va])).toBe(PTE_ACCESSED | PTE_DIRTY);
    expect(run('pte_query', [va]) & (PTE_ACCESSED | PTE_DIRTY)).toBe(0n);
    run('mem_read64', [va]);
    pte = run('pte_query', [va]);
    expect(pte & (PTE_ACCESSED | PTE_DIRTY)).toBe(PTE_ACCESSED);
    // Unmap returns the old entry; the frame keeps its contents.
    expect(run('pte_unmap', [va]) & PTE_ADDRESS).toBe(BigInt(pa));
    expect(run('pte_query', [va]) & PTE_PRESENT).toBe(0n);
    expect(run('pte_unmap', [va])).toBe(ENOENT);
    expect(run('frame_free', [pa])).toBe(0n);
  });

  test('two virtual pages on one frame alias; remapping moves the data without copying', () => {
    const a = ENGINE_VA + 32 * PAGE;
    const b = ENGINE_VA + 1000 * PAGE;
    const pa = Number(run('frame_alloc'));
    expect(run('pte_map', [a, pa, PROT_READ_WRITE])).toBe(0n);
    expect(run('pte_map', [b, pa, PROT_READ_WRITE])).toBe(0n);
    run('mem_write64', [a + 64, 777]);
    expect(run('mem_read64', [b + 64])).toBe(777n);
    expect(run('pte_unmap', [a]) & PTE_ADDRESS).toBe(BigInt(pa));
    expect(run('mem_read64', [b + 64])).toBe(777n);
    expect(run('pte_unmap', [b]) & PTE_ADDRESS).toBe(BigInt(pa));
    run('frame_free', [pa]);
  });

  test('protect: read-only keeps reads, drops the write bit; bad requests are refused', () => {
    const va = ENGINE_VA + 48 * PAGE;
    const pa = Number(run('frame_alloc'));
    expect(run('pte_map', [va, pa, PROT_READ_WRITE])).toBe(0n);
    run('mem_write64', [va, 5]);
    expect(run('pte_protect', [va, PROT_READ])).toBe(0n);
    expect(run('pte_query', [va]) & PTE_WRITE).toBe(0n);
    expect(run('mem_read64', [va])).toBe(5n);
    expect(run('pte_protect', [va, PROT_READ_WRITE])).toBe(0n);
    run('mem_write64', [va, 6]);
    expect(run('mem_read64', [va])).toBe(6n);
    expect(run('pte_map', [va, pa, PROT_READ_WRITE])).toBe(EEXIST);
    expect(run('pte_map', [0x200000, pa, PROT_READ_WRITE])).toBe(EINVAL); // the kernel's identity map
    expect(run('pte_map', [ENGINE_VA + 49 * PAGE, 0x1000, PROT_READ_WRITE])).toBe(EINVAL); // not a pool frame
    expect(run('pte_map', [ENGINE_VA + 49 * PAGE + 8, pa, PROT_READ_WRITE])).toBe(EINVAL); // unaligned
    expect(run('pte_map', [ENGINE_VA + 49 * PAGE, pa, 0])).toBe(EINVAL); // PROT_NONE is unmap
    expect(run('pte_protect', [ENGINE_VA + 50 * PAGE, PROT_READ])).toBe(ENOENT);
    run('pte_unmap', [va]);
    run('frame_free', [pa]);
  });

  test('demand paging: a registered #PF handler maps zeroed frames on first touch', () => {
    const va = ENGINE_VA + (1 << 20) * PAGE; // fresh tables too
    expect(run('fault_demand_zero', [va, 64, 100])).toBe(64n);
    expect(run('fault_demand_zero', [va, 64, 200])).toBe(64n); // unmapped and freed after each run
  });

  test('dbos/platform.h inside the guest: reserve, commit, protect, discard, decommit, time, wait', () => {
    expect(run('platform_selftest')).toBe(0n);
  });
});

describe.skipIf(!guestRuns)('guest memory faults that nobody handles', () => {
  test('a write to a page protected read-only is a guest panic with the fault address', async () => {
    const guest = startGuest({ memory: 16 * 1024 * 1024 });
    try {
      const va = ENGINE_VA + 3 * PAGE;
      const pa = Number(guest.runSync('frame_alloc'));
      expect(guest.runSync('pte_map', [va, pa, PROT_READ])).toBe(0n);
      const error = await guest.run('crash', [4, va]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestError);
      const registers = (error as GuestError).failure.registers!;
      expect(registers.vector).toBe(14n);
      expect(registers.cr2).toBe(BigInt(va));
      expect(registers.errorCode! & 0x3n).toBe(0x3n); // present + write
    } finally {
      guest.stop();
    }
  });

  test('an access after unmap faults', async () => {
    const guest = startGuest({ memory: 16 * 1024 * 1024 });
    try {
      const va = ENGINE_VA + 5 * PAGE;
      const pa = Number(guest.runSync('frame_alloc'));
      expect(guest.runSync('pte_map', [va, pa, PROT_READ_WRITE])).toBe(0n);
      expect(guest.runSync('mem_read64', [va])).toBe(0n);
      guest.runSync('pte_unmap', [va]);
      const error = await guest.run('mem_read64', [va]).catch((e: unknown) => e);
      expect((error as GuestError).failure.registers!.cr2).toBe(BigInt(va));
      expect((error as GuestError).failure.message).toMatch(/unhandled page fault/);
    } finally {
      guest.stop();
    }
  });
});

describe.skipIf(!guestRuns)('the system-call gateway inside the guest', () => {
  test('dbos_gateway_shared: openat, pwrite from scattered frames, pread, statx, ftruncate, close', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-guest-gw-'));
    const dirFd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    const guest = startGuest({ memory: 16 * 1024 * 1024 });
    try {
      const guestDir = guest.grantFd(dirFd, { access: 'read-write' });
      expect(await guest.run('gateway_selftest', [guestDir])).toBe(0n);
      expect(fs.statSync(path.join(dir, 'gateway.dat')).size).toBe(1000);
      const data = fs.readFileSync(path.join(dir, 'gateway.dat'));
      expect(data[0]).toBe((100 * 7 + 1) & 0xff);
    } finally {
      guest.stop();
      fs.closeSync(dirFd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
