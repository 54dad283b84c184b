/*
 * pt_map.c - batched page operations: map, map frames, unmap, discard, move,
 * protect, populate, and page queries.
 *
 * Every operation follows the same shape: (1) validate the whole set, so a
 * bad index changes nothing; (2) walk the set as runs and make one runtime
 * call per run, updating the page entries after each call succeeds; (3) end
 * the batch, so deferred work (TLB flushes in the guest) becomes visible.
 */
#include "pt_internal.h"

static bool prot_valid(enum dbos_prot prot)
{
	return (unsigned)prot <= DBOS_PROT_READ_WRITE;
}

/* Pinned pages must stay readable and writable. */
static bool keeps_pins_usable(enum dbos_prot prot)
{
	return prot == DBOS_PROT_READ_WRITE || prot == DBOS_PROT_WRITE;
}

static void count_call(dbos_pt_region *region)
{
	atomic_fetch_add_explicit(&region->runtime_calls, 1, memory_order_relaxed);
}

static void after_change(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	if (region->dirty == DBOS_PT_DIRTY_SHADOW_COMPARE)
		dbos_pt_shadow_changed(region, first, count);
}

/* After a change that leaves the pages reading zeros (fresh or discarded anonymous memory). */
static void after_zeroed(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	if (region->dirty == DBOS_PT_DIRTY_SHADOW_COMPARE)
		dbos_pt_shadow_zeroed(region, first, count);
}

/*
 * The new memory one operation over `pages` needs (dbos_pt_memory_check):
 * the page entries it writes, and under SHADOW_COMPARE a shadow copy of each
 * page whose new contents are not known to be zeros (`copies`).
 */
static dbos_status check_memory(const dbos_pt_region *region, const dbos_pt_pages *pages, bool copies)
{
	bool shadowed = copies && region->dirty == DBOS_PT_DIRTY_SHADOW_COMPARE;
	return dbos_pt_memory_check(pages->count, shadowed ? DBOS_PAGE_SIZE : sizeof(dbos_pt_entry));
}

/* DBOS_EFAULT when a page of the set is UNMAPPED. */
static dbos_status check_mapped(const dbos_pt_region *region, const dbos_pt_pages *pages)
{
	if (pages->list == NULL && pages->count != 0) {
		/* Outside the written extent every page is in the initial state: known without a walk. */
		bool never_mapped = region->initial_state == DBOS_PT_UNMAPPED;
		uint64_t end = pages->first + pages->count;
		for (uint64_t page = pages->first; page < end;) {
			uint64_t known = dbos_pt_unwritten_end(region, page);
			if (known > page) {
				if (never_mapped)
					return DBOS_EFAULT;
				page = known;
				continue;
			}
			if (dbos_pt_entry_info(region, page).state == DBOS_PT_UNMAPPED)
				return DBOS_EFAULT;
			page++;
		}
		return DBOS_OK;
	}
	for (uint64_t i = 0; i < pages->count; i++) {
		if (dbos_pt_entry_info(region, dbos_pt_pages_at(pages, i)).state == DBOS_PT_UNMAPPED)
			return DBOS_EFAULT;
	}
	return DBOS_OK;
}

dbos_status dbos_pt_map(dbos_pt_region *region, dbos_pt_pages pages, enum dbos_prot prot)
{
	if (region == NULL || !prot_valid(prot))
		return DBOS_EINVAL;
	dbos_status status = dbos_pt_pages_check(region, &pages);
	if (status == DBOS_OK)
		status = check_memory(region, &pages, false);
	if (status == DBOS_OK && !keeps_pins_usable(prot))
		status = dbos_pt_pages_check_unpinned(region, &pages);
	for (uint64_t i = 0; status == DBOS_OK && i < pages.count;) {
		uint64_t first = dbos_pt_pages_at(&pages, i);
		uint64_t length = dbos_pt_run_length(region, &pages, i, NULL, false);
		count_call(region);
		status = dbos_pt_rt_map_anon(region, first, length, prot);
		if (status == DBOS_OK) {
			dbos_pt_entries_set(region, first, length, DBOS_PT_ANON, prot, 0);
			after_zeroed(region, first, length);
		}
		i += length;
	}
	dbos_pt_rt_batch_end(region);
	return status;
}

