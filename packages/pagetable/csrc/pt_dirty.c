/* pt_dirty.c - dirty, present and accessed page reports: picks the mechanism, validates, delegates. */
#include "pt_internal.h"

static const uint32_t collect_flags_known = DBOS_PT_COLLECT_RESET;

dbos_status dbos_pt_dirty_start(dbos_pt_region *region, enum dbos_pt_dirty_mechanism mechanism)
{
	if (region == NULL || (unsigned)mechanism > DBOS_PT_DIRTY_PTE_BITS)
		return DBOS_EINVAL;
	if (region->dirty != DBOS_PT_DIRTY_NONE)
		return DBOS_EBUSY;
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	if (mechanism == DBOS_PT_DIRTY_NONE)
		mechanism =
			capabilities.dirty != DBOS_PT_DIRTY_NONE ? capabilities.dirty : DBOS_PT_DIRTY_SHADOW_COMPARE;
	dbos_status status;
	/* Write protection over the touched extent costs page tables: 8 bytes per page, like the entries. */
	uint64_t first = 0, count = 0;
	if (mechanism == DBOS_PT_DIRTY_SHADOW_COMPARE)
		status = dbos_pt_shadow_start(region); /* portable: needs nothing from the runtime */
	else if (mechanism != capabilities.dirty)
		status = DBOS_ENOTSUP;
	else if (dbos_pt_touched_clamp(region, 0, region->page_count, &first, &count) &&
		 dbos_pt_memory_check(count, sizeof(dbos_pt_entry)) != DBOS_OK)
		status = DBOS_ENOMEM;
	else
		status = dbos_pt_rt_dirty_start(region, mechanism);
	if (status == DBOS_OK)
		region->dirty = mechanism;
	return status;
}

dbos_status dbos_pt_dirty_stop(dbos_pt_region *region)
{
	if (region == NULL)
		return DBOS_EINVAL;
	dbos_status status = DBOS_OK;
	if (region->dirty == DBOS_PT_DIRTY_SHADOW_COMPARE)
		dbos_pt_shadow_stop(region);
	else if (region->dirty != DBOS_PT_DIRTY_NONE)
		status = dbos_pt_rt_dirty_stop(region);
	region->dirty = DBOS_PT_DIRTY_NONE;
	return status;
}

enum dbos_pt_dirty_mechanism dbos_pt_dirty_mechanism_of(const dbos_pt_region *region)
{
	return region == NULL ? DBOS_PT_DIRTY_NONE : region->dirty;
}

static dbos_status check_report(const dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				const uint32_t *pages, uint64_t capacity, const uint64_t *found_out,
				const uint64_t *next_out)
{
	if (region == NULL || found_out == NULL || next_out == NULL || (pages == NULL && capacity != 0) ||
	    (flags & ~collect_flags_known) != 0)
		return DBOS_EINVAL;
	if (first > region->page_count || count > region->page_count - first)
		return DBOS_ERANGE;
	return DBOS_OK;
}

dbos_status dbos_pt_dirty_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				  uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	dbos_status status = check_report(region, first, count, flags, pages, capacity, found_out, next_out);
	if (status != DBOS_OK)
		return status;
	if (region->dirty == DBOS_PT_DIRTY_NONE)
		return DBOS_EINVAL; /* tracking was not started */
	*found_out = 0;
	*next_out = first;
	if (count == 0)
		return DBOS_OK;
	if (region->dirty == DBOS_PT_DIRTY_SHADOW_COMPARE)
		status = dbos_pt_shadow_collect(region, first, count, flags, pages, capacity, found_out, next_out);
	else
		status = dbos_pt_rt_dirty_collect(region, first, count, flags, pages, capacity, found_out, next_out);
	DBOS_ASSERT(status != DBOS_OK || (*found_out <= capacity && *next_out >= first && *next_out <= first + count));
	return status;
}

dbos_status dbos_pt_dirty_reset(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	if (region == NULL)
		return DBOS_EINVAL;
	if (first > region->page_count || count > region->page_count - first)
		return DBOS_ERANGE;
	if (region->dirty == DBOS_PT_DIRTY_NONE)
		return DBOS_EINVAL;
	if (count == 0)
		return DBOS_OK;
	if (region->dirty == DBOS_PT_DIRTY_SHADOW_COMPARE)
		return dbos_pt_shadow_reset(region, first, count);
	return dbos_pt_rt_dirty_reset(region, first, count);
}

dbos_status dbos_pt_present_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t *pages,
				    uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	dbos_status status = check_report(region, first, count, 0, pages, capacity, found_out, next_out);
	if (status != DBOS_OK)
		return status;
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	if (!capabilities.present)
		return DBOS_ENOTSUP; /* the host without PAGEMAP_SCAN cannot tell */
	*found_out = 0;
	*next_out = first;
	if (count == 0)
		return DBOS_OK;
	return dbos_pt_rt_present_collect(region, first, count, pages, capacity, found_out, next_out);
}

dbos_status dbos_pt_accessed_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				     uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	dbos_status status = check_report(region, first, count, flags, pages, capacity, found_out, next_out);
	if (status != DBOS_OK)
		return status;
	*found_out = 0;
	*next_out = first;
	return dbos_pt_rt_accessed_collect(region, first, count, flags, pages, capacity, found_out, next_out);
}
