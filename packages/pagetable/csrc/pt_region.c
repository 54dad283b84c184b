/* pt_region.c - region lifecycle, page entries, capabilities and statistics. */
#include "pt_internal.h"

/* ---- Capabilities ------------------------------------------------------ */

static dbos_pt_capabilities probed;
static atomic_int probed_ready; /* 0: not yet; 1: `probed` is filled */

void dbos_pt_probe(dbos_pt_capabilities *capabilities)
{
	DBOS_ASSERT(capabilities != NULL);
	if (!atomic_load_explicit(&probed_ready, memory_order_acquire)) {
		/* Two threads may both probe; they compute the same answer. */
		dbos_pt_capabilities fresh = { 0 };
		dbos_pt_rt_probe(&fresh);
		probed = fresh;
		atomic_store_explicit(&probed_ready, 1, memory_order_release);
	}
	*capabilities = probed;
}

const char *dbos_pt_dirty_mechanism_name(enum dbos_pt_dirty_mechanism mechanism)
{
	switch (mechanism) {
	case DBOS_PT_DIRTY_NONE: return "none";
	case DBOS_PT_DIRTY_UFFD_WP_ASYNC: return "uffd-wp-async";
	case DBOS_PT_DIRTY_SHADOW_COMPARE: return "shadow-compare";
	case DBOS_PT_DIRTY_PTE_BITS: return "pte-dirty-bits";
	}
	return "unknown";
}

const char *dbos_pt_fault_mechanism_name(enum dbos_pt_fault_mechanism mechanism)
{
	switch (mechanism) {
	case DBOS_PT_FAULT_NONE: return "none";
	case DBOS_PT_FAULT_UFFD: return "userfaultfd";
	case DBOS_PT_FAULT_UFFD_USER_ONLY: return "userfaultfd-user-mode-only";
	case DBOS_PT_FAULT_GUEST_PF: return "guest-page-fault";
	}
	return "unknown";
}

/* ---- Page entries ------------------------------------------------------ */

dbos_pt_page_info dbos_pt_entry_info(const dbos_pt_region *region, uint64_t page)
{
	DBOS_ASSERT(page < region->page_count);
	const dbos_pt_entry *entry = &region->entries[page];
	dbos_pt_page_info info;
	if (entry->state == 0) {
		info.state = region->initial_state;
		info.prot = region->initial_state == DBOS_PT_ANON ? DBOS_PROT_READ_WRITE : DBOS_PROT_NONE;
		info.frame = UINT32_MAX;
		return info;
	}
	DBOS_ASSERT(entry->state <= DBOS_PT_FRAME + 1);
	info.state = (enum dbos_pt_state)(entry->state - 1);
	info.prot = info.state == DBOS_PT_UNMAPPED ? DBOS_PROT_NONE : (enum dbos_prot)entry->prot;
	info.frame = info.state == DBOS_PT_FRAME ? entry->frame : UINT32_MAX;
	return info;
}

/* Widen the extent [*lo, *hi) to cover [first, end); lock-free, monotonic. */
static void extent_widen(atomic_uint_fast64_t *lo, atomic_uint_fast64_t *hi, uint64_t first, uint64_t end)
{
	uint_fast64_t seen = atomic_load(lo);
	while (first < seen && !atomic_compare_exchange_weak(lo, &seen, first))
		;
	seen = atomic_load(hi);
	while (end > seen && !atomic_compare_exchange_weak(hi, &seen, end))
		;
}

bool dbos_pt_touched_clamp(const dbos_pt_region *region, uint64_t first, uint64_t count, uint64_t *clamped_first,
			   uint64_t *clamped_count)
{
	uint64_t lo = atomic_load(&region->touched_first);
	uint64_t hi = atomic_load(&region->touched_end);
	uint64_t begin = first > lo ? first : lo;
	uint64_t end = first + count < hi ? first + count : hi;
	if (begin >= end)
		return false;
	*clamped_first = begin;
	*clamped_count = end - begin;
	return true;
}

