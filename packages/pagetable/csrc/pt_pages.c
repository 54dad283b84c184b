/* pt_pages.c - page sets: validation and coalescing into runs. */
#include "pt_internal.h"

dbos_status dbos_pt_pages_check(const dbos_pt_region *region, const dbos_pt_pages *pages)
{
	DBOS_ASSERT(region != NULL && pages != NULL);
	if (pages->count == 0)
		return DBOS_OK;
	if (pages->list == NULL) {
		/* Written so that first + count cannot overflow. */
		if (pages->first >= region->page_count || pages->count > region->page_count - pages->first)
			return DBOS_ERANGE;
		return DBOS_OK;
	}
	if (pages->count > region->page_count * 64 + 1024)
		return DBOS_EINVAL; /* a list this long is a caller bug, not a batch */
	for (uint64_t i = 0; i < pages->count; i++) {
		if (pages->list[i] >= region->page_count)
			return DBOS_ERANGE;
	}
	return DBOS_OK;
}

static bool entries_continue(const dbos_pt_page_info *previous, const dbos_pt_page_info *next)
{
	if (previous->state != next->state || previous->prot != next->prot)
		return false;
	return previous->state != DBOS_PT_FRAME || next->frame == previous->frame + 1;
}

uint64_t dbos_pt_run_length(const dbos_pt_region *region, const dbos_pt_pages *pages, uint64_t index,
			    const dbos_pt_pages *pair, bool split_by_entry)
{
	DBOS_ASSERT(index < pages->count);
	uint64_t remaining = pages->count - index;
	/* A plain range needs no walk: the common bulk case stays O(1). */
	if (!split_by_entry && pages->list == NULL && (pair == NULL || pair->list == NULL))
		return remaining;

	uint64_t page = dbos_pt_pages_at(pages, index);
	uint64_t partner = pair ? dbos_pt_pages_at(pair, index) : 0;
	dbos_pt_page_info info = { 0 };
	if (split_by_entry)
		info = dbos_pt_entry_info(region, page);
	uint64_t length = 1;
	while (length < remaining) {
		uint64_t next = dbos_pt_pages_at(pages, index + length);
		if (next != page + length)
			break;
		if (pair && dbos_pt_pages_at(pair, index + length) != partner + length)
			break;
		if (split_by_entry) {
			dbos_pt_page_info next_info = dbos_pt_entry_info(region, next);
			if (!entries_continue(&info, &next_info))
				break;
			info = next_info;
		}
		length++;
	}
	DBOS_ASSERT(length >= 1 && length <= remaining);
	return length;
}
