/* snap_slot.c - snapshot ids, pins and the public take / release / info entry points. */
#include "snap_internal.h"

dbos_snap_id snap_id_make(uint32_t generation, uint32_t slot_index)
{
	DBOS_ASSERT(slot_index < DBOS_SNAP_COUNT_MAX && generation != 0);
	return ((uint64_t)generation << 8) | slot_index;
}

static snap_slot *snap_slot_of(dbos_snap_space *space, dbos_snap_id id, uint32_t *generation_out)
{
	uint64_t index = id & 0xff;
	uint64_t generation = id >> 8;
	if (index >= DBOS_SNAP_COUNT_MAX || generation == 0 || generation > UINT32_MAX)
		return NULL;
	*generation_out = (uint32_t)generation;
	return &space->slots[index];
}

dbos_status snap_slot_pin(dbos_snap_space *space, dbos_snap_id id, snap_slot **slot_out)
{
	uint32_t generation;
	snap_slot *slot = space ? snap_slot_of(space, id, &generation) : NULL;
	if (!slot)
		return DBOS_EINVAL;
	uint64_t word = atomic_load(&slot->word);
	for (;;) {
		if (SNAP_WORD_GENERATION(word) != generation || SNAP_WORD_STATE(word) != SNAP_SLOT_LIVE)
			return DBOS_ECLOSED;
		if (SNAP_WORD_PINS(word) == SNAP_PINS_MAX)
			return DBOS_ELIMIT;
		if (atomic_compare_exchange_weak(&slot->word, &word, word + 1))
			break;
	}
	*slot_out = slot;
	return DBOS_OK;
}

void snap_slot_unpin(snap_slot *slot)
{
	uint64_t previous = atomic_fetch_sub(&slot->word, 1);
	DBOS_ASSERT(SNAP_WORD_PINS(previous) != 0 && SNAP_WORD_STATE(previous) == SNAP_SLOT_LIVE);
}

dbos_status dbos_snap_pin(dbos_snap_space *space, dbos_snap_id id)
{
	snap_slot *slot;
	return snap_slot_pin(space, id, &slot);
}

void dbos_snap_unpin(dbos_snap_space *space, dbos_snap_id id)
{
	uint32_t generation;
	snap_slot *slot = snap_slot_of(space, id, &generation);
	DBOS_ASSERT(slot && SNAP_WORD_GENERATION(atomic_load(&slot->word)) == generation);
	snap_slot_unpin(slot);
}

dbos_status dbos_snap_take(dbos_snap_space *space, dbos_snap_id *id_out)
{
	if (!space || !id_out)
		return DBOS_EINVAL;
	uint64_t started_ns = dbos_platform_now_ns();
	dbos_mutex_lock(&space->mutex);
	snap_slot *slot = NULL;
	uint32_t index = 0;
	for (; index < DBOS_SNAP_COUNT_MAX; index++) {
		if (SNAP_WORD_STATE(atomic_load(&space->slots[index].word)) == SNAP_SLOT_FREE) {
			slot = &space->slots[index];
			break;
		}
	}
	if (!slot) {
		dbos_mutex_unlock(&space->mutex);
		return DBOS_ELIMIT;
	}
	DBOS_ASSERT(atomic_load(&slot->copy_count) == 0 && atomic_load(&slot->epoch) == 0);
	uint32_t generation = space->generation_next++;
	DBOS_ASSERT(generation != 0 && space->generation_next != 0);
	slot->mechanism = space->mechanism;
	slot->host = NULL;

	dbos_status status;
	if (space->mechanism == DBOS_SNAP_EPOCH) {
		status = snap_epoch_take(space, slot);
	} else {
		/* Writers that do not use the barrier must stand still while the image freezes. */
		if (space->quiesce)
			space->quiesce(space->quiesce_context, true);
		status = space->mechanism == DBOS_SNAP_FORK ? snap_dirty_advance(space) : DBOS_OK;
		if (status == DBOS_OK)
			status = space->ops->freeze(space, slot);
		if (space->quiesce)
			space->quiesce(space->quiesce_context, false);
	}
	if (status == DBOS_OK) {
		slot->taken_ns = started_ns;
		slot->take_duration_ns = dbos_platform_now_ns() - started_ns;
		atomic_store(&slot->word, SNAP_WORD(generation, SNAP_SLOT_LIVE, 0));
		atomic_fetch_add(&space->snapshots_taken, 1);
		*id_out = snap_id_make(generation, index);
	}
	dbos_mutex_unlock(&space->mutex);
	return status;
}

dbos_status dbos_snap_release(dbos_snap_space *space, dbos_snap_id id)
{
	uint32_t generation;
	snap_slot *slot = space ? snap_slot_of(space, id, &generation) : NULL;
	if (!slot)
		return DBOS_EINVAL;
	uint64_t live = SNAP_WORD(generation, SNAP_SLOT_LIVE, 0);
	uint64_t word = live;
	if (!atomic_compare_exchange_strong(&slot->word, &word, SNAP_WORD(generation, SNAP_SLOT_RELEASING, 0))) {
		bool same = SNAP_WORD_GENERATION(word) == generation && SNAP_WORD_STATE(word) == SNAP_SLOT_LIVE;
		return same ? DBOS_EBUSY : DBOS_ECLOSED; /* pinned, or released already */
	}
	dbos_mutex_lock(&space->mutex);
	/* 1. Writers stop choosing this slot; 2. those that chose it finish their section. */
	atomic_store(&slot->epoch, 0);
	snap_writers_wait(space, 0);
	/* 3. Its copies go back to the pool (shared frames when the last holder goes). */
	snap_slot_free_copies(space, slot);
	if (slot->dirty)
		DBOS_ASSERT(dbos_platform_advise((void *)slot->dirty, space->dirty_size, DBOS_ADVICE_DISCARD) ==
			    DBOS_OK);
	bool last = snap_live_count(space) == 0;
	if (space->ops)
		space->ops->release(space, slot, last);
	/* 4. With nothing live and no writer inside a copy, return the pool's memory. */
	if (last)
		snap_frames_reset(space);
	slot->host = NULL;
	atomic_store(&slot->word, SNAP_WORD(generation, SNAP_SLOT_FREE, 0));
	dbos_mutex_unlock(&space->mutex);
	return DBOS_OK;
}

dbos_status dbos_snap_info_get(dbos_snap_space *space, dbos_snap_id id, dbos_snap_info *info_out)
{
	if (!info_out)
		return DBOS_EINVAL;
	snap_slot *slot;
	dbos_status status = snap_slot_pin(space, id, &slot);
	if (status != DBOS_OK)
		return status;
	info_out->mechanism = slot->mechanism;
	info_out->epoch = atomic_load(&slot->epoch);
	info_out->taken_ns = slot->taken_ns;
	info_out->take_duration_ns = slot->take_duration_ns;
	info_out->copies = atomic_load(&slot->copy_count);
	snap_slot_unpin(slot);
	return DBOS_OK;
}