uint64_t dbos_pt_unwritten_end(const dbos_pt_region *region, uint64_t page)
{
	DBOS_ASSERT(page < region->page_count);
	uint64_t chunk_count = (region->page_count + DBOS_PT_CHUNK_PAGES - 1) / DBOS_PT_CHUNK_PAGES;
	uint64_t chunk = page / DBOS_PT_CHUNK_PAGES;
	/* The first written chunk at or after `chunk`: 64 chunks (32 768 pages) per word read. */
	for (uint64_t word = chunk / 64; word * 64 < chunk_count; word++) {
		uint64_t bits = atomic_load_explicit(&region->written[word], memory_order_acquire);
		if (word == chunk / 64)
			bits &= ~(uint64_t)0 << (chunk % 64);
		if (bits == 0)
			continue;
		uint64_t found = word * 64 + (uint64_t)__builtin_ctzll(bits);
		if (found == chunk)
			return page;
		uint64_t end = found * DBOS_PT_CHUNK_PAGES;
		return end < region->page_count ? end : region->page_count;
	}
	return region->page_count;
}

/* Mark the chunks of [first, first + count) written, before their entries are: lock-free. */
static void chunks_mark_written(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	uint64_t chunk = first / DBOS_PT_CHUNK_PAGES;
	uint64_t last = (first + count - 1) / DBOS_PT_CHUNK_PAGES;
	while (chunk <= last) {
		uint64_t span = last - chunk + 1 < 64 - chunk % 64 ? last - chunk + 1 : 64 - chunk % 64;
		uint64_t mask = (span == 64 ? ~(uint64_t)0 : (((uint64_t)1 << span) - 1)) << (chunk % 64);
		atomic_fetch_or_explicit(&region->written[chunk / 64], mask, memory_order_release);
		chunk += span;
	}
}

void dbos_pt_entries_set(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_pt_state state,
			 enum dbos_prot prot, uint32_t frame_first)
{
	DBOS_ASSERT(count >= 1 && first < region->page_count && count <= region->page_count - first);
	DBOS_ASSERT(state != DBOS_PT_FRAME || (uint64_t)frame_first + count <= UINT32_MAX);
	/* Marked before the writes: a walk that skips unwritten chunks never skips a written entry. */
	chunks_mark_written(region, first, count);
	int64_t mapped_delta = 0;
	int64_t frame_delta = 0;
	for (uint64_t i = 0; i < count; i++) {
		dbos_pt_page_info old = dbos_pt_entry_info(region, first + i);
		mapped_delta -= old.state != DBOS_PT_UNMAPPED;
		frame_delta -= old.state == DBOS_PT_FRAME;
		dbos_pt_entry *entry = &region->entries[first + i];
		entry->state = (uint8_t)(state + 1);
		entry->prot = (uint8_t)prot;
		entry->frame = state == DBOS_PT_FRAME ? frame_first + (uint32_t)i : 0;
	}
	mapped_delta += state != DBOS_PT_UNMAPPED ? (int64_t)count : 0;
	frame_delta += state == DBOS_PT_FRAME ? (int64_t)count : 0;
	atomic_fetch_add(&region->pages_mapped, (uint64_t)mapped_delta);
	extent_widen(&region->touched_first, &region->touched_end, first, first + count);
	uint64_t frame_pages = atomic_fetch_add(&region->frame_pages, (uint64_t)frame_delta) + (uint64_t)frame_delta;
	DBOS_ASSERT(frame_pages <= region->page_count);
	/* The pool stays bound (and referenced) when the count reaches zero: concurrent map_frames may use it. */
}

/* ---- Regions ----------------------------------------------------------- */

static const uint32_t region_flags_known = DBOS_PT_REGION_HUGE_PAGES | DBOS_PT_REGION_MAP_ALL;

