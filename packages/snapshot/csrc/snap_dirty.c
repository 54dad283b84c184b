/*
 * snap_dirty.c - pages written since a FORK snapshot, from @dbos/pagetable's dirty tracking.
 *
 * EPOCH and UFFD_WP know their dirty pages exactly (a page changed since a snapshot iff the
 * snapshot holds a copy of it).  A FORK snapshot's copies live in the kernel, so a space over a
 * pagetable region asks the region instead: the region reports pages written since its last
 * reset.  Each FORK take (writers quiesced) collects-and-resets those pages into the bitmap of
 * every older live snapshot; dirty_since(S) is S's bitmap plus what the region reports now.
 */
#include "snap_internal.h"

/* Pages reported per collect call: a 16 KiB stack buffer. */
#define SNAP_DIRTY_BATCH 4096u

static size_t snap_bitmap_size(uint64_t page_count)
{
	return (size_t)DBOS_ALIGN_UP((page_count + 63) / 64 * sizeof(uint64_t), (uint64_t)DBOS_PAGE_SIZE);
}

enum dbos_pt_dirty_mechanism snap_dirty_mechanism(void)
{
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	/* Only tracking that costs nothing per collection; a shadow copy of every page would not. */
	if (capabilities.dirty != DBOS_PT_DIRTY_UFFD_WP_ASYNC && capabilities.dirty != DBOS_PT_DIRTY_PTE_BITS)
		return DBOS_PT_DIRTY_NONE;
	return capabilities.dirty;
}

dbos_status snap_dirty_attach(dbos_snap_space *space)
{
	if (!space->region || space->mechanism != DBOS_SNAP_FORK)
		return DBOS_OK;
	enum dbos_pt_dirty_mechanism tracking = snap_dirty_mechanism();
	if (tracking == DBOS_PT_DIRTY_NONE)
		return DBOS_OK;
	space->dirty_size = snap_bitmap_size(space->page_count);
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++) {
		void *address = NULL;
		dbos_status status = dbos_platform_reserve(space->dirty_size, DBOS_PAGE_SIZE, &address);
		if (status == DBOS_OK)
			status = dbos_platform_commit(address, space->dirty_size, DBOS_PROT_READ_WRITE);
		if (status != DBOS_OK)
			return status;
		space->slots[i].dirty = address;
	}
	if (dbos_pt_dirty_start(space->region, tracking) != DBOS_OK)
		return DBOS_OK; /* the region tracks already or cannot: dirty_since reports ENOTSUP */
	space->region_dirty = true;
	return DBOS_OK;
}

void snap_dirty_detach(dbos_snap_space *space)
{
	if (space->region_dirty)
		(void)dbos_pt_dirty_stop(space->region);
	space->region_dirty = false;
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++) {
		if (space->slots[i].dirty)
			DBOS_ASSERT(dbos_platform_unreserve((void *)space->slots[i].dirty, space->dirty_size) ==
				    DBOS_OK);
		space->slots[i].dirty = NULL;
	}
}

/* Report the region's dirty pages (resetting them when `reset`) into `visit`'s bitmaps. */
static dbos_status snap_dirty_collect(dbos_snap_space *space, bool reset, _Atomic uint64_t **targets,
				      uint32_t target_count, uint64_t *plain)
{
	uint32_t pages[SNAP_DIRTY_BATCH];
	uint64_t next = 0;
	/* Bounded: every call advances `next` or finishes the range. */
	while (next < space->page_count) {
		uint64_t found = 0;
		uint64_t stop = next;
		dbos_status status = dbos_pt_dirty_collect(space->region, next, space->page_count - next,
							   reset ? DBOS_PT_COLLECT_RESET : 0, pages, SNAP_DIRTY_BATCH,
							   &found, &stop);
		if (status != DBOS_OK)
			return status;
		DBOS_ASSERT(stop > next || found > 0 || stop == space->page_count);
		for (uint64_t i = 0; i < found; i++) {
			uint64_t page = pages[i];
			uint64_t bit = (uint64_t)1 << (page % 64);
			for (uint32_t t = 0; t < target_count; t++)
				atomic_fetch_or_explicit(&targets[t][page / 64], bit, memory_order_relaxed);
			if (plain)
				plain[page / 64] |= bit;
		}
		if (stop == next && found == 0)
			break;
		next = stop;
	}
	return DBOS_OK;
}

dbos_status snap_dirty_advance(dbos_snap_space *space)
{
	if (!space->region_dirty)
		return DBOS_OK;
	_Atomic uint64_t *targets[DBOS_SNAP_COUNT_MAX];
	uint32_t count = 0;
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++) {
		if (SNAP_WORD_STATE(atomic_load(&space->slots[i].word)) != SNAP_SLOT_FREE)
			targets[count++] = space->slots[i].dirty;
	}
	/* With no older snapshot the pages only need to become clean for the new one. */
	return snap_dirty_collect(space, true, targets, count, NULL);
}

dbos_status snap_dirty_since_fork(dbos_snap_space *space, snap_slot *slot, uint64_t *bitmap, uint64_t *count_out)
{
	if (!space->region_dirty)
		return DBOS_ENOTSUP;
	uint64_t words = (space->page_count + 63) / 64;
	/* Under the mutex: a take moves pages from the region into the bitmaps atomically for us. */
	dbos_mutex_lock(&space->mutex);
	for (uint64_t w = 0; w < words; w++)
		bitmap[w] = atomic_load_explicit(&slot->dirty[w], memory_order_relaxed);
	dbos_status status = snap_dirty_collect(space, false, NULL, 0, bitmap);
	dbos_mutex_unlock(&space->mutex);
	uint64_t count = 0;
	for (uint64_t w = 0; w < words; w++)
		count += (uint64_t)__builtin_popcountll(bitmap[w]);
	*count_out = count;
	return status;
}
