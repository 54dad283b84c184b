/*
 * dbos/guest_kernel.h - what code running inside the dbos guest kernel may
 * call: this vCPU, kernel calls, page-table entries, frames, page-fault
 * handlers and hypercalls.  Compiled only into the guest image.
 *
 * Engine code runs in guest ring 0 where ring 0 runs natively (hardware
 * virtualization) and in guest ring 3 where ring 0 is emulated (PVM).  These
 * functions work the same from both: dbos_guest_kcall() is a direct call in
 * ring 0 and an int3 trap gate in ring 3.  Page tables are identity-mapped
 * and readable/writable from the engine, so map/unmap/protect write PTEs
 * natively and only INVLPG needs the kernel.
 */
#ifndef DBOS_GUEST_KERNEL_H
#define DBOS_GUEST_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/guest_abi.h"
#include "dbos/hypercall_abi.h"
#include "dbos/platform.h"

/* ---- This vCPU ---------------------------------------------------------- */

/* Every stack of a vCPU lies inside its 256 KiB-aligned area (guest_abi.h). */
static inline struct dbos_guest_cpu *dbos_guest_cpu_self(void)
{
	uintptr_t sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return (struct dbos_guest_cpu *)(sp & ~(uintptr_t)(DBOS_GUEST_CPU_SIZE - 1));
}

static inline const volatile struct dbos_guest_boot *dbos_guest_boot_block(void)
{
	return (const volatile struct dbos_guest_boot *)(uintptr_t)DBOS_GUEST_BOOT_GPA;
}

/* Current privilege level: 0 (kernel or hardware engine) or 3 (PVM engine). */
static inline unsigned dbos_guest_cpl(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3u;
}

static inline uint64_t dbos_guest_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Nanoseconds from TSC ticks, using the host-measured TSC rate. */
uint64_t dbos_guest_tsc_to_ns(uint64_t ticks);

/* ---- Kernel calls ------------------------------------------------------- */

/* Implemented in the kernel; ring-0 callers land here directly. */
uint64_t dbos_kcall_dispatch(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);

/*
 * Enter the guest kernel.  From ring 3: int3 through the DPL-3 gate (#BP);
 * the kernel reads rax/rdi/rsi/rdx/r10 from the trap frame and returns the
 * result in rax (~8-18 us on PVM).  SYSCALL cannot be used: under PVM it does
 * not change CPL (docs/guest-boot.md).
 */
static inline uint64_t dbos_guest_kcall(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	if (dbos_guest_cpl() == 0)
		return dbos_kcall_dispatch(number, a0, a1, a2, a3);
	register uint64_t r10 __asm__("r10") = a3;
	uint64_t result = number;
	__asm__ volatile("int3" : "+a"(result) : "D"(a0), "S"(a1), "d"(a2), "r"(r10) : "memory");
	return result;
}

static inline void dbos_guest_invlpg(uint64_t va)
{
	dbos_guest_kcall(DBOS_KCALL_INVLPG, va, 0, 0, 0);
}

/* ---- Frames (guest-physical pages from the pool) ------------------------ */

/* One zeroed 4 KiB frame, or DBOS_ENOMEM. */
dbos_status dbos_guest_frame_alloc(uint64_t *pa_out);

/* Return a frame; it is zeroed here so allocation never has to. */
void dbos_guest_frame_free(uint64_t pa);

/* ---- Page-table entries ------------------------------------------------- */

#define DBOS_PTE_PRESENT 0x1ull
#define DBOS_PTE_WRITE 0x2ull
#define DBOS_PTE_USER 0x4ull
#define DBOS_PTE_CACHE_DISABLE 0x10ull
#define DBOS_PTE_ACCESSED 0x20ull
#define DBOS_PTE_DIRTY 0x40ull
#define DBOS_PTE_HUGE 0x80ull
#define DBOS_PTE_SOFTWARE_MASK (0x7ull << 9) /* bits 9-11: ignored by the MMU, ours */
#define DBOS_PTE_NO_EXECUTE (1ull << 63)
#define DBOS_PTE_ADDRESS_MASK 0x000ffffffffff000ull

/*
 * Engine mappings live in [DBOS_GUEST_ENGINE_VA, DBOS_GUEST_ENGINE_VA_END):
 * 4 KiB pages, intermediate tables allocated from the pool on demand.
 * `pa` must be a pool frame.  All of these flush only this vCPU's TLB
 * (local INVLPG); other vCPUs that may cache the entry are the caller's
 * business, as in libdbos' shootdown-free designs.
 */
