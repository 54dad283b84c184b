/* snap_frames.c - the copy pool: frames that hold pre-images, shared by reference count. */
#include "snap_internal.h"

static void snap_free_lock(dbos_snap_space *space)
{
	uint32_t spins = 0;
	while (atomic_exchange_explicit(&space->free_lock, 1, memory_order_acquire) != 0) {
		if (++spins < SNAP_SPIN_COUNT_MAX)
			dbos_platform_relax();
		else
			dbos_platform_yield();
	}
}

static void snap_free_unlock(dbos_snap_space *space)
{
	atomic_store_explicit(&space->free_lock, 0, memory_order_release);
}

dbos_status snap_frame_alloc(dbos_snap_space *space, uint32_t *frame_out)
{
	/* Reuse a freed frame first: it is resident already. */
	if (atomic_load_explicit(&space->free_head, memory_order_relaxed) != SNAP_FRAME_NONE) {
		snap_free_lock(space);
		uint32_t head = space->free_head;
		if (head != SNAP_FRAME_NONE) {
			uint32_t frame = head - 1;
			uint32_t next;
			__builtin_memcpy(&next, snap_frame_address(space, frame), sizeof(next));
			space->free_head = next;
			snap_free_unlock(space);
			*frame_out = frame;
			return DBOS_OK;
		}
		snap_free_unlock(space);
	}
	uint64_t frame = atomic_fetch_add(&space->frame_next, 1);
	if (frame >= space->frame_capacity) {
		atomic_fetch_sub(&space->frame_next, 1);
		return DBOS_ENOMEM;
	}
	*frame_out = (uint32_t)frame;
	return DBOS_OK;
}

void snap_frame_unref(dbos_snap_space *space, uint32_t frame)
{
	DBOS_ASSERT(frame < atomic_load(&space->frame_next));
	uint32_t previous = atomic_fetch_sub(&space->frame_refs[frame], 1);
	DBOS_ASSERT(previous != 0);
	if (previous != 1)
		return;
	atomic_fetch_sub(&space->copies_live, 1);
	snap_free_lock(space);
	uint32_t next = space->free_head;
	__builtin_memcpy(snap_frame_address(space, frame), &next, sizeof(next));
	space->free_head = frame + 1;
	snap_free_unlock(space);
}

void snap_frames_reset(dbos_snap_space *space)
{
	DBOS_ASSERT(atomic_load(&space->copies_live) == 0);
	uint64_t used = atomic_load(&space->frame_next);
	if (used) {
		size_t bytes = (size_t)used * DBOS_PAGE_SIZE;
		DBOS_ASSERT(dbos_platform_advise(space->frames, bytes, DBOS_ADVICE_DISCARD) == DBOS_OK);
	}
	snap_free_lock(space);
	space->free_head = SNAP_FRAME_NONE;
	atomic_store(&space->frame_next, 0);
	snap_free_unlock(space);
}
