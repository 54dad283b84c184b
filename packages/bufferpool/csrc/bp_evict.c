/*
 * bp_evict.c - frame slots and the clock that frees them.
 *
 * The pool holds at most budget_pages pages in memory: one frame slot each.
 * A miss takes a free slot before its read starts; when none is free, the
 * taker runs one eviction round (one evictor at a time, others wait for it):
 *
 *   1. mark:    the clock hand sweeps the slots; an unlatched page is marked,
 *               a page still marked since the last sweep (not fixed or read
 *               optimistically meanwhile) becomes a victim, locked in BP_IO.
 *               A round stops at evict_batch victims.
 *   2. write:   the dirty victims whose LSN the log has made durable are
 *               sealed (id, checksum) and written in one gateway batch; the
 *               others keep their page and their dirty bit.
 *   3. drop:    the victims' memory is discarded with one advise call per run
 *               of adjacent pages, then they become BP_EVICTED and their
 *               slots free.
 *
 * A page counts against the budget until its memory is gone, so resident
 * pages never exceed the budget, even for a moment.
 */
#include "bp_internal.h"

#define BP_FRUITLESS_ROUNDS_MAX 16 /* rounds that free nothing, with no I/O pending, before DBOS_ELIMIT */
#define BP_IO_WAIT_NS 50000ull     /* a pause while reads or writes in flight hold the only candidates */

/* Victims by page id, so adjacent pages form runs (insertion sort: a batch is small and mostly ordered). */
static void bp_victims_sort(struct bp_victim *victims, uint32_t count)
{
	for (uint32_t i = 1; i < count; i++) {
		struct bp_victim victim = victims[i];
		uint32_t j = i;
		for (; j > 0 && victims[j - 1].pid > victim.pid; j--)
			victims[j] = victims[j - 1];
		victims[j] = victim;
	}
}

/* Phase 1: sweep the clock until `batch` victims are locked or two turns passed. */
static uint32_t bp_evict_select(dbos_bp *bp, struct bp_victim *victims, uint32_t batch)
{
	uint32_t count = 0;
	/* Slots never handed out hold nothing: the hand turns over those that were. */
	uint32_t used = atomic_load_explicit(&bp->slots_used, memory_order_acquire);
	uint64_t sweep_max = 2ull * used + batch;
	for (uint64_t swept = 0; count < batch && swept < sweep_max; swept++) {
		uint32_t slot = bp->clock_hand < used ? bp->clock_hand : 0;
		bp->clock_hand = slot + 1;
		uint64_t pid = atomic_load_explicit(&bp->slot_pid[slot], memory_order_acquire);
		if (pid == BP_SLOT_EMPTY)
			continue;
		uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_relaxed);
		uint32_t state = bp_state(word);
		if (state == BP_UNLOCKED) {
			atomic_compare_exchange_strong_explicit(&bp->states[pid], &word, bp_with_state(word, BP_MARKED),
								memory_order_relaxed, memory_order_relaxed);
		} else if (state == BP_MARKED &&
			   atomic_compare_exchange_strong_explicit(&bp->states[pid], &word, bp_with_state(word, BP_IO),
								   memory_order_acquire, memory_order_relaxed)) {
			victims[count++] = (struct bp_victim){ .pid = pid, .slot = slot, .keep = false };
		}
	}
	return count;
}

/* Phase 2: write the dirty victims the log allows, together. Returns the first write failure. */
static dbos_status bp_evict_write(dbos_bp *bp, struct bp_victim *victims, uint32_t count)
{
	uint64_t durable = bp->durable_lsn ? bp->durable_lsn(bp->hook_context) : UINT64_MAX;
	uint32_t writes = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t pid = victims[i].pid;
		if (!(atomic_load_explicit(&bp->states[pid], memory_order_relaxed) & BP_DIRTY))
			continue;
		uint8_t *page = bp_page(bp, pid);
		if (((const dbos_bp_page_header *)page)->lsn > durable) {
			victims[i].keep = true;
			atomic_fetch_add_explicit(&bp->held_back, 1, memory_order_relaxed);
			continue;
		}
		bp_seal_page(bp, pid, page);
		bp->evict_pids[writes] = pid;
		bp->evict_addresses[writes] = page;
		bp->evict_index[writes] = i;
		writes++;
	}
	if (!writes)
		return DBOS_OK;
	bp_write_pages(bp, bp->evict_ops, bp->evict_pids, bp->evict_addresses, writes, bp->evict_results);
	dbos_status first_failure = DBOS_OK;
	for (uint32_t w = 0; w < writes; w++) {
		int64_t result = bp->evict_results[w];
		if (result == (int64_t)bp->page_size)
			continue;
		victims[bp->evict_index[w]].keep = true;
		dbos_status status = result < 0 ? dbos_io_status(result) : DBOS_EIO;
		bp_fail(bp, status, DBOS_BP_REASON_IO, bp->evict_pids[w], result < 0 ? (int32_t)-result : 0, 0, 0);
		if (first_failure == DBOS_OK)
			first_failure = status;
	}
	return first_failure;
}