dbos_status dbos_guest_pte_map(uint64_t va, uint64_t pa, enum dbos_prot prot);
/* map() with software bits (within DBOS_PTE_SOFTWARE_MASK) that query() and unmap() return. */
dbos_status dbos_guest_pte_map_tagged(uint64_t va, uint64_t pa, enum dbos_prot prot, uint64_t tag);
/*
 * Store a not-present entry carrying software data (bit 0 clear: the MMU
 * ignores the rest), e.g. "anonymous, zero-fill on first touch".  The #PF
 * handler of the range reads it back with query().  DBOS_EEXIST if present.
 */
dbos_status dbos_guest_pte_set_absent(uint64_t va, uint64_t value);
/*
 * Clear the entry; *pte_out (optional) gets the old entry with its A/D and
 * software bits.  DBOS_ENOENT when it was not present (absent data is still
 * returned and cleared).
 */
dbos_status dbos_guest_pte_unmap(uint64_t va, uint64_t *pte_out);
dbos_status dbos_guest_pte_protect(uint64_t va, enum dbos_prot prot);
/* The entry for va (0 when a level is missing): present, A and D bits. */
uint64_t dbos_guest_pte_query(uint64_t va);
/* Clear accessed and dirty; returns the bits that were set. */
uint64_t dbos_guest_pte_clear_accessed_dirty(uint64_t va);
/* Clear `bits` (ACCESSED and/or DIRTY) of a present entry; returns those that were set. */
uint64_t dbos_guest_pte_clear_bits(uint64_t va, uint64_t bits);
/* Guest-physical address behind any mapped va, or UINT64_MAX. */
uint64_t dbos_guest_va_to_pa(uint64_t va);

/* ---- Page faults -------------------------------------------------------- */

/*
 * A fault handler runs when an access in [start, end) faults: on PVM, where
 * the engine is in ring 3, by upcall in ring 3 on the faulting code's stack
 * (natively, like a signal handler); with the engine in ring 0, inside the
 * #PF trap.  It may map pages (dbos_guest_pte_map) and touch memory that is
 * mapped, but must not issue hypercalls (the interrupted code may be in the
 * middle of one).  Return true when the access can be retried.  error_code is
 * the CPU's #PF error code.
 */
typedef bool (*dbos_guest_fault_fn)(void *context, uint64_t address, uint64_t error_code);

#define DBOS_GUEST_FAULT_HANDLER_MAX 16u

/* Handle faults in [start, end); returns the slot or a negative dbos_status. */
int64_t dbos_guest_fault_register(uint64_t start, uint64_t end, dbos_guest_fault_fn handler, void *context);
void dbos_guest_fault_unregister(int64_t slot);

/* ---- Hypercalls (dbos/hypercall_abi.h) ---------------------------------- */

enum dbos_guest_doorbell {
	DBOS_GUEST_RING_SYNC = 0,      /* MMIO write: exit to this vCPU's host thread */
	DBOS_GUEST_RING_ASYNC = 1,     /* ioeventfd; poll for completions */
	DBOS_GUEST_RING_SYNC_PORT = 2, /* the sync doorbell as an OUT (through the int3 gate from ring 3) */
};

/* One request through the sync doorbell; returns its result (>= 0 or -errno). */
int64_t dbos_guest_hypercall(uint16_t op, int32_t fd, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);

/*
 * `count` requests with one doorbell (count <= DBOS_HC_RING_ENTRIES);
 * results[i] gets request i's result.  Blocks until all completed.
 */
dbos_status dbos_guest_hypercall_batch(const struct dbos_hc_request *requests, uint32_t count, int64_t *results,
				       enum dbos_guest_doorbell doorbell);

/* ---- Entry points callable from the host -------------------------------- */

typedef int64_t (*dbos_guest_entry_fn)(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);

/* Make `name` callable as guest.run('name', [a0..a3]) from JavaScript. */
#define DBOS_GUEST_ENTRY(name)                                                                                \
	static int64_t name(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);                              \
	static const char name##_entry_name[] = #name;                                                        \
	__attribute__((section(".dbos_entries"), used)) static const struct dbos_guest_entry name##_entry = { \
		(uint64_t)(uintptr_t)name##_entry_name, (uint64_t)(uintptr_t)name                             \
	};                                                                                                    \
	static int64_t name(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)

#endif /* DBOS_GUEST_KERNEL_H */
