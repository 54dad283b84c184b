// Numbers the guest tests share with the C headers (dbos/guest_abi.h, dbos/guest_kernel.h,
// dbos/platform.h, dbos/status.h, Linux's statx), in one place: test/abi.test.ts pins each one.
export const GUEST_TEST_ABI = {
  /** DBOS_GUEST_ENGINE_VA: where engine mappings start (PML4 slot 1). */
  engineVa: 2 ** 39,
  /** DBOS_PAGE_SIZE. */
  page: 4096,
  /** DBOS_PROT_READ, DBOS_PROT_READ_WRITE. */
  protRead: 1,
  protReadWrite: 3,
  /** DBOS_PTE_*. */
  ptePresent: 0x1n,
  pteWrite: 0x2n,
  pteAccessed: 0x20n,
  pteDirty: 0x40n,
  pteAddressMask: 0x000ffffffffff000n,
  /** DBOS_EINVAL, DBOS_ENOENT, DBOS_EEXIST: entries return -status. */
  statusEinval: 1,
  statusEnoent: 11,
  statusEexist: 12,
  /** DBOS_GUEST_CPU_GPA and DBOS_GUEST_CPU_GUARD: vCPU 0's area and its engine stack's guard page. */
  cpuAreaGpa: 0x400000,
  cpuGuard: 0x10000,
  /** DBOS_HC_RING_ENTRIES: requests per doorbell. */
  ringEntries: 64,
  /** Linux STATX_SIZE and offsetof(struct statx, stx_size). */
  statxSizeMask: 0x200,
  statxSizeOffset: 40,
} as const;
