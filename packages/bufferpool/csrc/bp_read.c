/*
 * bp_read.c - misses: reading pages in, one at a time or a batch at once.
 *
 * A page being read is in BP_IO and already holds a frame slot, so the
 * budget covers reads in flight.  The read goes straight into the page's
 * own address; once it completes the page is checked (length, checksum, id)
 * before anyone may see it.  dbos_bp_fix_many claims every miss of its batch
 * first and submits them as one gateway batch (one io_uring_enter for the
 * lot, so the device sees them all in flight); dbos_bp_prefetch does the
 * same and lets the completion publish the pages.
 */
#include "bp_internal.h"

dbos_status bp_verify_read(dbos_bp *bp, uint64_t pid, int64_t result)
{
	if (result < 0)
		return bp_fail(bp, dbos_io_status(result), DBOS_BP_REASON_IO, pid, (int32_t)-result, 0, 0);
	if (result < (int64_t)bp->page_size)
		return bp_fail(bp, DBOS_ECORRUPT, DBOS_BP_REASON_SHORT_READ, pid, 0, (uint64_t)result, bp->page_size);
	const uint8_t *page = bp_page(bp, pid);
	const dbos_bp_page_header *header = (const dbos_bp_page_header *)page;
	uint32_t computed = dbos_crc32c(0, page + sizeof header->checksum, bp->page_size - sizeof header->checksum);
	if (computed != header->checksum)
		return bp_fail(bp, DBOS_ECORRUPT, DBOS_BP_REASON_PAGE_CHECKSUM, pid, 0, header->checksum, computed);
	if (header->pid != pid)
		return bp_fail(bp, DBOS_ECORRUPT, DBOS_BP_REASON_PAGE_ID, pid, 0, header->pid, pid);
	return DBOS_OK;
}

/* A read finished: publish the page in `state`, or drop it (memory, slot) and leave it evicted. */
static dbos_status bp_read_finish(dbos_bp *bp, uint64_t pid, uint32_t slot, int64_t result, uint32_t state)
{
	dbos_status status = bp_verify_read(bp, pid, result);
	if (status == DBOS_OK) {
		bp_io_release(bp, pid, state, false);
		return DBOS_OK;
	}
	DBOS_ASSERT(dbos_platform_advise(bp_page(bp, pid), bp->page_size, DBOS_ADVICE_DISCARD) == DBOS_OK);
	bp_io_release(bp, pid, BP_EVICTED, true);
	bp_frame_give(bp, slot);
	return status;
}

static dbos_io_op bp_read_op(const dbos_bp *bp, uint64_t pid)
{
	return (dbos_io_op){ .opcode = DBOS_IO_PREAD,
			     .fd = bp->fd,
			     .offset = bp_offset(bp, pid),
			     .address = (uint64_t)(uintptr_t)bp_page(bp, pid),
			     .length = bp->page_size };
}

static void bp_count_misses(dbos_bp *bp, uint64_t count)
{
	atomic_fetch_add_explicit(&bp_stripe(bp)->misses, count, memory_order_relaxed);
	atomic_fetch_add_explicit(&bp->reads_in_flight, count, memory_order_relaxed);
}

dbos_status bp_load_one(dbos_bp *bp, uint64_t pid, uint32_t state)
{
	uint32_t slot;
	dbos_status status = bp_frame_take(bp, pid, &slot);
	if (status != DBOS_OK) {
		bp_io_release(bp, pid, BP_EVICTED, false);
		return status;
	}
	bp_count_misses(bp, 1);
	dbos_io_op op = bp_read_op(bp, pid);
	int64_t result = 0;
	if (dbos_gateway_run(bp->gateway, &op, &result, 1) != DBOS_OK)
		result = -5; /* EIO: the gateway refused (closing) */
	atomic_fetch_sub_explicit(&bp->reads_in_flight, 1, memory_order_relaxed);
	return bp_read_finish(bp, pid, slot, result, state);
}

/* ---- Batches of reads ---------------------------------------------------------- */

