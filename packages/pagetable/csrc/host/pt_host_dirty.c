/*
 * pt_host_dirty.c - dirty and present pages on the host: userfaultfd
 * WP_ASYNC write-protection plus PAGEMAP_SCAN.
 *
 * Why this pair: with WP_ASYNC the kernel resolves the first write to a
 * write-protected page itself (~1 µs, no thread, no signal) and just drops
 * the protection; PAGEMAP_SCAN then lists the pages without it
 * (PAGE_IS_WRITTEN) and, with PM_SCAN_WP_MATCHING, protects them again in
 * the same walk (the ioctl's structures: dbos/host/pagemap.h).  A collection costs a page-table walk of the range (~0.3 ms
 * for 1 GiB), not a comparison of its bytes, and no fault reaches user space.
 */
#include "pt_host.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* page_region entries per PAGEMAP_SCAN call (on the stack). */
#define SCAN_REGIONS_MAX 128
/* Bound on PAGEMAP_SCAN calls per collection before giving up (each advances the walk). */
#define SCAN_CALLS_MAX (1u << 26)

static dbos_status pagemap_open(struct dbos_pt_rt_region *rt)
{
	if (rt->pagemap_fd >= 0)
		return DBOS_OK;
	rt->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	return rt->pagemap_fd >= 0 ? DBOS_OK : dbos_host_status_from_errno(errno);
}

dbos_status dbos_pt_rt_dirty_start(dbos_pt_region *region, enum dbos_pt_dirty_mechanism mechanism)
{
	struct dbos_pt_rt_region *rt = region->rt;
	if (mechanism != DBOS_PT_DIRTY_UFFD_WP_ASYNC)
		return DBOS_ENOTSUP;
	dbos_status status = pt_host_uffd_ensure(region);
	if (status == DBOS_OK && !(rt->features & DBOS_UFFD_FEATURE_WP_ASYNC))
		status = DBOS_ENOTSUP;
	if (status == DBOS_OK)
		status = pagemap_open(rt);
	if (status != DBOS_OK)
		return status;
	rt->wp_active = true;
	status = pt_host_uffd_cover_all(region);
	/* Only the touched extent: pages mapped later are protected by the map itself. */
	uint64_t first = 0, count = 0;
	if (status == DBOS_OK && dbos_pt_touched_clamp(region, 0, region->page_count, &first, &count))
		status = pt_host_uffd_write_protect(region, first, count, true);
	if (status != DBOS_OK) {
		rt->wp_active = false;
		(void)pt_host_uffd_unregister_all(region);
		(void)pt_host_uffd_cover_all(region);
	}
	return status;
}

dbos_status dbos_pt_rt_dirty_stop(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = region->rt;
	if (!rt->wp_active)
		return DBOS_OK;
	rt->wp_active = false;
	/* Unregistering drops the protection; fault modes, if any, are registered again. */
	dbos_status status = pt_host_uffd_unregister_all(region);
	if (status == DBOS_OK)
		status = pt_host_uffd_cover_all(region);
	return status;
}

/*
 * One PAGEMAP_SCAN walk over pages [first, first + count) reporting pages in
 * every category of `category_all` and in at least one of `category_any`
 * (skipping the shared zero page, which a read maps without write
 * protection); see dbos_pt_dirty_collect for the contract.
 */
