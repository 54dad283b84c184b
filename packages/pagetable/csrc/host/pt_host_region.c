/*
 * pt_host_region.c - host page operations: the mmap family over a reserved range.
 *
 * Why reserve + MAP_FIXED: one PROT_NONE reservation keeps every slot's
 * address stable for the region's life, and MAP_FIXED replaces a run of
 * slots atomically (no window where another thread's mmap could take the
 * address).  Unmapping therefore maps a fresh PROT_NONE run instead of
 * calling munmap, which would open a hole in the reservation.
 */
#include "pt_host.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

static dbos_status status_from_errno(void)
{
	return dbos_host_status_from_errno(errno);
}

dbos_status dbos_pt_rt_region_init(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = dbos_platform_alloc(sizeof(*rt));
	if (rt == NULL)
		return DBOS_ENOMEM;
	rt->uffd = -1;
	rt->pagemap_fd = -1;
	rt->stop_fd = -1;
	/* Writer preference: a collection must not starve behind a stream of page operations. */
	pthread_rwlockattr_t attributes;
	pthread_rwlockattr_init(&attributes);
	pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&rt->remap_lock, &attributes);
	pthread_rwlockattr_destroy(&attributes);
	void *base = NULL;
	/* 2 MiB alignment lets THP back aligned anonymous runs with huge pages. */
	dbos_status status = dbos_platform_reserve(region->size, DBOS_HUGE_PAGE_SIZE, &base);
	if (status != DBOS_OK) {
		dbos_platform_free(rt, sizeof(*rt));
		return status;
	}
	region->base = base;
	region->rt = rt;
	return DBOS_OK;
}

void dbos_pt_rt_region_fini(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = region->rt;
	DBOS_ASSERT(rt != NULL);
	pt_host_fault_thread_stop(region);
	/* Closing the userfaultfd wakes any thread still waiting on one of our faults. */
	if (rt->uffd >= 0)
		close(rt->uffd);
	if (rt->pagemap_fd >= 0)
		close(rt->pagemap_fd);
	(void)dbos_platform_unreserve(region->base, region->size);
	pthread_rwlock_destroy(&rt->remap_lock);
	dbos_platform_free(rt, sizeof(*rt));
	region->rt = NULL;
	region->base = NULL;
}

