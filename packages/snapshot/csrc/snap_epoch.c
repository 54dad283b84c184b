/* snap_epoch.c - epoch copy-on-write: O(1) take, first write copies the pre-image once. */
#include "snap_internal.h"

dbos_status snap_epoch_take(dbos_snap_space *space, snap_slot *slot)
{
	uint64_t epoch = atomic_load(&space->epoch) + 1;
	/* 1. The slot is visible to writers of the new epoch before any of them can exist. */
	atomic_store(&slot->epoch, epoch);
	/* 2. New sections pin the new epoch and preserve pages for this snapshot. */
	atomic_store(&space->epoch, epoch);
	/* 3. Sections pinned at an older epoch belong before the snapshot: let them finish. */
	snap_writers_wait(space, epoch);
	/* 4. Complete: writers of the new epoch may copy now (they waited for this). */
	atomic_store(&space->sealed_epoch, epoch);
	return DBOS_OK;
}

/* Wait until the snapshot that opened `epoch` is complete (only during its take). */
static void snap_sealed_wait(dbos_snap_space *space, uint64_t epoch)
{
	uint32_t spins = 0;
	while (atomic_load_explicit(&space->sealed_epoch, memory_order_acquire) < epoch) {
		if (++spins < SNAP_SPIN_COUNT_MAX)
			dbos_platform_relax();
		else
			dbos_platform_yield();
	}
}

/* Install a fresh copy of `page` into every slot in targets; the page's lock is held. */
static dbos_status snap_page_copy(dbos_snap_space *space, uint64_t page, snap_slot **targets, uint32_t count)
{
	uint32_t frame;
	dbos_status status = snap_frame_alloc(space, &frame);
	if (status != DBOS_OK)
		return status;
	__builtin_memcpy(snap_frame_address(space, frame), space->base + page * DBOS_PAGE_SIZE, DBOS_PAGE_SIZE);
	atomic_store_explicit(&space->frame_refs[frame], count, memory_order_relaxed);
	for (uint32_t i = 0; i < count; i++) {
		DBOS_ASSERT(atomic_load_explicit(&targets[i]->copies[page], memory_order_relaxed) == SNAP_FRAME_NONE);
		atomic_store_explicit(&targets[i]->copies[page], frame + 1, memory_order_release);
		atomic_fetch_add_explicit(&targets[i]->copy_count, 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&space->copies_live, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&space->copies_made, 1, memory_order_relaxed);
	return DBOS_OK;
}

dbos_status snap_page_preserve(dbos_snap_space *space, uint64_t epoch, uint64_t page)
{
	_Atomic uint64_t *stamp = &space->stamps[page];
	uint64_t seen = atomic_load_explicit(stamp, memory_order_acquire);
	if (seen >= epoch && !(seen & SNAP_STAMP_LOCK))
		return DBOS_OK; /* written in this epoch already: every snapshot has what it needs */

	/* A snapshot opened our epoch but may still wait for older sections: copy after them. */
	snap_sealed_wait(space, epoch);
	uint32_t spins = 0;
	bool raced = false;
	for (;;) {
		seen = atomic_load_explicit(stamp, memory_order_acquire);
		if (seen & SNAP_STAMP_LOCK) {
			raced = true; /* another writer is copying this page: wait for its stamp */
			if (++spins < SNAP_SPIN_COUNT_MAX)
				dbos_platform_relax();
			else
				dbos_platform_yield();
			continue;
		}
		if (seen >= epoch)
			break;
		if (atomic_compare_exchange_weak_explicit(stamp, &seen, seen | SNAP_STAMP_LOCK, memory_order_acquire,
							  memory_order_relaxed))
			goto locked;
	}
	if (raced)
		atomic_fetch_add_explicit(&space->copy_races_lost, 1, memory_order_relaxed);
	return DBOS_OK;

locked:;
	/* The page last changed in epoch `seen`: snapshots opened after that and up to ours need it. */
	snap_slot *targets[DBOS_SNAP_COUNT_MAX];
	uint32_t count = 0;
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++) {
		uint64_t slot_epoch = atomic_load(&space->slots[i].epoch);
		if (slot_epoch != 0 && seen < slot_epoch && slot_epoch <= epoch)
			targets[count++] = &space->slots[i];
	}
	dbos_status status = count ? snap_page_copy(space, page, targets, count) : DBOS_OK;
	/* Unlock: on failure the page keeps its old stamp so the next writer tries again. */
	atomic_store_explicit(stamp, status == DBOS_OK ? epoch : seen, memory_order_release);
	/* The caller's plain stores to the page must not pass the copy's publication. */
	atomic_thread_fence(memory_order_seq_cst);
	return status;
}

dbos_status dbos_snap_page_prepare(dbos_snap_writer *writer, uint64_t page, void **page_address_out)
{
	dbos_snap_space *space = writer->space;
	uint64_t epoch = atomic_load_explicit(&writer->epoch, memory_order_relaxed);
	DBOS_ASSERT(epoch != 0); /* inside a section */
	if (page >= space->page_count)
		return DBOS_ERANGE;
	dbos_status status = DBOS_OK;
	if (space->mechanism == DBOS_SNAP_EPOCH)
		status = snap_page_preserve(space, epoch, page);
	if (status == DBOS_OK && page_address_out)
		*page_address_out = space->base + page * DBOS_PAGE_SIZE;
	return status;
}

void snap_slot_free_copies(dbos_snap_space *space, snap_slot *slot)
{
	uint64_t remaining = atomic_load(&slot->copy_count);
	for (uint64_t page = 0; page < space->page_count && remaining; page++) {
		uint32_t entry = atomic_load_explicit(&slot->copies[page], memory_order_relaxed);
		if (entry == SNAP_FRAME_NONE)
			continue;
		snap_frame_unref(space, entry - 1);
		remaining--;
	}
	DBOS_ASSERT(remaining == 0);
	atomic_store(&slot->copy_count, 0);
	/* Zero the table for the slot's next snapshot and give its memory back. */
	DBOS_ASSERT(dbos_platform_advise((void *)slot->copies, space->copies_size, DBOS_ADVICE_DISCARD) == DBOS_OK);
}

dbos_status dbos_snap_write_copy(dbos_snap_writer *writer, uint64_t offset, const void *source, uint64_t length)
{
	dbos_snap_space *space = writer->space;
	uint64_t size = space->page_count * DBOS_PAGE_SIZE;
	if (offset > size || length > size - offset)
		return DBOS_ERANGE;
	if (length && !source)
		return DBOS_EINVAL;
	if (length == 0)
		return DBOS_OK;
	dbos_status status = DBOS_OK;
	dbos_snap_writer_enter(writer);
	/* Prepare every page first, then one memmove: correct even when the source is in the space. */
	uint64_t last = (offset + length - 1) / DBOS_PAGE_SIZE;
	for (uint64_t page = offset / DBOS_PAGE_SIZE; page <= last && status == DBOS_OK; page++)
		status = dbos_snap_page_prepare(writer, page, NULL);
	if (status == DBOS_OK)
		__builtin_memmove(space->base + offset, source, length);
	dbos_snap_writer_leave(writer);
	return status;
}
