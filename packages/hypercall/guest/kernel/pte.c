/*
 * pte.c - the engine's page-table entries, written directly.
 *
 * Page tables are identity-mapped guest RAM, so table pointers are physical
 * addresses.  The root is the host-built PML4 at DBOS_GUEST_PT_GPA; engine
 * mappings live under PML4 slot 1 and below (DBOS_GUEST_ENGINE_VA ..), never
 * in the identity map of RAM.  Intermediate tables are installed by CAS so
 * two vCPUs walking the same path agree without a lock.
 *
 * These functions run natively in ring 3 on PVM (writes to the tables are
 * ordinary stores) and only INVLPG goes through the kernel gate.  The host
 * never writes these tables after boot: PVM's shadow MMU would not see it.
 */
#include "kernel.h"

#define PT_LEVELS 4
#define PT_ENTRIES 512u
#define TABLE_FLAGS (DBOS_PTE_PRESENT | DBOS_PTE_WRITE | DBOS_PTE_USER)

static uint64_t *table_at(uint64_t entry)
{
	return (uint64_t *)(uintptr_t)(entry & DBOS_PTE_ADDRESS_MASK);
}

static uint32_t level_index(uint64_t va, int level)
{
	return (uint32_t)(va >> (DBOS_PAGE_SHIFT + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

/*
 * The level-1 entry for va.  With `create`, missing tables are allocated
 * (DBOS_ENOMEM when the pool is empty).  DBOS_ENOENT when a level is missing
 * and !create; DBOS_EINVAL when a huge page covers va.
 */
static dbos_status pte_walk(uint64_t va, bool create, uint64_t **pte_out)
{
	uint64_t *table = (uint64_t *)(uintptr_t)DBOS_GUEST_PT_GPA;
	for (int level = PT_LEVELS; level > 1; level--) {
		uint64_t *slot = &table[level_index(va, level)];
		uint64_t entry = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
		if (!(entry & DBOS_PTE_PRESENT)) {
			if (!create)
				return DBOS_ENOENT;
			uint64_t frame;
			dbos_status status = dbos_guest_frame_alloc(&frame);
			if (status != DBOS_OK)
				return status;
			uint64_t fresh = frame | TABLE_FLAGS;
			if (__atomic_compare_exchange_n(slot, &entry, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				entry = fresh;
			else
				dbos_guest_frame_free(frame); /* another vCPU installed one first */
		}
		if (entry & DBOS_PTE_HUGE)
			return DBOS_EINVAL;
		table = table_at(entry);
	}
	*pte_out = &table[level_index(va, 1)];
	return DBOS_OK;
}

static bool engine_va_valid(uint64_t va)
{
	return DBOS_IS_ALIGNED(va, DBOS_PAGE_SIZE) && va >= DBOS_GUEST_ENGINE_VA && va < DBOS_GUEST_ENGINE_VA_END;
}

static uint64_t prot_bits(enum dbos_prot prot)
{
	uint64_t bits = DBOS_PTE_PRESENT | DBOS_PTE_USER | DBOS_PTE_NO_EXECUTE;
	if (prot & DBOS_PROT_WRITE)
		bits |= DBOS_PTE_WRITE;
	return bits;
}

dbos_status dbos_guest_pte_map_tagged(uint64_t va, uint64_t pa, enum dbos_prot prot, uint64_t tag)
{
	const volatile struct dbos_guest_boot *boot = dbos_guest_boot_block();
	if (!engine_va_valid(va) || !DBOS_IS_ALIGNED(pa, DBOS_PAGE_SIZE) || pa < boot->pool_start ||
	    pa >= boot->pool_end || prot == DBOS_PROT_NONE || (prot & ~DBOS_PROT_READ_WRITE) ||
	    (tag & ~DBOS_PTE_SOFTWARE_MASK))
		return DBOS_EINVAL;
	uint64_t *pte;
	dbos_status status = pte_walk(va, true, &pte);
	if (status != DBOS_OK)
		return status;
	/* A not-present entry may carry software data (an absent marker): replace it. */
	uint64_t expected = __atomic_load_n(pte, __ATOMIC_ACQUIRE);
	if (expected & DBOS_PTE_PRESENT)
		return DBOS_EEXIST;
	if (!__atomic_compare_exchange_n(pte, &expected, pa | prot_bits(prot) | tag, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return DBOS_EEXIST;
	/* Not-present entries may still be cached by a shadow MMU: flush. */
	dbos_guest_invlpg(va);
	return DBOS_OK;
}

dbos_status dbos_guest_pte_map(uint64_t va, uint64_t pa, enum dbos_prot prot)
{
	return dbos_guest_pte_map_tagged(va, pa, prot, 0);
}

dbos_status dbos_guest_pte_set_absent(uint64_t va, uint64_t value)
{
	if (!engine_va_valid(va) || (value & DBOS_PTE_PRESENT))
		return DBOS_EINVAL;
	uint64_t *pte;
	dbos_status status = pte_walk(va, true, &pte);
	if (status != DBOS_OK)
		return status;
	uint64_t expected = __atomic_load_n(pte, __ATOMIC_ACQUIRE);
	if (expected & DBOS_PTE_PRESENT)
		return DBOS_EEXIST;
	/* Absent before and after: no TLB entry can exist for it, so no INVLPG. */
	return __atomic_compare_exchange_n(pte, &expected, value, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)
		       ? DBOS_OK
		       : DBOS_EEXIST;
}

dbos_status dbos_guest_pte_unmap(uint64_t va, uint64_t *pte_out)
{
	if (!engine_va_valid(va))
		return DBOS_EINVAL;
	uint64_t *pte;
	dbos_status status = pte_walk(va, false, &pte);
	if (status != DBOS_OK)
		return status;
	uint64_t old = __atomic_exchange_n(pte, 0, __ATOMIC_ACQ_REL);
	if (pte_out)
		*pte_out = old; /* an absent entry's software data too */
	if (!(old & DBOS_PTE_PRESENT))
		return DBOS_ENOENT;
	dbos_guest_invlpg(va);
	return DBOS_OK;
}

dbos_status dbos_guest_pte_protect(uint64_t va, enum dbos_prot prot)
{
	/* PROT_NONE is unmap(): it hands the frame back instead of hiding it. */
	if (!engine_va_valid(va) || prot == DBOS_PROT_NONE || (prot & ~DBOS_PROT_READ_WRITE))
		return DBOS_EINVAL;
	uint64_t *pte;
	dbos_status status = pte_walk(va, false, &pte);
	if (status != DBOS_OK)
		return status;
	uint64_t old = __atomic_load_n(pte, __ATOMIC_ACQUIRE);
	for (int attempt = 0; attempt < 64; attempt++) { /* bounded: A/D updates race with us */
		if (!(old & DBOS_PTE_PRESENT))
			return DBOS_ENOENT;
		uint64_t keep =
			old & (DBOS_PTE_ADDRESS_MASK | DBOS_PTE_ACCESSED | DBOS_PTE_DIRTY | DBOS_PTE_SOFTWARE_MASK);
		uint64_t next = keep | prot_bits(prot);
		if (__atomic_compare_exchange_n(pte, &old, next, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			dbos_guest_invlpg(va);
			return DBOS_OK;
		}
	}
	return DBOS_EBUSY;
}

uint64_t dbos_guest_pte_query(uint64_t va)
{
	uint64_t *table = (uint64_t *)(uintptr_t)DBOS_GUEST_PT_GPA;
	for (int level = PT_LEVELS; level >= 1; level--) {
		uint64_t entry = __atomic_load_n(&table[level_index(va, level)], __ATOMIC_ACQUIRE);
		if (level == 1 || !(entry & DBOS_PTE_PRESENT) || (entry & DBOS_PTE_HUGE))
			return entry;
		table = table_at(entry);
	}
	return 0;
}

uint64_t dbos_guest_pte_clear_bits(uint64_t va, uint64_t bits)
{
	if (!engine_va_valid(va) || (bits & ~(DBOS_PTE_ACCESSED | DBOS_PTE_DIRTY)))
		return 0;
	uint64_t *pte;
	if (pte_walk(va, false, &pte) != DBOS_OK)
		return 0;
	if (!(__atomic_load_n(pte, __ATOMIC_ACQUIRE) & DBOS_PTE_PRESENT))
		return 0;
	uint64_t old = __atomic_fetch_and(pte, ~bits, __ATOMIC_ACQ_REL);
	/* The CPU sets A/D only when it walks the table: drop the cached entry. */
	if (old & bits)
		dbos_guest_invlpg(va);
	return old & bits;
}

uint64_t dbos_guest_pte_clear_accessed_dirty(uint64_t va)
{
	return dbos_guest_pte_clear_bits(va, DBOS_PTE_ACCESSED | DBOS_PTE_DIRTY);
}

uint64_t dbos_guest_va_to_pa(uint64_t va)
{
	uint64_t entry = dbos_guest_pte_query(va);
	if (!(entry & DBOS_PTE_PRESENT))
		return UINT64_MAX;
	/* Level-1 entry (4 KiB) or a 2 MiB identity page: the query stops at either. */
	uint64_t page_size = (entry & DBOS_PTE_HUGE) ? DBOS_HUGE_PAGE_SIZE : DBOS_PAGE_SIZE;
	return (entry & DBOS_PTE_ADDRESS_MASK & ~(uint64_t)(page_size - 1)) | (va & (page_size - 1));
}