static dbos_status map_anon_unlocked(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_prot prot)
{
	void *address = pt_host_address(region, first);
	size_t size = count * DBOS_PAGE_SIZE;
	void *mapped = mmap(address, size, dbos_host_prot(prot),
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	if (mapped == MAP_FAILED)
		return status_from_errno();
	DBOS_ASSERT(mapped == address);
	/* The new vma has none of the old one's advice or userfaultfd registration. */
	if (region->flags & DBOS_PT_REGION_HUGE_PAGES)
		(void)madvise(address, size, MADV_HUGEPAGE); /* advice only: 4 KiB pages still work */
	return pt_host_uffd_cover(region, first, count, DBOS_PT_ANON);
}

dbos_status dbos_pt_rt_map_anon(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_prot prot)
{
	pthread_rwlock_rdlock(&region->rt->remap_lock);
	dbos_status status = map_anon_unlocked(region, first, count, prot);
	pthread_rwlock_unlock(&region->rt->remap_lock);
	return status;
}

static dbos_status map_frames_unlocked(dbos_pt_region *region, uint64_t first, uint64_t count, dbos_pt_frames *frames,
				       uint64_t frame_first, enum dbos_prot prot)
{
	DBOS_ASSERT(frame_first + count <= frames->count);
	void *address = pt_host_address(region, first);
	void *mapped = mmap(address, count * DBOS_PAGE_SIZE, dbos_host_prot(prot), MAP_SHARED | MAP_FIXED,
			    frames->rt->memfd, (off_t)(frame_first * DBOS_PAGE_SIZE));
	if (mapped == MAP_FAILED)
		return status_from_errno();
	DBOS_ASSERT(mapped == address);
	return pt_host_uffd_cover(region, first, count, DBOS_PT_FRAME);
}

dbos_status dbos_pt_rt_map_frames(dbos_pt_region *region, uint64_t first, uint64_t count, dbos_pt_frames *frames,
				  uint64_t frame_first, enum dbos_prot prot)
{
	pthread_rwlock_rdlock(&region->rt->remap_lock);
	dbos_status status = map_frames_unlocked(region, first, count, frames, frame_first, prot);
	pthread_rwlock_unlock(&region->rt->remap_lock);
	return status;
}

static dbos_status unmap_unlocked(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	void *address = pt_host_address(region, first);
	void *mapped = mmap(address, count * DBOS_PAGE_SIZE, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	if (mapped == MAP_FAILED)
		return status_from_errno();
	return pt_host_uffd_cover(region, first, count, DBOS_PT_UNMAPPED);
}

dbos_status dbos_pt_rt_unmap(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	pthread_rwlock_rdlock(&region->rt->remap_lock);
	dbos_status status = unmap_unlocked(region, first, count);
	pthread_rwlock_unlock(&region->rt->remap_lock);
	return status;
}

dbos_status dbos_pt_rt_discard_anon(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	if (madvise(pt_host_address(region, first), count * DBOS_PAGE_SIZE, MADV_DONTNEED) != 0)
		return status_from_errno();
	/* A zapped page has no write protection left: re-arm it, page operations are not writes. */
	if (region->rt->wp_active)
		return pt_host_uffd_write_protect(region, first, count, true);
	return DBOS_OK;
}

dbos_status dbos_pt_rt_discard_anon_runs(dbos_pt_region *region, const uint64_t *firsts, const uint64_t *counts,
					 uint32_t run_count)
{
	DBOS_ASSERT(run_count >= 1 && run_count <= DBOS_PT_RUNS_MAX);
	_Static_assert(DBOS_PT_RUNS_MAX <= DBOS_PLATFORM_RANGES_MAX, "a batch of runs is one platform call");
	/* One process_madvise for the whole batch where the kernel has it (dbos/platform.h). */
	struct dbos_platform_range ranges[DBOS_PT_RUNS_MAX];
	for (uint32_t i = 0; i < run_count; i++)
		ranges[i] =
			(struct dbos_platform_range){ pt_host_address(region, firsts[i]), counts[i] * DBOS_PAGE_SIZE };
	dbos_status status = dbos_platform_discard_ranges(ranges, run_count);
	for (uint32_t i = 0; status == DBOS_OK && region->rt->wp_active && i < run_count; i++)
		status = pt_host_uffd_write_protect(region, firsts[i], counts[i], true);
	return status;
}

dbos_status dbos_pt_rt_protect(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_prot prot)
{
	if (mprotect(pt_host_address(region, first), count * DBOS_PAGE_SIZE, dbos_host_prot(prot)) != 0)
		return status_from_errno();
	return DBOS_OK;
}

dbos_status dbos_pt_rt_populate(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	/* The core hands us runs of one protection. */
	dbos_pt_page_info info = dbos_pt_entry_info(region, first);
	int advice = info.prot == DBOS_PROT_READ ? MADV_POPULATE_READ : MADV_POPULATE_WRITE;
	if (madvise(pt_host_address(region, first), count * DBOS_PAGE_SIZE, advice) != 0)
		return status_from_errno();
	return DBOS_OK;
}

static dbos_status move_pages(void *source, void *target, size_t size)
{
	/*
	 * DONTUNMAP keeps the source vma in place (empty), so the reservation
	 * never has a hole another thread's mmap could fill.
	 */
	void *moved = mremap(source, size, size, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, target);
	if (moved == MAP_FAILED)
		return status_from_errno();
	DBOS_ASSERT(moved == target);
	return DBOS_OK;
}

static dbos_status move_anon_unlocked(dbos_pt_region *region, uint64_t source, uint64_t target, uint64_t count)
{
	uint8_t *source_address = pt_host_address(region, source);
	uint8_t *target_address = pt_host_address(region, target);
	dbos_status status = move_pages(source_address, target_address, count * DBOS_PAGE_SIZE);
	if (status == DBOS_EFAULT || status == DBOS_EINVAL) {
		/* The run spans several vmas (mremap moves one at a time): move page by page. */
		status = DBOS_OK;
		for (uint64_t i = 0; i < count && status == DBOS_OK; i++)
			status = move_pages(source_address + i * DBOS_PAGE_SIZE, target_address + i * DBOS_PAGE_SIZE,
					    DBOS_PAGE_SIZE);
	}
	if (status != DBOS_OK)
		return status;
	/* mremap drops the moved vma's userfaultfd registration; the emptied source becomes a fresh PROT_NONE run. */
	status = pt_host_uffd_cover(region, target, count, DBOS_PT_ANON);
	if (status != DBOS_OK)
		return status;
	return unmap_unlocked(region, source, count);
}

dbos_status dbos_pt_rt_move_anon(dbos_pt_region *region, uint64_t source, uint64_t target, uint64_t count)
{
	pthread_rwlock_rdlock(&region->rt->remap_lock);
	dbos_status status = move_anon_unlocked(region, source, target, count);
	pthread_rwlock_unlock(&region->rt->remap_lock);
	return status;
}

void dbos_pt_rt_batch_end(dbos_pt_region *region)
{
	/* The kernel has made every change visible (and shot down TLBs) before each call returned. */
	(void)region;
}