static dbos_status check_frame_set(const dbos_pt_frames *frames, const dbos_pt_pages *frame_set)
{
	if (frame_set->count == 0)
		return DBOS_OK;
	if (frame_set->list != NULL && dbos_pt_list_too_long(frame_set->count, frames->count))
		return DBOS_EINVAL;
	if (frame_set->list == NULL) {
		if (frame_set->first >= frames->count || frame_set->count > frames->count - frame_set->first)
			return DBOS_ERANGE;
		return DBOS_OK;
	}
	for (uint64_t i = 0; i < frame_set->count; i++) {
		if (frame_set->list[i] >= frames->count)
			return DBOS_ERANGE;
	}
	return DBOS_OK;
}

dbos_status dbos_pt_map_frames(dbos_pt_region *region, dbos_pt_pages pages, dbos_pt_frames *frames,
			       dbos_pt_pages frame_set, enum dbos_prot prot)
{
	if (region == NULL || frames == NULL || !prot_valid(prot) || pages.count != frame_set.count)
		return DBOS_EINVAL;
	dbos_status status = dbos_pt_pages_check(region, &pages);
	if (status == DBOS_OK)
		status = check_frame_set(frames, &frame_set);
	if (status == DBOS_OK)
		status = check_memory(region, &pages, true);
	if (status == DBOS_OK && !keeps_pins_usable(prot))
		status = dbos_pt_pages_check_unpinned(region, &pages);
	if (status != DBOS_OK || pages.count == 0)
		return status;
	if (region->frames != frames) {
		/* One pool per region at a time; switching is exclusive (not concurrent with other calls). */
		if (atomic_load(&region->frame_pages) != 0)
			return DBOS_EINVAL;
		dbos_pt_frames_ref(frames);
		if (region->frames != NULL)
			dbos_pt_frames_unref(region->frames);
		region->frames = frames;
	}
	for (uint64_t i = 0; status == DBOS_OK && i < pages.count;) {
		uint64_t first = dbos_pt_pages_at(&pages, i);
		uint64_t frame = dbos_pt_pages_at(&frame_set, i);
		uint64_t length = dbos_pt_run_length(region, &pages, i, &frame_set, false);
		count_call(region);
		status = dbos_pt_rt_map_frames(region, first, length, frames, frame, prot);
		if (status == DBOS_OK) {
			dbos_pt_entries_set(region, first, length, DBOS_PT_FRAME, prot, (uint32_t)frame);
			after_change(region, first, length);
		}
		i += length;
	}
	dbos_pt_rt_batch_end(region);
	return status;
}

dbos_status dbos_pt_unmap(dbos_pt_region *region, dbos_pt_pages pages)
{
	if (region == NULL)
		return DBOS_EINVAL;
	dbos_status status = dbos_pt_pages_check(region, &pages);
	if (status == DBOS_OK)
		status = check_memory(region, &pages, false);
	if (status == DBOS_OK)
		status = dbos_pt_pages_check_unpinned(region, &pages);
	for (uint64_t i = 0; status == DBOS_OK && i < pages.count;) {
		uint64_t first = dbos_pt_pages_at(&pages, i);
		uint64_t length = dbos_pt_run_length(region, &pages, i, NULL, false);
		count_call(region);
		status = dbos_pt_rt_unmap(region, first, length);
		if (status == DBOS_OK) {
			after_change(region, first, length);
			dbos_pt_entries_set(region, first, length, DBOS_PT_UNMAPPED, DBOS_PROT_NONE, 0);
		}
		i += length;
	}
	dbos_pt_rt_batch_end(region);
	return status;
}

/* Anonymous runs waiting to be discarded together. */
typedef struct discard_batch {
	uint64_t firsts[DBOS_PT_RUNS_MAX];
	uint64_t counts[DBOS_PT_RUNS_MAX];
	uint32_t run_count;
} discard_batch;

static dbos_status discard_flush(dbos_pt_region *region, discard_batch *batch)
{
	if (batch->run_count == 0)
		return DBOS_OK;
	count_call(region);
	dbos_status status = dbos_pt_rt_discard_anon_runs(region, batch->firsts, batch->counts, batch->run_count);
	for (uint32_t i = 0; status == DBOS_OK && i < batch->run_count; i++)
		after_zeroed(region, batch->firsts[i], batch->counts[i]);
	batch->run_count = 0;
	return status;
}