dbos_status dbos_pt_region_create(const dbos_pt_region_options *options, dbos_pt_region **region_out)
{
	if (options == NULL || region_out == NULL)
		return DBOS_EINVAL;
	if (options->size == 0 || !DBOS_IS_ALIGNED(options->size, (uint64_t)DBOS_PAGE_SIZE) ||
	    (options->flags & ~region_flags_known) != 0)
		return DBOS_EINVAL;
	if (options->size > DBOS_PT_REGION_SIZE_MAX)
		return DBOS_ERANGE;

	dbos_pt_region *region = dbos_platform_alloc(sizeof(*region));
	if (region == NULL)
		return DBOS_ENOMEM;
	region->size = options->size;
	region->page_count = options->size / DBOS_PAGE_SIZE;
	region->flags = options->flags;
	region->initial_state = (options->flags & DBOS_PT_REGION_MAP_ALL) ? DBOS_PT_ANON : DBOS_PT_UNMAPPED;
	region->dirty = DBOS_PT_DIRTY_NONE;
	/* Empty extent; a region that starts mapped has touched everything. */
	bool map_all = region->initial_state == DBOS_PT_ANON;
	atomic_init(&region->touched_first, map_all ? 0 : region->page_count);
	atomic_init(&region->touched_end, map_all ? region->page_count : 0);
	atomic_init(&region->pinned_first, region->page_count);
	atomic_init(&region->pinned_end, 0);

	/* Entries, then the written-chunk bits: reserved and committed, but backed only where written. */
	uint64_t entries_bytes = DBOS_ALIGN_UP(region->page_count * sizeof(dbos_pt_entry), (uint64_t)DBOS_PAGE_SIZE);
	uint64_t chunk_count = (region->page_count + DBOS_PT_CHUNK_PAGES - 1) / DBOS_PT_CHUNK_PAGES;
	uint64_t written_bytes = DBOS_ALIGN_UP((chunk_count + 63) / 64 * sizeof(uint64_t), (uint64_t)DBOS_PAGE_SIZE);
	region->entries_size = entries_bytes + written_bytes;
	void *entries = NULL;
	dbos_status status = dbos_platform_reserve(region->entries_size, DBOS_PAGE_SIZE, &entries);
	if (status != DBOS_OK)
		goto fail_region;
	status = dbos_platform_commit(entries, region->entries_size, DBOS_PROT_READ_WRITE);
	if (status != DBOS_OK)
		goto fail_entries;
	region->entries = entries;
	region->written = (_Atomic uint64_t *)((uint8_t *)entries + entries_bytes);

	status = dbos_pt_rt_region_init(region);
	if (status != DBOS_OK)
		goto fail_entries;
	DBOS_ASSERT(region->base != NULL && DBOS_IS_ALIGNED((uintptr_t)region->base, DBOS_PAGE_SIZE));
	if (region->initial_state == DBOS_PT_ANON) {
		status = dbos_pt_rt_map_anon(region, 0, region->page_count, DBOS_PROT_READ_WRITE);
		dbos_pt_rt_batch_end(region);
		if (status != DBOS_OK) {
			dbos_pt_rt_region_fini(region);
			goto fail_entries;
		}
		atomic_store(&region->pages_mapped, region->page_count);
	}
	*region_out = region;
	return DBOS_OK;

fail_entries:
	dbos_platform_unreserve(entries, region->entries_size);
fail_region:
	dbos_platform_free(region, sizeof(*region));
	return status;
}

void dbos_pt_region_destroy(dbos_pt_region *region)
{
	if (region == NULL)
		return;
	if (region->fault_handler != NULL)
		(void)dbos_pt_fault_disable(region);
	if (region->dirty != DBOS_PT_DIRTY_NONE)
		(void)dbos_pt_dirty_stop(region);
	dbos_pt_rt_region_fini(region);
	if (region->frames != NULL)
		dbos_pt_frames_unref(region->frames);
	dbos_platform_unreserve(region->entries, region->entries_size);
	dbos_platform_free(region, sizeof(*region));
}

uint8_t *dbos_pt_region_base(const dbos_pt_region *region)
{
	return region->base;
}

uint64_t dbos_pt_region_size(const dbos_pt_region *region)
{
	return region->size;
}

