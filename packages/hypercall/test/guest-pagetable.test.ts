// @dbos/pagetable's C core inside the guest, on its guest runtime (PTE writes, local INVLPG,
// the guest #PF handler, hardware A/D bits): lazy maps, present/dirty/accessed reports, move,
// protect (incl. PROT_NONE keeping contents), discard, frame pools, the core's fault handler.
import { expect, test } from 'vitest';
import { Guest } from '../src/guest.js';
import { guestRuns } from './guest-helpers.js';

test.skipIf(!guestRuns)('the pagetable core runs on the guest runtime', () => {
  const guest = Guest.start({ memory: 32 * 1024 * 1024 });
  try {
    expect(guest.entries()).toContain('pt_selftest');
    // 0: every step held; -N names the failed step in packages/pagetable/csrc/guest/pt_guest_selftest.c.
    expect(guest.runSync('pt_selftest')).toBe(0n);
  } finally {
    guest.stop();
  }
});
