/*
 * pt_host_uffd.c - the region's userfaultfd: one per region, opened when dirty
 * tracking or fault hooks first need it, registered over the whole
 * reservation with the modes in use.
 *
 * A MAP_FIXED mmap or an mremap makes new vmas that are not registered, so
 * every host operation that creates vmas calls pt_host_uffd_cover() on its run.
 * UFFDIO_REGISTER keeps a vma's existing modes only when they include the
 * requested ones, so we always register with the full set of active modes.
 */
#include "pt_host.h"

#include <errno.h>
#include <unistd.h>

dbos_status pt_host_uffd_ensure(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = region->rt;
	if (rt->uffd >= 0)
		return DBOS_OK;
	const dbos_probe_uffd *facts = &dbos_probe_cached()->uffd;
	if (!facts->available)
		return DBOS_ENOTSUP;
	/* The platform's doors, in its order: the same fd kind the probe (and dbos_pt_probe) reported. */
	int fd = dbos_host_uffd_open(NULL);
	if (fd < 0)
		return dbos_host_status_from_errno(-fd);
	/*
	 * Ask for everything we may use later: features are fixed at
	 * UFFDIO_API time.  The kernel adds WP_UNPOPULATED to WP_ASYNC: never
	 * touched pages get write-protect markers too, which makes
	 * write-protecting a range allocate its page tables (2 MiB per GiB).
	 */
	uint64_t wanted = DBOS_UFFD_FEATURE_WP_ASYNC | DBOS_UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MISSING_SHMEM |
			  UFFD_FEATURE_POISON | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	uint64_t granted = 0;
	int error = dbos_host_uffd_api(fd, wanted & facts->features, &granted);
	if (error != 0) {
		close(fd);
		return dbos_host_status_from_errno(-error);
	}
	rt->uffd = fd;
	rt->features = granted;
	return DBOS_OK;
}

static uint64_t modes_for(const dbos_pt_region *region, enum dbos_pt_state state)
{
	const struct dbos_pt_rt_region *rt = region->rt;
	uint64_t modes = 0;
	if (rt->wp_active)
		modes |= UFFDIO_REGISTER_MODE_WP;
	if (rt->faults_active) {
		modes |= UFFDIO_REGISTER_MODE_MISSING;
		if (state == DBOS_PT_FRAME && (rt->features & DBOS_UFFD_FEATURE_MINOR_SHMEM))
			modes |= UFFDIO_REGISTER_MODE_MINOR;
	}
	return modes;
}

static dbos_status register_range(dbos_pt_region *region, uint64_t first, uint64_t count, uint64_t modes)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)pt_host_address(region, first), .len = count * DBOS_PAGE_SIZE },
		.mode = modes,
	};
	if (ioctl(region->rt->uffd, UFFDIO_REGISTER, &reg) != 0)
		return dbos_host_status_from_errno(errno);
	return DBOS_OK;
}

dbos_status pt_host_uffd_write_protect(dbos_pt_region *region, uint64_t first, uint64_t count, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)pt_host_address(region, first), .len = count * DBOS_PAGE_SIZE },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	if (ioctl(region->rt->uffd, UFFDIO_WRITEPROTECT, &wp) != 0)
		return dbos_host_status_from_errno(errno);
	return DBOS_OK;
}

dbos_status pt_host_uffd_cover(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_pt_state state)
{
	struct dbos_pt_rt_region *rt = region->rt;
	if (rt->uffd < 0 || (!rt->wp_active && !rt->faults_active))
		return DBOS_OK;
	uint64_t modes = modes_for(region, state);
	dbos_status status = register_range(region, first, count, modes);
	if (status != DBOS_OK)
		return status;
	/* Fresh pages are clean: arm write protection over the new vmas. */
	if (rt->wp_active)
		status = pt_host_uffd_write_protect(region, first, count, true);
	return status;
}

dbos_status pt_host_uffd_cover_all(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = region->rt;
	DBOS_ASSERT(rt->uffd >= 0);
	uint64_t modes = modes_for(region, DBOS_PT_ANON);
	if (modes == 0)
		return DBOS_OK;
	dbos_status status = register_range(region, 0, region->page_count, modes);
	if (status != DBOS_OK || atomic_load(&region->frame_pages) == 0)
		return status;
	uint64_t frame_modes = modes_for(region, DBOS_PT_FRAME);
	if (frame_modes == modes)
		return DBOS_OK;
	/* FRAME runs also take MINOR faults: find them in the entries. */
	dbos_pt_pages all = dbos_pt_range(0, region->page_count);
	for (uint64_t page = 0; page < region->page_count && status == DBOS_OK;) {
		uint64_t length = dbos_pt_run_length(region, &all, page, NULL, true);
		if (dbos_pt_entry_info(region, page).state == DBOS_PT_FRAME)
			status = register_range(region, page, length, frame_modes);
		page += length;
	}
	return status;
}

dbos_status pt_host_uffd_unregister_all(dbos_pt_region *region)
{
	struct uffdio_range range = { .start = (uintptr_t)region->base, .len = region->size };
	if (ioctl(region->rt->uffd, UFFDIO_UNREGISTER, &range) != 0)
		return dbos_host_status_from_errno(errno);
	return DBOS_OK;
}