static dbos_status scan(dbos_pt_region *region, uint64_t first, uint64_t count, uint64_t flags, uint64_t category_all,
			uint64_t category_any, uint32_t *pages, uint64_t capacity, uint64_t *found_out,
			uint64_t *next_out)
{
	struct dbos_page_region regions[SCAN_REGIONS_MAX];
	uintptr_t start = (uintptr_t)pt_host_address(region, first);
	uintptr_t end = (uintptr_t)pt_host_address(region, first + count);
	uint64_t found = 0;
	for (uint32_t calls = 0; start < end && found < capacity; calls++) {
		if (calls == SCAN_CALLS_MAX)
			return DBOS_EIO;
		struct dbos_pm_scan_arg arg = {
			.size = sizeof(arg),
			.flags = flags,
			.start = start,
			.end = end,
			.vec = (uintptr_t)regions,
			.vec_len = SCAN_REGIONS_MAX,
			.max_pages = capacity - found, /* never protect a page we cannot report */
			.category_mask = category_all,
			.category_anyof_mask = category_any,
			.return_mask = category_all | category_any | DBOS_PAGE_IS_PFNZERO,
		};
		pthread_rwlock_wrlock(&region->rt->remap_lock);
		long filled = ioctl(region->rt->pagemap_fd, DBOS_PAGEMAP_SCAN, &arg);
		pthread_rwlock_unlock(&region->rt->remap_lock);
		if (filled < 0)
			return dbos_host_status_from_errno(errno);
		DBOS_ASSERT(filled <= SCAN_REGIONS_MAX && arg.walk_end > start - 1 && arg.walk_end <= end);
		for (long i = 0; i < filled; i++) {
			if (regions[i].categories & DBOS_PAGE_IS_PFNZERO)
				continue;
			DBOS_ASSERT(regions[i].start >= start && regions[i].end <= arg.walk_end);
			for (uintptr_t page = regions[i].start; page < regions[i].end; page += DBOS_PAGE_SIZE) {
				DBOS_ASSERT(found < capacity);
				pages[found++] = (uint32_t)((page - (uintptr_t)region->base) / DBOS_PAGE_SIZE);
			}
		}
		if (arg.walk_end == start && filled == 0)
			break; /* no progress: the walk is complete */
		start = arg.walk_end;
	}
	*found_out = found;
	*next_out = (start - (uintptr_t)region->base) / DBOS_PAGE_SIZE;
	return DBOS_OK;
}

/*
 * scan() over the part of [first, first + count) inside the touched extent:
 * pages outside it were never mapped, so they are neither written nor
 * present.  A walk that finishes the extent reports the whole request done.
 */
static dbos_status scan_touched(dbos_pt_region *region, uint64_t first, uint64_t count, uint64_t flags,
				uint64_t category_all, uint64_t category_any, uint32_t *pages, uint64_t capacity,
				uint64_t *found_out, uint64_t *next_out)
{
	uint64_t touched_first = 0, touched_count = 0;
	if (!dbos_pt_touched_clamp(region, first, count, &touched_first, &touched_count)) {
		*found_out = 0;
		*next_out = first + count;
		return DBOS_OK;
	}
	dbos_status status = scan(region, touched_first, touched_count, flags, category_all, category_any, pages,
				  capacity, found_out, next_out);
	if (status == DBOS_OK && *next_out >= touched_first + touched_count)
		*next_out = first + count;
	return status;
}

dbos_status dbos_pt_rt_dirty_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				     uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	DBOS_ASSERT(region->rt->wp_active);
	uint64_t scan_flags = DBOS_PM_SCAN_CHECK_WPASYNC;
	if (flags & DBOS_PT_COLLECT_RESET)
		scan_flags |= DBOS_PM_SCAN_WP_MATCHING;
	/*
	 * Written and backed: unmapped slots between mapped runs were never
	 * write-protected (only the used extent is), so the kernel calls those
	 * holes "written"; a page really written is present or swapped.
	 */
	return scan_touched(region, first, count, scan_flags, DBOS_PAGE_IS_WRITTEN,
			    DBOS_PAGE_IS_PRESENT | DBOS_PAGE_IS_SWAPPED, pages, capacity, found_out, next_out);
}

dbos_status dbos_pt_rt_dirty_reset(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	DBOS_ASSERT(region->rt->wp_active);
	uint64_t touched_first = 0, touched_count = 0;
	if (!dbos_pt_touched_clamp(region, first, count, &touched_first, &touched_count))
		return DBOS_OK;
	/* Exclusive, like a scan: the range may cross vmas that page operations are replacing. */
	pthread_rwlock_wrlock(&region->rt->remap_lock);
	dbos_status status = pt_host_uffd_write_protect(region, touched_first, touched_count, true);
	pthread_rwlock_unlock(&region->rt->remap_lock);
	return status;
}

dbos_status dbos_pt_rt_present_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t *pages,
				       uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	/* The core asked dbos_pt_probe() first: PAGEMAP_SCAN works here. */
	dbos_status status = pagemap_open(region->rt);
	if (status != DBOS_OK)
		return status;
	return scan_touched(region, first, count, 0, 0, DBOS_PAGE_IS_PRESENT | DBOS_PAGE_IS_SWAPPED, pages, capacity,
			    found_out, next_out);
}

dbos_status dbos_pt_rt_accessed_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
					uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out)
{
	/* Linux keeps accessed bits to itself (idle page tracking needs root and physical frame numbers). */
	(void)region, (void)first, (void)count, (void)flags, (void)pages, (void)capacity, (void)found_out,
		(void)next_out;
	return DBOS_ENOTSUP;
}
