/*
 * bp_fix.c - latching pages: the hit path, waiting, unfixing, optimistic reads.
 *
 * A hit is one load and one CAS on the page's state word, bracketed by the
 * thread's preemption depth; a miss hands the page to bp_load_one() with the
 * word in BP_IO, so concurrent fixes of the same page sleep on the word
 * instead of reading it twice.
 */
#include "bp_internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "waits use the state word's high half at +4 bytes");

#define BP_SPINS_BEFORE_SLEEP 64

void bp_wait_change(dbos_bp *bp, uint64_t pid, uint64_t seen)
{
	_Atomic uint64_t *word = &bp->states[pid];
	for (int spin = 0; spin < BP_SPINS_BEFORE_SLEEP; spin++) {
		dbos_platform_relax();
		if (atomic_load_explicit(word, memory_order_relaxed) != seen)
			return;
	}
	uint64_t sleeping = seen | BP_WAITERS;
	if (!(seen & BP_WAITERS) &&
	    !atomic_compare_exchange_strong_explicit(word, &seen, sleeping, memory_order_relaxed, memory_order_relaxed))
		return; /* it changed: look again */
	dbos_platform_wait((const uint32_t *)word + 1, (uint32_t)(sleeping >> 32), UINT64_MAX);
}

void bp_io_release(dbos_bp *bp, uint64_t pid, uint32_t state, bool clear_dirty)
{
	uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_relaxed);
	for (;;) {
		DBOS_ASSERT(bp_state(word) == BP_IO);
		uint64_t next = bp_bump(bp_with_state(word, state)) & ~BP_WAITERS;
		if (clear_dirty)
			next &= ~BP_DIRTY;
		if (bp_release_cas(bp, pid, &word, next)) {
			bp_dirty_changed(bp, word, next);
			return;
		}
	}
}

/* Try once to take the latch from `word`; false when the word changed or the page is busy. */
static inline bool bp_try_latch(dbos_bp *bp, uint64_t pid, uint64_t *word, enum dbos_bp_mode mode)
{
	uint32_t state = bp_state(*word);
	uint64_t next;
	if (mode == DBOS_BP_SHARED) {
		if (state < BP_SHARED_MAX)
			next = *word + BP_STATE_ONE;
		else if (state == BP_MARKED)
			next = bp_with_state(*word, 1);
		else
			return false;
	} else {
		if (state == BP_UNLOCKED || state == BP_MARKED)
			next = bp_with_state(*word, BP_EXCLUSIVE);
		else
			return false;
	}
	return atomic_compare_exchange_weak_explicit(&bp->states[pid], word, next, memory_order_acquire,
						     memory_order_relaxed);
}

static inline void bp_count_hit(dbos_bp *bp)
{
	atomic_fetch_add_explicit(&bp_stripe(bp)->hits, 1, memory_order_relaxed);
}

bool bp_try_fix(dbos_bp *bp, uint64_t pid, enum dbos_bp_mode mode)
{
	uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_acquire);
	for (;;) {
		if (bp_try_latch(bp, pid, &word, mode)) {
			bp_count_hit(bp);
			return true;
		}
		uint32_t state = bp_state(word);
		bool latchable = mode == DBOS_BP_SHARED ? state < BP_SHARED_MAX || state == BP_MARKED
							: state == BP_UNLOCKED || state == BP_MARKED;
		if (!latchable)
			return false; /* busy or evicted; a failed weak CAS reloaded `word` otherwise */
	}
}

dbos_status bp_fix(dbos_bp *bp, uint64_t pid, enum dbos_bp_mode mode, void **page_out)
{
	uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_acquire);
	for (;;) {
		if (bp_try_latch(bp, pid, &word, mode)) {
			bp_count_hit(bp);
			*page_out = bp_page(bp, pid);
			return DBOS_OK;
		}
		uint32_t state = bp_state(word);
		if (state == BP_EVICTED) {
			if (!atomic_compare_exchange_weak_explicit(&bp->states[pid], &word, bp_with_state(word, BP_IO),
								   memory_order_acquire, memory_order_relaxed))
				continue;
			dbos_status status = bp_load_one(bp, pid, mode == DBOS_BP_SHARED ? 1 : BP_EXCLUSIVE);
			if (status == DBOS_OK)
				*page_out = bp_page(bp, pid);
			return status;
		}
		bool busy = state == BP_IO || state == BP_EXCLUSIVE ||
			    (mode == DBOS_BP_SHARED ? state == BP_SHARED_MAX : state >= 1 && state <= BP_SHARED_MAX);
		if (busy) {
			bp_wait_change(bp, pid, word);
			word = atomic_load_explicit(&bp->states[pid], memory_order_acquire);
			continue;
		}
		/* A failed weak CAS reloaded `word`: try again. */
	}
}

dbos_status dbos_bp_fix_shared(dbos_bp *bp, uint64_t pid, void **page_out)
{
	if (!bp || !page_out)
		return DBOS_EINVAL;
	if (!bp_valid_pid(bp, pid))
		return DBOS_ERANGE;
	dbos_preempt_disable();
	/* The hit, inline: one load, one CAS. */
	uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_relaxed);
	if (bp_state(word) < BP_SHARED_MAX &&
	    atomic_compare_exchange_strong_explicit(&bp->states[pid], &word, word + BP_STATE_ONE, memory_order_acquire,
						    memory_order_relaxed)) {
		bp_count_hit(bp);
		*page_out = bp_page(bp, pid);
		return DBOS_OK;
	}
	dbos_status status = bp_fix(bp, pid, DBOS_BP_SHARED, page_out);
	if (status != DBOS_OK)
		dbos_preempt_enable();
	return status;
}

