/* snap_read.c - reading a snapshot while writers run, and the pages written since it. */
#include "snap_internal.h"

/*
 * One page of a copy-on-write snapshot, located.  If a copy exists it is the pre-image, and its
 * frame never changes while the snapshot holds it.  Otherwise the live page still is, unless a
 * writer copies it and writes while we read: a writer publishes the copy before its first store
 * to the page, so copying the live bytes to `target` and then finding no copy proves they were
 * unchanged (a seqlock whose sequence is the copy entry).  Returns the frame or `target`.
 */
static const uint8_t *snap_page_locate_cow(dbos_snap_space *space, snap_slot *slot, uint64_t page, uint8_t *target)
{
	uint32_t entry = atomic_load_explicit(&slot->copies[page], memory_order_acquire);
	if (entry == SNAP_FRAME_NONE) {
		__builtin_memcpy(target, space->base + page * DBOS_PAGE_SIZE, DBOS_PAGE_SIZE);
		atomic_thread_fence(memory_order_acquire);
		entry = atomic_load_explicit(&slot->copies[page], memory_order_acquire);
		if (entry == SNAP_FRAME_NONE)
			return target;
	}
	return snap_frame_address(space, entry - 1);
}

static void snap_page_read_cow(dbos_snap_space *space, snap_slot *slot, uint64_t page, uint8_t *target)
{
	const uint8_t *bytes = snap_page_locate_cow(space, slot, page, target);
	if (bytes != target)
		__builtin_memcpy(target, bytes, DBOS_PAGE_SIZE);
}

dbos_status snap_pages_read(dbos_snap_space *space, snap_slot *slot, uint64_t first, uint64_t count, void *target)
{
	DBOS_ASSERT(first + count <= space->page_count);
	if (slot->mechanism == DBOS_SNAP_FORK)
		return space->ops->read(space, slot, first * DBOS_PAGE_SIZE, count * DBOS_PAGE_SIZE, target);
	uint8_t *bytes = target;
	for (uint64_t i = 0; i < count; i++)
		snap_page_read_cow(space, slot, first + i, bytes + i * DBOS_PAGE_SIZE);
	return DBOS_OK;
}

dbos_status snap_pages_locate(dbos_snap_space *space, snap_slot *slot, uint64_t first, uint64_t count, uint8_t *staging,
			      const uint8_t **pages_out)
{
	DBOS_ASSERT(first + count <= space->page_count);
	if (slot->mechanism == DBOS_SNAP_FORK) {
		/* The frozen image lives in the child: every page comes over as a copy. */
		dbos_status status = snap_pages_read(space, slot, first, count, staging);
		for (uint64_t i = 0; i < count && status == DBOS_OK; i++)
			pages_out[i] = staging + i * DBOS_PAGE_SIZE;
		return status;
	}
	for (uint64_t i = 0; i < count; i++)
		pages_out[i] = snap_page_locate_cow(space, slot, first + i, staging + i * DBOS_PAGE_SIZE);
	return DBOS_OK;
}

dbos_status dbos_snap_page_read(dbos_snap_space *space, dbos_snap_id id, uint64_t page, void *target)
{
	if (!target)
		return DBOS_EINVAL;
	snap_slot *slot;
	dbos_status status = snap_slot_pin(space, id, &slot);
	if (status != DBOS_OK)
		return status;
	status = page < space->page_count ? snap_pages_read(space, slot, page, 1, target) : DBOS_ERANGE;
	snap_slot_unpin(slot);
	return status;
}

dbos_status dbos_snap_read(dbos_snap_space *space, dbos_snap_id id, uint64_t offset, uint64_t length, void *target)
{
	if (!target && length)
		return DBOS_EINVAL;
	snap_slot *slot;
	dbos_status status = snap_slot_pin(space, id, &slot);
	if (status != DBOS_OK)
		return status;
	uint64_t size = space->page_count * DBOS_PAGE_SIZE;
	if (offset > size || length > size - offset) {
		snap_slot_unpin(slot);
		return DBOS_ERANGE;
	}
	if (slot->mechanism == DBOS_SNAP_FORK) {
		status = length ? space->ops->read(space, slot, offset, length, target) : DBOS_OK;
		snap_slot_unpin(slot);
		return status;
	}
	uint8_t *bytes = target;
	uint8_t page_bytes[DBOS_PAGE_SIZE];
	while (length && status == DBOS_OK) {
		uint64_t page = offset / DBOS_PAGE_SIZE;
		uint64_t within = offset % DBOS_PAGE_SIZE;
		uint64_t chunk = DBOS_PAGE_SIZE - within < length ? DBOS_PAGE_SIZE - within : length;
		if (within == 0 && chunk == DBOS_PAGE_SIZE) {
			snap_page_read_cow(space, slot, page, bytes);
		} else {
			snap_page_read_cow(space, slot, page, page_bytes);
			__builtin_memcpy(bytes, page_bytes + within, chunk);
		}
		bytes += chunk;
		offset += chunk;
		length -= chunk;
	}
	snap_slot_unpin(slot);
	return status;
}

dbos_status dbos_snap_dirty_since(dbos_snap_space *space, dbos_snap_id id, uint64_t *bitmap, uint64_t word_count,
				  uint64_t *count_out)
{
	snap_slot *slot;
	dbos_status status = snap_slot_pin(space, id, &slot);
	if (status != DBOS_OK)
		return status;
	if (!bitmap || word_count < (space->page_count + 63) / 64) {
		snap_slot_unpin(slot);
		return DBOS_EINVAL;
	}
	if (slot->mechanism == DBOS_SNAP_FORK) {
		uint64_t count = 0;
		status = snap_dirty_since_fork(space, slot, bitmap, &count);
		for (uint64_t word = (space->page_count + 63) / 64; word < word_count && status == DBOS_OK; word++)
			bitmap[word] = 0;
		if (count_out && status == DBOS_OK)
			*count_out = count;
		snap_slot_unpin(slot);
		return status;
	}
	/* A page changed since the snapshot exactly when its first write copied it for the snapshot. */
	uint64_t count = 0;
	for (uint64_t word = 0; word < (space->page_count + 63) / 64; word++) {
		uint64_t bits = 0;
		uint64_t first = word * 64;
		uint64_t last = first + 64 < space->page_count ? first + 64 : space->page_count;
		for (uint64_t page = first; page < last; page++) {
			if (atomic_load_explicit(&slot->copies[page], memory_order_relaxed) != SNAP_FRAME_NONE)
				bits |= (uint64_t)1 << (page - first);
		}
		bitmap[word] = bits;
		count += (uint64_t)__builtin_popcountll(bits);
	}
	for (uint64_t word = (space->page_count + 63) / 64; word < word_count; word++)
		bitmap[word] = 0;
	if (count_out)
		*count_out = count;
	snap_slot_unpin(slot);
	return DBOS_OK;
}