/* Reads in flight together: entry i reads pids[i] into its page, holding slots[i]. */
struct bp_reads {
	dbos_bp *bp;
	dbos_io_batch batch;
	uint32_t count;
	uint32_t capacity;
	uint64_t *pids;
	uint32_t *slots;
	uint32_t *index; /* fix_many: the caller's index of entry i */
	dbos_io_op *ops;
	int64_t *results;
};

static size_t bp_reads_size(uint32_t capacity)
{
	return sizeof(struct bp_reads) +
	       (size_t)capacity * (sizeof(uint64_t) + 2 * sizeof(uint32_t) + sizeof(dbos_io_op) + sizeof(int64_t));
}

static struct bp_reads *bp_reads_new(dbos_bp *bp, uint32_t capacity)
{
	struct bp_reads *reads = dbos_platform_alloc(bp_reads_size(capacity));
	if (!reads)
		return NULL;
	uint8_t *cursor = (uint8_t *)(reads + 1);
	reads->ops = (dbos_io_op *)cursor; /* first: 64-byte entries keep their alignment */
	cursor += (size_t)capacity * sizeof(dbos_io_op);
	reads->pids = (uint64_t *)cursor;
	cursor += (size_t)capacity * sizeof(uint64_t);
	reads->results = (int64_t *)cursor;
	cursor += (size_t)capacity * sizeof(int64_t);
	reads->slots = (uint32_t *)cursor;
	cursor += (size_t)capacity * sizeof(uint32_t);
	reads->index = (uint32_t *)cursor;
	reads->bp = bp;
	reads->capacity = capacity;
	return reads;
}

static void bp_reads_free(struct bp_reads *reads)
{
	dbos_platform_free(reads, bp_reads_size(reads->capacity));
}

static void bp_reads_add(struct bp_reads *reads, uint64_t pid, uint32_t slot, uint32_t index)
{
	DBOS_ASSERT(reads->count < reads->capacity);
	uint32_t entry = reads->count++;
	reads->pids[entry] = pid;
	reads->slots[entry] = slot;
	reads->index[entry] = index;
	reads->ops[entry] = bp_read_op(reads->bp, pid);
}

/*
 * Claim `pid` for reading if it is evicted: move it to BP_IO and give it a
 * slot.  Returns DBOS_OK with *claimed set when this thread now owns the read,
 * DBOS_OK with *claimed clear when the page is not evicted, or the slot error.
 */
static dbos_status bp_claim(dbos_bp *bp, uint64_t pid, uint32_t *slot_out, bool *claimed)
{
	*claimed = false;
	uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_relaxed);
	while (bp_state(word) == BP_EVICTED) {
		if (!atomic_compare_exchange_weak_explicit(&bp->states[pid], &word, bp_with_state(word, BP_IO),
							   memory_order_acquire, memory_order_relaxed))
			continue;
		dbos_status status = bp_frame_take(bp, pid, slot_out);
		if (status != DBOS_OK) {
			bp_io_release(bp, pid, BP_EVICTED, false);
			return status;
		}
		*claimed = true;
		return DBOS_OK;
	}
	return DBOS_OK;
}

/* Hand the batch to the gateway; a refused batch completes at once with EIO. */
static void bp_reads_submit(dbos_bp *bp, struct bp_reads *reads, dbos_io_complete_fn on_complete)
{
	dbos_io_batch_init(&reads->batch, reads->ops, reads->results, reads->count);
	reads->batch.on_complete = on_complete;
	reads->batch.context = reads;
	bp_count_misses(bp, reads->count);
	if (dbos_gateway_submit(bp->gateway, &reads->batch) != DBOS_OK) {
		for (uint32_t i = 0; i < reads->count; i++)
			reads->results[i] = -5;
		if (on_complete)
			on_complete(&reads->batch);
	}
}

/* ---- dbos_bp_fix_many ------------------------------------------------------------- */

enum bp_many_entry {
	BP_MANY_LATER = 0,   /* busy elsewhere: fixed after the batch, blocking */
	BP_MANY_FIXED = 1,   /* latched by this call */
	BP_MANY_READING = 2, /* claimed: in this call's read batch */
};