dbos_status dbos_bp_fix_exclusive(dbos_bp *bp, uint64_t pid, void **page_out)
{
	if (!bp || !page_out)
		return DBOS_EINVAL;
	if (!bp_valid_pid(bp, pid))
		return DBOS_ERANGE;
	if (bp->flags & DBOS_BP_READ_ONLY)
		return DBOS_EPERM;
	dbos_preempt_disable();
	dbos_status status = bp_fix(bp, pid, DBOS_BP_EXCLUSIVE, page_out);
	if (status != DBOS_OK) {
		dbos_preempt_enable();
		return status;
	}
	if (bp->before_write)
		bp->before_write(bp->hook_context, pid, *page_out);
	return DBOS_OK;
}

/* Drop one shared latch; DBOS_EINVAL when the page holds none. */
dbos_status bp_unlatch_shared(dbos_bp *bp, uint64_t pid)
{
	uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_relaxed);
	for (;;) {
		uint32_t state = bp_state(word);
		if (state == BP_UNLOCKED || state > BP_SHARED_MAX)
			return DBOS_EINVAL;
		if (bp_release_cas(bp, pid, &word, (word - BP_STATE_ONE) & ~BP_WAITERS))
			return DBOS_OK;
	}
}

/* Drop the exclusive latch, bumping the version; DBOS_EINVAL when the page is not latched exclusively. */
dbos_status bp_unlatch_exclusive(dbos_bp *bp, uint64_t pid, bool dirty)
{
	uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_relaxed);
	for (;;) {
		if (bp_state(word) != BP_EXCLUSIVE)
			return DBOS_EINVAL;
		uint64_t next = bp_bump(bp_with_state(word, BP_UNLOCKED)) & ~BP_WAITERS;
		if (dirty)
			next |= BP_DIRTY;
		if (bp_release_cas(bp, pid, &word, next)) {
			bp_dirty_changed(bp, word, next);
			return DBOS_OK;
		}
	}
}

/* A latch release by a thread that holds none would underflow its preemption depth: refuse it. */
static bool bp_thread_holds_latches(void)
{
	return dbos_platform_preempt()->depth > 0;
}

dbos_status dbos_bp_unfix_shared(dbos_bp *bp, uint64_t pid)
{
	if (!bp)
		return DBOS_EINVAL;
	if (!bp_valid_pid(bp, pid))
		return DBOS_ERANGE;
	if (!bp_thread_holds_latches())
		return DBOS_EINVAL;
	dbos_status status = bp_unlatch_shared(bp, pid);
	if (status == DBOS_OK)
		dbos_preempt_enable();
	return status;
}

dbos_status dbos_bp_unfix_exclusive(dbos_bp *bp, uint64_t pid, bool dirty)
{
	if (!bp)
		return DBOS_EINVAL;
	if (!bp_valid_pid(bp, pid))
		return DBOS_ERANGE;
	if (!bp_thread_holds_latches())
		return DBOS_EINVAL;
	dbos_status status = bp_unlatch_exclusive(bp, pid, dirty);
	if (status == DBOS_OK)
		dbos_preempt_enable();
	return status;
}

dbos_status dbos_bp_optimistic_begin(dbos_bp *bp, uint64_t pid, uint64_t *version_out, const void **page_out)
{
	if (!bp || !version_out || !page_out)
		return DBOS_EINVAL;
	if (!bp_valid_pid(bp, pid))
		return DBOS_ERANGE;
	for (;;) {
		uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_acquire);
		uint32_t state = bp_state(word);
		if (state <= BP_SHARED_MAX || state == BP_MARKED) {
			/* Being read is being used: give a marked page its second chance. */
			if (state == BP_MARKED)
				atomic_compare_exchange_strong_explicit(&bp->states[pid], &word,
									bp_with_state(word, BP_UNLOCKED),
									memory_order_relaxed, memory_order_relaxed);
			bp_count_hit(bp);
			*version_out = bp_version(word);
			*page_out = bp_page(bp, pid);
			return DBOS_OK;
		}
		if (state == BP_EVICTED) {
			/* Bring it in with a shared fix, then read it optimistically like any resident page. */
			void *page;
			dbos_status status = bp_fix(bp, pid, DBOS_BP_SHARED, &page);
			if (status != DBOS_OK)
				return status;
			DBOS_ASSERT(bp_unlatch_shared(bp, pid) == DBOS_OK);
			continue;
		}
		bp_wait_change(bp, pid, word);
	}
}

bool dbos_bp_resident(dbos_bp *bp, uint64_t pid)
{
	if (!bp || !bp_valid_pid(bp, pid))
		return false;
	return bp_state(atomic_load_explicit(&bp->states[pid], memory_order_relaxed)) != BP_EVICTED;
}

bool dbos_bp_optimistic_validate(dbos_bp *bp, uint64_t pid, uint64_t version)
{
	if (!bp || !bp_valid_pid(bp, pid))
		return false;
	/* The caller's reads of the page happen before the version is read again. */
	atomic_thread_fence(memory_order_acquire);
	uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_relaxed);
	uint32_t state = bp_state(word);
	bool stable = (state <= BP_SHARED_MAX || state == BP_MARKED) && bp_version(word) == version;
	if (!stable)
		atomic_fetch_add_explicit(&bp_stripe(bp)->optimistic_restarts, 1, memory_order_relaxed);
	return stable;
}
