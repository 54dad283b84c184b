/*
 * pt_guest.h - the guest runtime of the pagetable core: the hooks of
 * pt_runtime.h implemented on the dbos guest kernel's own page tables
 * (dbos/guest_kernel.h in @dbos/hypercall).  Compiled only into guest
 * images: buildGuestImage() of @dbos/native-build links csrc/ and
 * csrc/guest/ of every package in an image's closure.  The conformance
 * cases (test/conformance/pt_cases.h) drive it in pagetable's test image.
 *
 *   pt_guest_region.c  reservation and per-run page operations: PTE writes + local INVLPG
 *   pt_guest_frames.c  frame pools: guest-physical frames with their own mapping
 *   pt_guest_dirty.c   dirty / present / accessed reports from the hardware A/D bits
 *   pt_guest_fault.c   the region's #PF handler: zero-fill or the core's fault handler
 *
 * Page states in the PTE itself (the core keeps its own entries; these let
 * the runtime act on a run without reading them):
 *
 *   0                               UNMAPPED: not present, faults are errors
 *   LAZY | prot << PROT_SHIFT       ANON never touched: not present; the first
 *                                   touch maps a zeroed frame (or asks the
 *                                   core's fault handler: MISSING)
 *   frame | P | ... | ANON_TAG      ANON backed: the frame belongs to the region
 *   frame | P | ...                 FRAME: the frame belongs to a frame pool
 *   frame | HIDDEN [| ANON_TAG]     ANON or FRAME protected PROT_NONE: not present,
 *                                   the frame and its contents kept
 */
#ifndef DBOS_PT_GUEST_H
#define DBOS_PT_GUEST_H

#include "../pt_internal.h"
#include "dbos/guest_kernel.h"

#define PT_GUEST_ANON_TAG (1ull << 9) /* present: a region-owned frame */
#define PT_GUEST_LAZY (1ull << 10)    /* absent: anonymous, zero on first touch */
#define PT_GUEST_HIDDEN (1ull << 11)  /* absent: PROT_NONE, the frame kept in the entry */
#define PT_GUEST_PROT_SHIFT 52        /* absent: the prot the page gets when backed */

struct dbos_pt_rt_region {
	int64_t fault_slot; /* the guest kernel's #PF handler slot for [base, base + size) */
};

struct dbos_pt_rt_frames {
	uint64_t *pa; /* guest-physical frame of each pool frame */
};

static inline uint64_t pt_guest_va(const dbos_pt_region *region, uint64_t page)
{
	return (uint64_t)(uintptr_t)region->base + page * DBOS_PAGE_SIZE;
}

/* Drop whatever the page holds now; region-owned frames go back to the pool. */
void pt_guest_page_clear(const dbos_pt_region *region, uint64_t page);

/* Back an absent page with a fresh zeroed frame (copying `bytes` when not NULL). */
dbos_status pt_guest_page_back(const dbos_pt_region *region, uint64_t page, const void *bytes);

/* pt_guest_fault.c: the handler registered with the guest kernel at region init. */
bool pt_guest_fault_handler(void *context, uint64_t address, uint64_t error_code);

#endif