dbos_status dbos_pt_discard(dbos_pt_region *region, dbos_pt_pages pages)
{
	if (region == NULL)
		return DBOS_EINVAL;
	discard_batch batch;
	batch.run_count = 0;
	dbos_status status = dbos_pt_pages_check(region, &pages);
	for (uint64_t i = 0; status == DBOS_OK && i < pages.count;) {
		uint64_t first = dbos_pt_pages_at(&pages, i);
		uint64_t length = dbos_pt_run_length(region, &pages, i, NULL, true);
		dbos_pt_page_info info = dbos_pt_entry_info(region, first);
		if (info.state == DBOS_PT_ANON) {
			/* Scattered anonymous runs go to the runtime together (one process_madvise on the host). */
			batch.firsts[batch.run_count] = first;
			batch.counts[batch.run_count] = length;
			if (++batch.run_count == DBOS_PT_RUNS_MAX)
				status = discard_flush(region, &batch);
		} else if (info.state == DBOS_PT_FRAME) {
			count_call(region);
			status = dbos_pt_rt_frames_release(region->frames, info.frame, length);
			if (status == DBOS_OK)
				after_change(region, first, length);
		}
		i += length;
	}
	if (status == DBOS_OK)
		status = discard_flush(region, &batch);
	dbos_pt_rt_batch_end(region);
	return status;
}