static dbos_status bp_fix_many_check(dbos_bp *bp, const uint64_t *pids, uint32_t count, enum dbos_bp_mode mode,
				     void **pages_out)
{
	if (!bp || (count && (!pids || !pages_out)))
		return DBOS_EINVAL;
	if (mode != DBOS_BP_SHARED && mode != DBOS_BP_EXCLUSIVE)
		return DBOS_EINVAL;
	if (count > DBOS_BP_FIX_MANY_MAX || count > bp->budget_pages / 2)
		return DBOS_ELIMIT;
	if (mode == DBOS_BP_EXCLUSIVE && (bp->flags & DBOS_BP_READ_ONLY))
		return DBOS_EPERM;
	for (uint32_t i = 0; i < count; i++)
		if (!bp_valid_pid(bp, pids[i]))
			return DBOS_ERANGE;
	if (mode == DBOS_BP_EXCLUSIVE) /* latching a page twice exclusively would wait on itself */
		for (uint32_t i = 1; i < count; i++)
			for (uint32_t j = 0; j < i; j++)
				if (pids[i] == pids[j])
					return DBOS_EINVAL;
	return DBOS_OK;
}

static void bp_fix_many_undo(dbos_bp *bp, const uint64_t *pids, const uint8_t *entries, uint32_t count,
			     enum dbos_bp_mode mode)
{
	for (uint32_t i = 0; i < count; i++) {
		if (entries[i] != BP_MANY_FIXED)
			continue;
		dbos_status status = mode == DBOS_BP_SHARED ? dbos_bp_unfix_shared(bp, pids[i])
							    : dbos_bp_unfix_exclusive(bp, pids[i], false);
		DBOS_ASSERT(status == DBOS_OK);
	}
}

dbos_status dbos_bp_fix_many(dbos_bp *bp, const uint64_t *pids, uint32_t count, enum dbos_bp_mode mode,
			     void **pages_out)
{
	dbos_status status = bp_fix_many_check(bp, pids, count, mode, pages_out);
	if (status != DBOS_OK || count == 0)
		return status;
	uint8_t entries[DBOS_BP_FIX_MANY_MAX];
	uint32_t latched_state = mode == DBOS_BP_SHARED ? 1 : BP_EXCLUSIVE;
	struct bp_reads *reads = NULL;

	/* 1. Latch the hits, claim the misses, leave the busy pages for later. */
	for (uint32_t i = 0; i < count && status == DBOS_OK; i++) {
		entries[i] = BP_MANY_LATER;
		/* Never block here: claimed reads not yet submitted could be what the holder waits for. */
		if (bp_try_fix(bp, pids[i], mode)) {
			dbos_preempt_disable();
			entries[i] = BP_MANY_FIXED;
			pages_out[i] = bp_page(bp, pids[i]);
			continue;
		}
		if (bp_state(atomic_load_explicit(&bp->states[pids[i]], memory_order_relaxed)) != BP_EVICTED)
			continue;
		if (!reads && !(reads = bp_reads_new(bp, count))) {
			status = DBOS_ENOMEM;
			break;
		}
		uint32_t slot;
		bool claimed;
		status = bp_claim(bp, pids[i], &slot, &claimed);
		if (status == DBOS_OK && claimed) {
			bp_reads_add(reads, pids[i], slot, i);
			entries[i] = BP_MANY_READING;
		}
	}

	/* 2. Every miss to the device at once, then wait for the lot. */
	if (reads && reads->count) {
		bp_reads_submit(bp, reads, NULL);
		dbos_gateway_wait(bp->gateway, &reads->batch, UINT64_MAX);
		atomic_fetch_sub_explicit(&bp->reads_in_flight, reads->count, memory_order_relaxed);
		for (uint32_t entry = 0; entry < reads->count; entry++) {
			uint32_t i = reads->index[entry];
			dbos_status read_status =
				bp_read_finish(bp, pids[i], reads->slots[entry], reads->results[entry], latched_state);
			if (read_status != DBOS_OK) {
				entries[i] = BP_MANY_LATER;
				if (status == DBOS_OK)
					status = read_status;
				continue;
			}
			dbos_preempt_disable();
			entries[i] = BP_MANY_FIXED;
			pages_out[i] = bp_page(bp, pids[i]);
		}
	}
	if (reads)
		bp_reads_free(reads);

	/* 3. The pages other threads held or were reading: wait for each. */
	for (uint32_t i = 0; i < count && status == DBOS_OK; i++) {
		if (entries[i] != BP_MANY_LATER)
			continue;
		dbos_preempt_disable();
		status = bp_fix(bp, pids[i], mode, &pages_out[i]);
		if (status == DBOS_OK)
			entries[i] = BP_MANY_FIXED;
		else
			dbos_preempt_enable();
	}

	if (status != DBOS_OK) {
		bp_fix_many_undo(bp, pids, entries, count, mode);
		return status;
	}
	if (mode == DBOS_BP_EXCLUSIVE && bp->before_write)
		for (uint32_t i = 0; i < count; i++)
			bp->before_write(bp->hook_context, pids[i], pages_out[i]);
	return DBOS_OK;
}

