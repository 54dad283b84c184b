/*
 * pt_pin.c - pins: pages that must stay mapped read-write while someone holds
 * a pointer that cannot take a fault (a JavaScript view, a latched page).
 */
#include "pt_internal.h"

static uint16_t pins_of(const dbos_pt_region *region, uint64_t page)
{
	return __atomic_load_n(&region->entries[page].pins, __ATOMIC_ACQUIRE);
}

/* Widen the pinned extent to cover [first, end) before the pins are taken; lock-free, monotonic. */
static void pinned_widen(dbos_pt_region *region, uint64_t first, uint64_t end)
{
	uint_fast64_t seen = atomic_load(&region->pinned_first);
	while (first < seen && !atomic_compare_exchange_weak(&region->pinned_first, &seen, first))
		;
	seen = atomic_load(&region->pinned_end);
	while (end > seen && !atomic_compare_exchange_weak(&region->pinned_end, &seen, end))
		;
}

/* Clamp [first, first + count) to the pinned extent; false when no page of it can be pinned. */
static bool pinned_clamp(const dbos_pt_region *region, uint64_t first, uint64_t count, uint64_t *begin_out,
			 uint64_t *end_out)
{
	uint64_t lo = atomic_load(&region->pinned_first);
	uint64_t hi = atomic_load(&region->pinned_end);
	*begin_out = first > lo ? first : lo;
	*end_out = first + count < hi ? first + count : hi;
	return *begin_out < *end_out;
}

dbos_status dbos_pt_pin(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	if (region == NULL || count == 0)
		return DBOS_EINVAL;
	if (first >= region->page_count || count > region->page_count - first)
		return DBOS_ERANGE;
	if (!dbos_pt_range_accessible(region, first, count, DBOS_PROT_READ_WRITE))
		return DBOS_EFAULT;
	for (uint64_t page = first; page < first + count; page++) {
		if (pins_of(region, page) == DBOS_PT_PIN_COUNT_MAX)
			return DBOS_ELIMIT;
	}
	pinned_widen(region, first, first + count);
	for (uint64_t page = first; page < first + count; page++)
		__atomic_fetch_add(&region->entries[page].pins, 1, __ATOMIC_ACQ_REL);
	return DBOS_OK;
}

void dbos_pt_unpin(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	DBOS_ASSERT(region != NULL && first < region->page_count && count <= region->page_count - first);
	for (uint64_t page = first; page < first + count; page++) {
		uint16_t before = __atomic_fetch_sub(&region->entries[page].pins, 1, __ATOMIC_ACQ_REL);
		DBOS_ASSERT(before > 0); /* unpinned more often than pinned */
	}
}

bool dbos_pt_range_pinned(const dbos_pt_region *region, uint64_t first, uint64_t count)
{
	uint64_t begin = 0, end = 0;
	if (region == NULL || first >= region->page_count || count > region->page_count - first ||
	    !pinned_clamp(region, first, count, &begin, &end))
		return false;
	for (uint64_t page = begin; page < end; page++) {
		if (pins_of(region, page) != 0)
			return true;
	}
	return false;
}

dbos_status dbos_pt_pages_check_unpinned(const dbos_pt_region *region, const dbos_pt_pages *pages)
{
	if (pages->list == NULL)
		return pages->count != 0 && dbos_pt_range_pinned(region, pages->first, pages->count) ? DBOS_EBUSY
												     : DBOS_OK;
	uint64_t lo = atomic_load(&region->pinned_first);
	uint64_t hi = atomic_load(&region->pinned_end);
	for (uint64_t i = 0; i < pages->count; i++) {
		uint64_t page = pages->list[i];
		if (page >= lo && page < hi && pins_of(region, page) != 0)
			return DBOS_EBUSY;
	}
	return DBOS_OK;
}