/* The default for runtimes without a batched discard: one call per run. */
__attribute__((weak)) dbos_status dbos_pt_rt_discard_anon_runs(dbos_pt_region *region, const uint64_t *firsts,
							       const uint64_t *counts, uint32_t run_count)
{
	DBOS_ASSERT(run_count >= 1 && run_count <= DBOS_PT_RUNS_MAX);
	for (uint32_t i = 0; i < run_count; i++) {
		dbos_status status = dbos_pt_rt_discard_anon(region, firsts[i], counts[i]);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

static bool sets_overlap(const dbos_pt_pages *source, const dbos_pt_pages *target)
{
	/*
	 * Exact for ranges.  Lists are the caller's promise: a violation is
	 * safe (move_run checks each run as it finds it), only surprising.
	 */
	if (source->list != NULL || target->list != NULL)
		return false;
	return source->first < target->first + target->count && target->first < source->first + source->count;
}

/*
 * One uniform source run (ANON or FRAME) to its target run.  The checks are
 * made again here, on the pages as they are now: in lists that name a page
 * twice, or a page as both source and target, an earlier run of the same
 * move may have emptied this source (DBOS_EINVAL) or made it read-only
 * while a pinned target waits for it (DBOS_EBUSY).
 */
static dbos_status move_run(dbos_pt_region *region, uint64_t source, uint64_t target, uint64_t length)
{
	dbos_pt_page_info info = dbos_pt_entry_info(region, source);
	if (info.state == DBOS_PT_UNMAPPED)
		return DBOS_EINVAL;
	if (!keeps_pins_usable(info.prot) && dbos_pt_range_pinned(region, target, length))
		return DBOS_EBUSY;
	if (dbos_pt_range_pinned(region, source, length))
		return DBOS_EBUSY;
	dbos_status status;
	count_call(region);
	if (info.state == DBOS_PT_ANON) {
		status = dbos_pt_rt_move_anon(region, source, target, length);
		if (status != DBOS_OK)
			return status;
		dbos_pt_entries_set(region, target, length, DBOS_PT_ANON, info.prot, 0);
	} else {
		/* Frames: point the target at the same frames, then drop the source. */
		status = dbos_pt_rt_map_frames(region, target, length, region->frames, info.frame, info.prot);
		if (status != DBOS_OK)
			return status;
		dbos_pt_entries_set(region, target, length, DBOS_PT_FRAME, info.prot, info.frame);
		count_call(region);
		status = dbos_pt_rt_unmap(region, source, length);
		if (status != DBOS_OK)
			return status;
	}
	dbos_pt_entries_set(region, source, length, DBOS_PT_UNMAPPED, DBOS_PROT_NONE, 0);
	after_change(region, source, length);
	after_change(region, target, length);
	return DBOS_OK;
}

dbos_status dbos_pt_move(dbos_pt_region *region, dbos_pt_pages source, dbos_pt_pages target)
{
	if (region == NULL || source.count != target.count)
		return DBOS_EINVAL;
	dbos_status status = dbos_pt_pages_check(region, &source);
	if (status == DBOS_OK)
		status = dbos_pt_pages_check(region, &target);
	if (status == DBOS_OK && sets_overlap(&source, &target))
		status = DBOS_EINVAL;
	if (status == DBOS_OK)
		status = check_memory(region, &target, true);
	if (status == DBOS_OK)
		status = check_mapped(region, &source);
	if (status == DBOS_OK)
		status = dbos_pt_pages_check_unpinned(region, &source);
	for (uint64_t i = 0; status == DBOS_OK && i < source.count; i++) {
		/* A pinned target may only receive a read-write page. */
		uint64_t target_page = dbos_pt_pages_at(&target, i);
		if (dbos_pt_range_pinned(region, target_page, 1) &&
		    !keeps_pins_usable(dbos_pt_entry_info(region, dbos_pt_pages_at(&source, i)).prot))
			status = DBOS_EBUSY;
	}
	for (uint64_t i = 0; status == DBOS_OK && i < source.count;) {
		uint64_t length = dbos_pt_run_length(region, &source, i, &target, true);
		status = move_run(region, dbos_pt_pages_at(&source, i), dbos_pt_pages_at(&target, i), length);
		i += length;
	}
	dbos_pt_rt_batch_end(region);
	return status;
}

dbos_status dbos_pt_protect(dbos_pt_region *region, dbos_pt_pages pages, enum dbos_prot prot)
{
	if (region == NULL || !prot_valid(prot))
		return DBOS_EINVAL;
	dbos_status status = dbos_pt_pages_check(region, &pages);
	if (status == DBOS_OK)
		status = dbos_pt_memory_check(pages.count, sizeof(dbos_pt_entry)); /* entries only: no new pages */
	if (status == DBOS_OK)
		status = check_mapped(region, &pages);
	if (status == DBOS_OK && !keeps_pins_usable(prot))
		status = dbos_pt_pages_check_unpinned(region, &pages);
	for (uint64_t i = 0; status == DBOS_OK && i < pages.count;) {
		uint64_t first = dbos_pt_pages_at(&pages, i);
		uint64_t length = dbos_pt_run_length(region, &pages, i, NULL, true);
		dbos_pt_page_info info = dbos_pt_entry_info(region, first);
		count_call(region);
		status = dbos_pt_rt_protect(region, first, length, prot);
		if (status == DBOS_OK)
			dbos_pt_entries_set(region, first, length, info.state, prot, info.frame);
		i += length;
	}
	dbos_pt_rt_batch_end(region);
	return status;
}

dbos_status dbos_pt_populate(dbos_pt_region *region, dbos_pt_pages pages)
{
	if (region == NULL)
		return DBOS_EINVAL;
	dbos_status status = dbos_pt_pages_check(region, &pages);
	if (status == DBOS_OK)
		status = dbos_pt_memory_check(pages.count, DBOS_PAGE_SIZE); /* every page becomes memory */
	if (status == DBOS_OK)
		status = check_mapped(region, &pages);
	for (uint64_t i = 0; status == DBOS_OK && i < pages.count;) {
		uint64_t first = dbos_pt_pages_at(&pages, i);
		uint64_t length = dbos_pt_run_length(region, &pages, i, NULL, true);
		/* Inaccessible pages cannot be faulted in; they stay as they are. */
		if (dbos_pt_entry_info(region, first).prot != DBOS_PROT_NONE) {
			count_call(region);
			status = dbos_pt_rt_populate(region, first, length);
		}
		i += length;
	}
	dbos_pt_rt_batch_end(region);
	return status;
}

dbos_status dbos_pt_page_query(const dbos_pt_region *region, uint64_t page, dbos_pt_page_info *info_out)
{
	if (region == NULL || info_out == NULL)
		return DBOS_EINVAL;
	if (page >= region->page_count)
		return DBOS_ERANGE;
	*info_out = dbos_pt_entry_info(region, page);
	return DBOS_OK;
}

bool dbos_pt_range_accessible(const dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_prot prot)
{
	if (region == NULL || !prot_valid(prot) || first >= region->page_count || count > region->page_count - first)
		return false;
	/* x86 has no write-only pages: asking for write means read-write. */
	unsigned wanted = prot == DBOS_PROT_WRITE ? DBOS_PROT_READ_WRITE : prot;
	for (uint64_t i = 0; i < count; i++) {
		dbos_pt_page_info info = dbos_pt_entry_info(region, first + i);
		unsigned have = info.prot == DBOS_PROT_WRITE ? DBOS_PROT_READ_WRITE : info.prot;
		if (info.state == DBOS_PT_UNMAPPED || (have & wanted) != wanted)
			return false;
	}
	return true;
}