dbos_status dbos_bp_unfix_many(dbos_bp *bp, const uint64_t *pids, uint32_t count, enum dbos_bp_mode mode, bool dirty)
{
	if (!bp || (count && !pids) || (mode != DBOS_BP_SHARED && mode != DBOS_BP_EXCLUSIVE))
		return DBOS_EINVAL;
	dbos_status first = DBOS_OK;
	for (uint32_t i = 0; i < count; i++) {
		dbos_status status = mode == DBOS_BP_SHARED ? dbos_bp_unfix_shared(bp, pids[i])
							    : dbos_bp_unfix_exclusive(bp, pids[i], dirty);
		if (first == DBOS_OK)
			first = status;
	}
	return first;
}

/* ---- dbos_bp_prefetch --------------------------------------------------------------- */

/* The batch completed (on a gateway thread or a waiter): publish the pages unlatched. */
static void bp_prefetch_complete(dbos_io_batch *batch)
{
	struct bp_reads *reads = batch->context;
	dbos_bp *bp = reads->bp;
	for (uint32_t entry = 0; entry < reads->count; entry++)
		bp_read_finish(bp, reads->pids[entry], reads->slots[entry], reads->results[entry], BP_UNLOCKED);
	atomic_fetch_sub_explicit(&bp->reads_in_flight, reads->count, memory_order_relaxed);
	bp_reads_free(reads);
	/* The last touch of the pool: dbos_bp_close polls this count. */
	atomic_fetch_sub_explicit(&bp->prefetches_in_flight, 1, memory_order_release);
}

dbos_status dbos_bp_prefetch(dbos_bp *bp, const uint64_t *pids, uint32_t count)
{
	if (!bp || (count && !pids))
		return DBOS_EINVAL;
	if (count > DBOS_BP_FIX_MANY_MAX)
		return DBOS_ELIMIT;
	for (uint32_t i = 0; i < count; i++)
		if (!bp_valid_pid(bp, pids[i]))
			return DBOS_ERANGE;
	if (count == 0)
		return DBOS_OK;
	struct bp_reads *reads = bp_reads_new(bp, count);
	if (!reads)
		return DBOS_ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t slot;
		bool claimed;
		/* No room (every page fixed) ends the prefetch early: it is a hint, not a demand. */
		if (bp_claim(bp, pids[i], &slot, &claimed) != DBOS_OK)
			break;
		if (claimed)
			bp_reads_add(reads, pids[i], slot, i);
	}
	if (!reads->count) {
		bp_reads_free(reads);
		return DBOS_OK;
	}
	atomic_fetch_add_explicit(&bp->prefetches_in_flight, 1, memory_order_relaxed);
	bp_reads_submit(bp, reads, bp_prefetch_complete);
	return DBOS_OK;
}