uint64_t dbos_pt_region_page_count(const dbos_pt_region *region)
{
	return region->page_count;
}

void dbos_pt_region_stats(const dbos_pt_region *region, dbos_pt_stats *stats_out)
{
	DBOS_ASSERT(region != NULL && stats_out != NULL);
	/* The counters are atomics; reading through a const region is a relaxed snapshot. */
	dbos_pt_region *mutable_region = (dbos_pt_region *)region;
	stats_out->runtime_calls = atomic_load_explicit(&mutable_region->runtime_calls, memory_order_relaxed);
	stats_out->pages_mapped = atomic_load_explicit(&mutable_region->pages_mapped, memory_order_relaxed);
	stats_out->faults_served = atomic_load_explicit(&mutable_region->faults_served, memory_order_relaxed);
	stats_out->faults_failed = atomic_load_explicit(&mutable_region->faults_failed, memory_order_relaxed);
}

/* ---- Frame pools ------------------------------------------------------- */

dbos_status dbos_pt_frames_create(uint64_t frame_count, dbos_pt_frames **frames_out)
{
	if (frames_out == NULL || frame_count == 0)
		return DBOS_EINVAL;
	if (frame_count > DBOS_PT_FRAME_COUNT_MAX)
		return DBOS_ERANGE;
	dbos_pt_frames *frames = dbos_platform_alloc(sizeof(*frames));
	if (frames == NULL)
		return DBOS_ENOMEM;
	frames->count = frame_count;
	atomic_init(&frames->references, 1);
	dbos_status status = dbos_pt_rt_frames_init(frames);
	if (status != DBOS_OK) {
		dbos_platform_free(frames, sizeof(*frames));
		return status;
	}
	DBOS_ASSERT(frames->address != NULL);
	*frames_out = frames;
	return DBOS_OK;
}

void dbos_pt_frames_ref(dbos_pt_frames *frames)
{
	uint_fast32_t before = atomic_fetch_add(&frames->references, 1);
	DBOS_ASSERT(before >= 1);
}

void dbos_pt_frames_unref(dbos_pt_frames *frames)
{
	uint_fast32_t before = atomic_fetch_sub(&frames->references, 1);
	DBOS_ASSERT(before >= 1);
	if (before == 1) {
		dbos_pt_rt_frames_fini(frames);
		dbos_platform_free(frames, sizeof(*frames));
	}
}

void dbos_pt_frames_destroy(dbos_pt_frames *frames)
{
	if (frames != NULL)
		dbos_pt_frames_unref(frames);
}

uint64_t dbos_pt_frames_count(const dbos_pt_frames *frames)
{
	return frames->count;
}

uint8_t *dbos_pt_frames_address(const dbos_pt_frames *frames)
{
	return frames->address;
}

dbos_status dbos_pt_frames_release(dbos_pt_frames *frames, dbos_pt_pages frame_set)
{
	if (frames == NULL || (frame_set.list == NULL && frame_set.count != 0 && frame_set.first >= frames->count))
		return frames == NULL ? DBOS_EINVAL : DBOS_ERANGE;
	if (frame_set.list == NULL) {
		if (frame_set.count == 0)
			return DBOS_OK;
		if (frame_set.count > frames->count - frame_set.first)
			return DBOS_ERANGE;
		return dbos_pt_rt_frames_release(frames, frame_set.first, frame_set.count);
	}
	if (dbos_pt_list_too_long(frame_set.count, frames->count))
		return DBOS_EINVAL;
	for (uint64_t i = 0; i < frame_set.count; i++) {
		if (frame_set.list[i] >= frames->count)
			return DBOS_ERANGE;
	}
	for (uint64_t i = 0; i < frame_set.count;) {
		uint64_t first = frame_set.list[i];
		uint64_t length = 1;
		while (i + length < frame_set.count && frame_set.list[i + length] == first + length)
			length++;
		dbos_status status = dbos_pt_rt_frames_release(frames, first, length);
		if (status != DBOS_OK)
			return status;
		i += length;
	}
	return DBOS_OK;
}
