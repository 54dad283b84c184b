/*
 * memory.c - entry points over the guest's own page tables: map, unmap,
 * protect, A/D bits, demand faults.
 */
#include "dbos/guest_kernel.h"

/* Returns a pool frame's guest-physical address (or -status). */
DBOS_GUEST_ENTRY(frame_alloc)
{
	uint64_t pa;
	dbos_status status = dbos_guest_frame_alloc(&pa);
	return status == DBOS_OK ? (int64_t)pa : -(int64_t)status;
}

DBOS_GUEST_ENTRY(frame_free)
{
	dbos_guest_frame_free(a0);
	return 0;
}

/* map(va a0, pa a1, prot a2) -> -status */
DBOS_GUEST_ENTRY(pte_map)
{
	return -(int64_t)dbos_guest_pte_map(a0, a1, (enum dbos_prot)a2);
}

/* unmap(va a0) -> old PTE, or -status */
DBOS_GUEST_ENTRY(pte_unmap)
{
	uint64_t pte = 0;
	dbos_status status = dbos_guest_pte_unmap(a0, &pte);
	return status == DBOS_OK ? (int64_t)(pte & ~DBOS_PTE_NO_EXECUTE) : -(int64_t)status;
}

DBOS_GUEST_ENTRY(pte_protect)
{
	return -(int64_t)dbos_guest_pte_protect(a0, (enum dbos_prot)a1);
}

/* The PTE for a0 without its NX bit (so it stays a positive int64). */
DBOS_GUEST_ENTRY(pte_query)
{
	return (int64_t)(dbos_guest_pte_query(a0) & ~DBOS_PTE_NO_EXECUTE);
}

DBOS_GUEST_ENTRY(pte_clear_ad)
{
	return (int64_t)dbos_guest_pte_clear_accessed_dirty(a0);
}

DBOS_GUEST_ENTRY(mem_read64)
{
	return (int64_t) * (volatile uint64_t *)(uintptr_t)a0;
}

DBOS_GUEST_ENTRY(mem_write64)
{
	*(volatile uint64_t *)(uintptr_t)a0 = a1;
	return 0;
}

/* ---- Demand paging through a registered #PF handler -------------------- */

struct demand_region {
	uint64_t faults;
};

/* Runs on a fault in the region (ring-3 upcall on PVM, inside the #PF trap in ring 0): map a fresh zeroed frame. */
static bool demand_zero_fault(void *context, uint64_t address, uint64_t error_code)
{
	struct demand_region *region = context;
	uint64_t pa;
	if (dbos_guest_frame_alloc(&pa) != DBOS_OK)
		return false;
	dbos_status status = dbos_guest_pte_map(DBOS_ALIGN_DOWN(address, DBOS_PAGE_SIZE), pa, DBOS_PROT_READ_WRITE);
	if (status != DBOS_OK) {
		dbos_guest_frame_free(pa);
		return false;
	}
	region->faults++;
	return true;
}

/*
 * Register a demand-zero handler on [a0, a0 + a1 pages), write one word in
 * each page (value = page index + a2), read them all back, unmap and free the
 * pages, unregister.  Returns faults taken (== a1 when all worked), or a
 * negative value on a mismatch.  Guest ns spent on the touch loop go to the
 * u64 at guest-physical a3 when a3 != 0.
 */
DBOS_GUEST_ENTRY(fault_demand_zero)
{
	struct demand_region region = { 0 };
	uint64_t end = a0 + a1 * DBOS_PAGE_SIZE;
	int64_t slot = dbos_guest_fault_register(a0, end, demand_zero_fault, &region);
	if (slot < 0)
		return slot;
	uint64_t start_ns = dbos_platform_now_ns();
	for (uint64_t page = 0; page < a1; page++)
		*(volatile uint64_t *)(uintptr_t)(a0 + page * DBOS_PAGE_SIZE) = page + a2;
	uint64_t elapsed_ns = dbos_platform_now_ns() - start_ns;
	int64_t result = (int64_t)region.faults;
	for (uint64_t page = 0; page < a1; page++) {
		uint64_t va = a0 + page * DBOS_PAGE_SIZE;
		if (*(volatile uint64_t *)(uintptr_t)va != page + a2 || *(volatile uint64_t *)(uintptr_t)(va + 8) != 0)
			result = -1;
	}
	dbos_guest_fault_unregister(slot);
	for (uint64_t page = 0; page < a1; page++) {
		uint64_t pte;
		if (dbos_guest_pte_unmap(a0 + page * DBOS_PAGE_SIZE, &pte) == DBOS_OK)
			dbos_guest_frame_free(pte & DBOS_PTE_ADDRESS_MASK);
	}
	if (a3)
		*(uint64_t *)(uintptr_t)a3 = elapsed_ns;
	return result;
}

/*
 * a1 rounds of map + write + unmap (each with its INVLPG) of one page at
 * va a0; returns elapsed guest ns, or a negative status.
 */
DBOS_GUEST_ENTRY(pte_map_unmap_loop)
{
	uint64_t pa;
	if (dbos_guest_frame_alloc(&pa) != DBOS_OK)
		return -(int64_t)DBOS_ENOMEM;
	uint64_t start = dbos_platform_now_ns();
	for (uint64_t i = 0; i < a1; i++) {
		dbos_status status = dbos_guest_pte_map(a0, pa, DBOS_PROT_READ_WRITE);
		if (status != DBOS_OK)
			return -(int64_t)status;
		*(volatile uint64_t *)(uintptr_t)a0 = i;
		if (dbos_guest_pte_unmap(a0, 0) != DBOS_OK)
			return -(int64_t)DBOS_EINVAL;
	}
	uint64_t elapsed = dbos_platform_now_ns() - start;
	dbos_guest_frame_free(pa);
	return (int64_t)elapsed;
}
