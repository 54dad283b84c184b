/*
 * pt_pin.c - pins: pages that must stay mapped read-write while someone holds
 * a pointer that cannot take a fault (a JavaScript view, a latched page).
 */
#include "pt_internal.h"

static uint16_t pins_of(const dbos_pt_region *region, uint64_t page)
{
	return __atomic_load_n(&region->entries[page].pins, __ATOMIC_ACQUIRE);
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
	if (region == NULL || first >= region->page_count || count > region->page_count - first)
		return false;
	for (uint64_t page = first; page < first + count; page++) {
		if (pins_of(region, page) != 0)
			return true;
	}
	return false;
}

dbos_status dbos_pt_pages_check_unpinned(const dbos_pt_region *region, const dbos_pt_pages *pages)
{
	for (uint64_t i = 0; i < pages->count; i++) {
		if (pins_of(region, dbos_pt_pages_at(pages, i)) != 0)
			return DBOS_EBUSY;
	}
	return DBOS_OK;
}
