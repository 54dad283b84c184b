/*
 * pt_shadow.c - the SHADOW_COMPARE dirty tracker, for runtimes without
 * write tracking.
 *
 * Keeps a copy of every mapped, readable page and reports a page dirty when
 * its bytes differ from the copy.  Cost: one extra page of memory per mapped
 * page, and each collection reads every mapped page of the range twice
 * (memcmp), so it runs at memory bandwidth (~1 GiB in ~0.1-0.3 s) however few
 * pages were written.  A write that leaves the bytes as they were is not
 * reported (content-changed semantics), and pages that are inaccessible
 * (PROT_NONE) are not compared.  Page operations are not writes: the shadow
 * of pages they touch is refreshed.
 */
#include "pt_internal.h"

dbos_status dbos_pt_shadow_start(dbos_pt_region *region)
{
	DBOS_ASSERT(region->shadow.bytes == NULL);
	/* The first copy covers the touched extent: it must fit, and each collection reads it twice. */
	uint64_t first = 0, count = 0;
	if (dbos_pt_touched_clamp(region, 0, region->page_count, &first, &count) &&
	    dbos_pt_memory_check(count, DBOS_PAGE_SIZE) != DBOS_OK)
		return DBOS_ENOMEM;
	void *bytes = NULL;
	dbos_status status = dbos_platform_reserve(region->size, DBOS_PAGE_SIZE, &bytes);
	if (status != DBOS_OK)
		return status;
	status = dbos_platform_commit(bytes, region->size, DBOS_PROT_READ_WRITE);
	if (status != DBOS_OK) {
		dbos_platform_unreserve(bytes, region->size);
		return status;
	}
	region->shadow.bytes = bytes;
	region->shadow.size = region->size;
	dbos_pt_shadow_changed(region, 0, region->page_count);
	return DBOS_OK;
}

void dbos_pt_shadow_stop(dbos_pt_region *region)
{
	if (region->shadow.bytes == NULL)
		return;
	dbos_platform_unreserve(region->shadow.bytes, region->shadow.size);
	region->shadow.bytes = NULL;
	region->shadow.size = 0;
}

static bool page_readable(const dbos_pt_region *region, uint64_t page)
{
	dbos_pt_page_info info = dbos_pt_entry_info(region, page);
	return info.state != DBOS_PT_UNMAPPED && info.prot != DBOS_PROT_NONE;
}

void dbos_pt_shadow_changed(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	DBOS_ASSERT(region->shadow.bytes != NULL);
	DBOS_ASSERT(first <= region->page_count && count <= region->page_count - first);
	/* Pages outside the touched extent were never mapped: their shadow was never written. */
	if (!dbos_pt_touched_clamp(region, first, count, &first, &count))
		return;
	uint64_t end = first + count;
	for (uint64_t page = first; page < end;) {
		uint8_t *shadow = region->shadow.bytes + page * DBOS_PAGE_SIZE;
		if (page_readable(region, page)) {
			__builtin_memcpy(shadow, region->base + page * DBOS_PAGE_SIZE, DBOS_PAGE_SIZE);
			page++;
			continue;
		}
		/* Drop the shadow of a whole run of unreadable pages in one call. */
		uint64_t run_end = page + 1;
		while (run_end < end && !page_readable(region, run_end))
			run_end++;
		(void)dbos_platform_advise(shadow, (run_end - page) * DBOS_PAGE_SIZE, DBOS_ADVICE_DISCARD);
		page = run_end;
	}
}

void dbos_pt_shadow_zeroed(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	DBOS_ASSERT(region->shadow.bytes != NULL);
	DBOS_ASSERT(first <= region->page_count && count <= region->page_count - first);
	if (count == 0)
		return;
	/* A dropped shadow page reads zeros, as the live page does: one call, no copy. */
	(void)dbos_platform_advise(region->shadow.bytes + first * DBOS_PAGE_SIZE, count * DBOS_PAGE_SIZE,
				   DBOS_ADVICE_DISCARD);
}

dbos_status dbos_pt_shadow_reset(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	dbos_pt_shadow_changed(region, first, count);
	return DBOS_OK;
}

dbos_status dbos_pt_shadow_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				   uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	uint64_t found = 0;
	uint64_t touched_first = 0, touched_count = 0;
	if (!dbos_pt_touched_clamp(region, first, count, &touched_first, &touched_count)) {
		*found_out = 0;
		*next_out = first + count;
		return DBOS_OK;
	}
	uint64_t page = touched_first;
	for (; page < touched_first + touched_count; page++) {
		if (!page_readable(region, page))
			continue;
		const uint8_t *live = region->base + page * DBOS_PAGE_SIZE;
		uint8_t *shadow = region->shadow.bytes + page * DBOS_PAGE_SIZE;
		if (__builtin_memcmp(live, shadow, DBOS_PAGE_SIZE) == 0)
			continue;
		if (found == capacity)
			break; /* the caller resumes at this page */
		pages[found++] = (uint32_t)page;
		if (flags & DBOS_PT_COLLECT_RESET)
			__builtin_memcpy(shadow, live, DBOS_PAGE_SIZE);
	}
	*found_out = found;
	*next_out = page == touched_first + touched_count ? first + count : page;
	return DBOS_OK;
}
