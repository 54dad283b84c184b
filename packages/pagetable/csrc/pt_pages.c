/* pt_pages.c - page sets: validation and coalescing into runs. */
#include "pt_internal.h"

bool dbos_pt_list_too_long(uint64_t count, uint64_t index_count)
{
	/* Each entry may cost a system call: a list this long is a caller bug, not a batch. */
	return count > index_count * 64 + 1024;
}

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
	if (dbos_pt_list_too_long(pages->count, region->page_count))
		return DBOS_EINVAL;
	for (uint64_t i = 0; i < pages->count; i++) {
		if (pages->list[i] >= region->page_count)
			return DBOS_ERANGE;
	}
	return DBOS_OK;
}

dbos_status dbos_pt_memory_check(uint64_t page_count, uint64_t bytes_per_page)
{
	DBOS_ASSERT(bytes_per_page >= 1 && bytes_per_page <= DBOS_PAGE_SIZE);
	uint64_t budget_bytes = dbos_pt_rt_memory_bytes() / 2;
	return page_count > budget_bytes / bytes_per_page ? DBOS_ENOMEM : DBOS_OK;
}

/* The entry every page outside the written extent has (the region's initial state). */
static dbos_pt_page_info initial_info(const dbos_pt_region *region)
{
	dbos_pt_page_info info = { region->initial_state,
				   region->initial_state == DBOS_PT_ANON ? DBOS_PROT_READ_WRITE : DBOS_PROT_NONE,
				   UINT32_MAX };
	return info;
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
	/* Ranges skip the unwritten parts of the region: their entries are known without reading them. */
	bool skips = split_by_entry && pages->list == NULL && (pair == NULL || pair->list == NULL);
	dbos_pt_page_info initial = initial_info(region);
	while (length < remaining) {
		uint64_t next = dbos_pt_pages_at(pages, index + length);
		if (skips && entries_continue(&info, &initial) && info.state != DBOS_PT_FRAME) {
			uint64_t known = dbos_pt_unwritten_end(region, next);
			if (known > next) {
				uint64_t skip = known - next < remaining - length ? known - next : remaining - length;
				length += skip;
				info = initial;
				continue;
			}
		}
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