/*
 * Phase 3: discard the victims' memory, adjacent pages merged into runs and every run in one
 * platform call (random victims are rarely adjacent: one call per page would cost a system
 * call and a TLB shootdown each), then free their slots.  Returns pages dropped.
 */
static uint32_t bp_evict_drop(dbos_bp *bp, struct bp_victim *victims, uint32_t count)
{
	_Static_assert(DBOS_BP_EVICT_BATCH_MAX <= DBOS_PLATFORM_RANGES_MAX, "one eviction batch is one discard call");
	bp_victims_sort(victims, count);
	uint32_t run_count = 0;
	for (uint32_t i = 0; i < count;) {
		if (victims[i].keep) {
			i++;
			continue;
		}
		uint32_t end = i + 1;
		while (end < count && !victims[end].keep && victims[end].pid == victims[end - 1].pid + 1)
			end++;
		bp->evict_ranges[run_count++] = (struct dbos_platform_range){ bp_page(bp, victims[i].pid),
									      (size_t)(end - i) << bp->page_shift };
		i = end;
	}
	dbos_status status = dbos_platform_discard_ranges(bp->evict_ranges, run_count);
	DBOS_ASSERT(status == DBOS_OK); /* page-aligned, committed memory: discard cannot fail */
	uint32_t dropped = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (victims[i].keep) {
			bp_io_release(bp, victims[i].pid, BP_UNLOCKED, false);
			continue;
		}
		bp_io_release(bp, victims[i].pid, BP_EVICTED, true);
		bp_frame_give(bp, victims[i].slot);
		dropped++;
	}
	atomic_fetch_add_explicit(&bp->evictions, dropped, memory_order_relaxed);
	return dropped;
}

static dbos_status bp_evict_round(dbos_bp *bp, uint32_t *dropped_out)
{
	struct bp_victim *victims = bp->evict_victims;
	uint32_t count = bp_evict_select(bp, victims, bp->evict_batch);
	dbos_status status = count ? bp_evict_write(bp, victims, count) : DBOS_OK;
	*dropped_out = count ? bp_evict_drop(bp, victims, count) : 0;
	return status;
}

dbos_status bp_frame_take(dbos_bp *bp, uint64_t pid, uint32_t *slot_out)
{
	uint32_t fruitless = 0;
	for (;;) {
		dbos_mutex_lock(&bp->frame_lock);
		uint32_t used = atomic_load_explicit(&bp->slots_used, memory_order_relaxed);
		if (bp->free_slot_count || used < bp->budget_pages) {
			/* Reuse a slot given back, else the next one never used: memory is touched as it is needed. */
			uint32_t slot = bp->free_slot_count ? bp->free_slots[--bp->free_slot_count] : used;
			if (slot == used)
				atomic_store_explicit(&bp->slots_used, used + 1, memory_order_release);
			dbos_mutex_unlock(&bp->frame_lock);
			atomic_fetch_add_explicit(&bp->resident_pages, 1, memory_order_relaxed);
			atomic_store_explicit(&bp->slot_pid[slot], pid, memory_order_release);
			*slot_out = slot;
			return DBOS_OK;
		}
		dbos_mutex_unlock(&bp->frame_lock);
		if (!dbos_mutex_try_lock(&bp->evict_lock)) {
			/* Another thread is evicting: wait for its round, then look for a slot again. */
			dbos_mutex_lock(&bp->evict_lock);
			dbos_mutex_unlock(&bp->evict_lock);
			continue;
		}
		uint32_t dropped = 0;
		dbos_status status = bp_evict_round(bp, &dropped);
		dbos_mutex_unlock(&bp->evict_lock);
		if (dropped) {
			fruitless = 0;
			continue;
		}
		if (status != DBOS_OK)
			return status;
		if (atomic_load_explicit(&bp->reads_in_flight, memory_order_relaxed) ||
		    atomic_load_explicit(&bp->writes_in_flight, memory_order_relaxed)) {
			/* Pages in I/O (a prefetch, another thread's batch) become evictable when it ends: wait for it. */
			uint32_t never_woken = 0;
			dbos_platform_wait(&never_woken, 0, BP_IO_WAIT_NS);
			continue;
		}
		if (++fruitless >= BP_FRUITLESS_ROUNDS_MAX)
			return bp_fail(bp, DBOS_ELIMIT, DBOS_BP_REASON_NONE, pid, 0, 0, 0);
		dbos_platform_yield();
	}
}

void bp_frame_give(dbos_bp *bp, uint32_t slot)
{
	atomic_store_explicit(&bp->slot_pid[slot], BP_SLOT_EMPTY, memory_order_relaxed);
	dbos_mutex_lock(&bp->frame_lock);
	DBOS_ASSERT(bp->free_slot_count < bp->budget_pages);
	bp->free_slots[bp->free_slot_count++] = slot;
	dbos_mutex_unlock(&bp->frame_lock);
	atomic_fetch_sub_explicit(&bp->resident_pages, 1, memory_order_relaxed);
}
