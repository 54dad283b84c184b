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

/*
 * Commit the pool's frames [0, frame_end), a chunk at a time.  Under the commit mutex: a chunk
 * committed twice would come back zeroed, losing the copies already in it.  Returns the
 * platform's status when memory runs out (the frames below the failed chunk stay committed).
 */
static dbos_status snap_frames_commit(dbos_snap_space *space, uint64_t frame_end)
{
	DBOS_ASSERT(frame_end <= space->frame_capacity);
	if (atomic_load_explicit(&space->frames_committed, memory_order_acquire) >= frame_end)
		return DBOS_OK;
	dbos_mutex_lock(&space->commit_mutex);
	dbos_status status = DBOS_OK;
	uint64_t committed = atomic_load_explicit(&space->frames_committed, memory_order_relaxed);
	/* Bounded: each pass commits one more chunk, up to frame_end <= frame_capacity. */
	while (committed < frame_end && status == DBOS_OK) {
		uint64_t count = space->frame_capacity - committed < SNAP_REFILL_CHUNK_FRAMES
					 ? space->frame_capacity - committed
					 : SNAP_REFILL_CHUNK_FRAMES;
		uint8_t *chunk = snap_frame_address(space, (uint32_t)committed);
		status = dbos_platform_commit(chunk, (size_t)count * DBOS_PAGE_SIZE, DBOS_PROT_READ_WRITE);
		if (status != DBOS_OK)
			break;
		/*
		 * 4 KiB pages: with THP a fault on a frame the refill has not reached yet zeroes 2 MiB
		 * (and may compact memory) on the writer's path; measured slower here.  Per chunk: a
		 * commit makes a fresh mapping, which would not keep advice given to the reservation.
		 */
		(void)dbos_platform_advise(chunk, (size_t)count * DBOS_PAGE_SIZE, DBOS_ADVICE_NOHUGEPAGE);
		committed += count;
		atomic_store_explicit(&space->frames_committed, committed, memory_order_release);
	}
	dbos_mutex_unlock(&space->commit_mutex);
	return status;
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
	/*
	 * Usually the refill has committed it already (one load).  When memory runs out the index
	 * stays handed out, never referenced, until the last release resets the pool.
	 */
	if (snap_frames_commit(space, frame + 1) != DBOS_OK)
		return DBOS_ENOMEM;
	/*
	 * Running low on resident frames: ask the refill thread for more (one wake per request).
	 * A writer that outran it entirely doubles the reserve it keeps ahead: write bursts after
	 * a snapshot copy faster than a fixed reserve refills.
	 */
	uint64_t ready = atomic_load_explicit(&space->frames_ready, memory_order_relaxed);
	uint64_t ahead = atomic_load_explicit(&space->refill_ahead, memory_order_relaxed);
	if (frame + ahead / 2 >= ready && space->refill_thread) {
		/* Never more ahead than copies made so far: memory kept ready stays <= memory in use. */
		if (frame >= ready && ahead < frame)
			atomic_compare_exchange_strong(&space->refill_ahead, &ahead, ahead * 2);
		if (atomic_exchange(&space->refill_request, 1) == 0)
			dbos_platform_wake((const uint32_t *)&space->refill_request, 1);
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
	/* Keep the reserve committed and resident for the next snapshot; give the rest back. */
	uint64_t reserve = space->reserve_frames;
	dbos_mutex_lock(&space->commit_mutex);
	uint64_t committed = atomic_load_explicit(&space->frames_committed, memory_order_relaxed);
	if (committed > reserve) {
		size_t bytes = (size_t)(committed - reserve) * DBOS_PAGE_SIZE;
		DBOS_ASSERT(dbos_platform_decommit(snap_frame_address(space, (uint32_t)reserve), bytes) == DBOS_OK);
		atomic_store_explicit(&space->frames_committed, reserve, memory_order_release);
	}
	dbos_mutex_unlock(&space->commit_mutex);
	uint64_t ready = atomic_load(&space->frames_ready);
	if (ready > reserve)
		atomic_store(&space->frames_ready, reserve);
	snap_free_lock(space);
	space->free_head = SNAP_FRAME_NONE;
	atomic_store(&space->frame_next, 0);
	snap_free_unlock(space);
	atomic_store(&space->refill_ahead, reserve);
}

/*
 * Frames the live snapshots can still ask for: each page not yet copied for a snapshot may take
 * one.  An upper bound (back-to-back snapshots share frames, freed frames are reused first), so
 * the refill never zeroes memory no copy can use: once writers have copied most pages, the
 * doubled reserve would otherwise populate up to a whole space of frames nobody takes.
 */
static uint64_t snap_frames_wanted_max(dbos_snap_space *space)
{
	uint64_t wanted = 0;
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++) {
		snap_slot *slot = &space->slots[i];
		if (atomic_load(&slot->epoch) == 0)
			continue;
		uint64_t copied = atomic_load_explicit(&slot->copy_count, memory_order_relaxed);
		wanted += copied < space->page_count ? space->page_count - copied : 0;
	}
	return wanted;
}

