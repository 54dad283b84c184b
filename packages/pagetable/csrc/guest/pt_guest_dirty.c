/*
 * pt_guest_dirty.c - dirty, present and accessed pages straight from the
 * PTEs: the MMU sets A on every access and D on every write (on PVM the
 * shadow MMU emulates both).  Collecting is a native walk of the region's
 * entries; resetting clears the bits and flushes the entry so the next access
 * walks the tables and sets them again.
 */
#include "pt_guest.h"

dbos_status dbos_pt_rt_dirty_start(dbos_pt_region *region, enum dbos_pt_dirty_mechanism mechanism)
{
	if (mechanism != DBOS_PT_DIRTY_PTE_BITS)
		return DBOS_ENOTSUP;
	for (uint64_t page = 0; page < region->page_count; page++)
		(void)dbos_guest_pte_clear_bits(pt_guest_va(region, page), DBOS_PTE_DIRTY);
	return DBOS_OK;
}

dbos_status dbos_pt_rt_dirty_stop(dbos_pt_region *region)
{
	(void)region; /* the hardware keeps setting D; nobody asks any more */
	return DBOS_OK;
}

/* Report pages of [first, first + count) whose entry has all of `bits` (reset them when asked). */
static dbos_status collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint64_t bits, bool reset,
			   uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	uint64_t found = 0, page = first;
	for (; page < first + count; page++) {
		uint64_t va = pt_guest_va(region, page);
		uint64_t entry = dbos_guest_pte_query(va);
		bool match = bits == DBOS_PTE_PRESENT ? ((entry & DBOS_PTE_PRESENT) || (entry & PT_GUEST_HIDDEN))
						      : (entry & DBOS_PTE_PRESENT) && (entry & bits) == bits;
		if (!match)
			continue;
		if (found == capacity)
			break;
		pages[found++] = (uint32_t)page;
		if (reset)
			(void)dbos_guest_pte_clear_bits(va, bits);
	}
	*found_out = found;
	*next_out = page;
	return DBOS_OK;
}

dbos_status dbos_pt_rt_dirty_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				     uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	return collect(region, first, count, DBOS_PTE_DIRTY, flags & DBOS_PT_COLLECT_RESET, pages, capacity, found_out,
		       next_out);
}

dbos_status dbos_pt_rt_dirty_reset(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	for (uint64_t page = first; page < first + count; page++)
		(void)dbos_guest_pte_clear_bits(pt_guest_va(region, page), DBOS_PTE_DIRTY);
	return DBOS_OK;
}

dbos_status dbos_pt_rt_present_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t *pages,
				       uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	return collect(region, first, count, DBOS_PTE_PRESENT, false, pages, capacity, found_out, next_out);
}

dbos_status dbos_pt_rt_accessed_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
					uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	return collect(region, first, count, DBOS_PTE_ACCESSED, flags & DBOS_PT_COLLECT_RESET, pages, capacity,
		       found_out, next_out);
}