/* Populate frames until the reserve ahead of the allocation point is ready. */
static void snap_refill_run(dbos_snap_space *space)
{
	for (;;) {
		uint64_t ready = atomic_load(&space->frames_ready);
		uint64_t ahead = atomic_load(&space->refill_ahead);
		/* The base reserve is kept between snapshots; growth only for copies still possible. */
		uint64_t wanted = snap_frames_wanted_max(space);
		if (ahead > space->reserve_frames && ahead > wanted)
			ahead = wanted > space->reserve_frames ? wanted : space->reserve_frames;
		uint64_t want = atomic_load(&space->frame_next) + ahead;
		if (want > space->frame_capacity)
			want = space->frame_capacity;
		if (ready >= want || atomic_load(&space->refill_stop))
			return;
		uint64_t count = want - ready < SNAP_REFILL_CHUNK_FRAMES ? want - ready : SNAP_REFILL_CHUNK_FRAMES;
		/* Out of memory: writers that need these frames get DBOS_ENOMEM from the same commit. */
		if (snap_frames_commit(space, ready + count) != DBOS_OK)
			return;
		/* Failure only means writers fault the frames in themselves. */
		(void)dbos_platform_advise(snap_frame_address(space, (uint32_t)ready), (size_t)count * DBOS_PAGE_SIZE,
					   DBOS_ADVICE_POPULATE_WRITE);
		atomic_store(&space->frames_ready, ready + count);
	}
}

static void snap_refill_main(void *argument)
{
	dbos_snap_space *space = argument;
	while (!atomic_load(&space->refill_stop)) {
		snap_refill_run(space);
		/* Sleep until a writer runs low (request 0 -> 1) or stop. */
		if (atomic_exchange(&space->refill_request, 0) == 0)
			dbos_platform_wait((const uint32_t *)&space->refill_request, 0, UINT64_MAX);
	}
}

dbos_status snap_refill_start(dbos_snap_space *space)
{
	atomic_store(&space->refill_ahead, space->reserve_frames);
	atomic_store(&space->refill_request, 1);
	dbos_status status = dbos_platform_thread_start(snap_refill_main, space, &space->refill_thread);
	/*
	 * A runtime without threads of its own (the guest: one engine thread per vCPU) has no
	 * refill: writers commit and fault in frames themselves, which only costs time.
	 */
	if (status == DBOS_ENOTSUP) {
		space->refill_thread = NULL;
		return DBOS_OK;
	}
	return status;
}

void snap_refill_stop(dbos_snap_space *space)
{
	if (!space->refill_thread)
		return;
	atomic_store(&space->refill_stop, 1);
	atomic_store(&space->refill_request, 1);
	dbos_platform_wake((const uint32_t *)&space->refill_request, 1);
	dbos_platform_thread_join(space->refill_thread);
	space->refill_thread = NULL;
}
