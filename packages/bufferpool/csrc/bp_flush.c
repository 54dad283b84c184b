/*
 * bp_flush.c - writing every dirty page, then the file header.
 *
 * Dirty pages are written in place, latched shared (writers wait, readers
 * do not), in gateway batches of evict_batch pages.  The flusher never
 * blocks on a latch while it holds others: a page it cannot latch at once
 * ends the current batch (its latches released) before it waits, so a
 * writer holding that page while waiting for one of ours cannot deadlock
 * with it.  The dirty bit is cleared under the latch before the write and
 * set again if the write fails; the latch keeps the page from changing or
 * being evicted meanwhile.  Data pages reach the disk (fdatasync) before
 * the header that counts them.  A caller that holds latches itself gets its
 * busy pages passed over (DBOS_EBUSY) rather than a wait on its own latch.
 */
#include "bp_internal.h"

struct bp_flush {
	uint64_t durable; /* the log's durable LSN for this flush */
	uint32_t count;   /* pages latched in the current batch */
	bool may_wait;    /* the calling thread holds no latch: waiting for a busy page cannot deadlock */
	dbos_status failure;
};

/* Write the batch, release its latches, put back the dirty bit of pages that failed. */
static void bp_flush_batch(dbos_bp *bp, struct bp_flush *flush)
{
	if (!flush->count)
		return;
	bp_write_pages(bp, bp->flush_ops, bp->flush_pids, bp->flush_addresses, flush->count, bp->flush_results);
	for (uint32_t i = 0; i < flush->count; i++) {
		uint64_t pid = bp->flush_pids[i];
		int64_t result = bp->flush_results[i];
		if (result != (int64_t)bp->page_size) {
			uint64_t before = atomic_fetch_or_explicit(&bp->states[pid], BP_DIRTY, memory_order_relaxed);
			bp_dirty_changed(bp, before, before | BP_DIRTY);
			dbos_status status = result < 0 ? dbos_io_status(result) : DBOS_EIO;
			bp_fail(bp, status, DBOS_BP_REASON_IO, pid, result < 0 ? (int32_t)-result : 0, 0, 0);
			if (flush->failure == DBOS_OK)
				flush->failure = status;
		}
		DBOS_ASSERT(bp_unlatch_shared(bp, pid) == DBOS_OK);
		dbos_preempt_enable();
	}
	flush->count = 0;
}

/* Latch one dirty page shared and queue it for writing (or pass it over: clean, held back, busy). */
static void bp_flush_page(dbos_bp *bp, struct bp_flush *flush, uint64_t pid)
{
	uint64_t word = atomic_load_explicit(&bp->states[pid], memory_order_acquire);
	for (;;) {
		if (!(word & BP_DIRTY) || bp_state(word) == BP_EVICTED)
			return;
		uint32_t state = bp_state(word);
		uint64_t next;
		if (state < BP_SHARED_MAX)
			next = word + BP_STATE_ONE;
		else if (state == BP_MARKED)
			next = bp_with_state(word, 1);
		else {
			if (!flush->may_wait) {
				/* The caller holds latches (maybe this one): leave the page dirty and say so. */
				if (flush->failure == DBOS_OK || flush->failure == DBOS_EAGAIN)
					flush->failure = DBOS_EBUSY;
				return;
			}
			/* Busy: release what this flush holds before waiting. */
			bp_flush_batch(bp, flush);
			bp_wait_change(bp, pid, word);
			word = atomic_load_explicit(&bp->states[pid], memory_order_acquire);
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(&bp->states[pid], &word, next, memory_order_acquire,
							  memory_order_relaxed))
			break;
	}
	dbos_preempt_disable();
	uint8_t *page = bp_page(bp, pid);
	if (((const dbos_bp_page_header *)page)->lsn > flush->durable) {
		atomic_fetch_add_explicit(&bp->held_back, 1, memory_order_relaxed);
		if (flush->failure == DBOS_OK)
			flush->failure = DBOS_EAGAIN;
		DBOS_ASSERT(bp_unlatch_shared(bp, pid) == DBOS_OK);
		dbos_preempt_enable();
		return;
	}
	uint64_t before = atomic_fetch_and_explicit(&bp->states[pid], ~BP_DIRTY, memory_order_relaxed);
	bp_dirty_changed(bp, before, before & ~BP_DIRTY);
	bp_seal_page(bp, pid, page);
	bp->flush_pids[flush->count] = pid;
	bp->flush_addresses[flush->count] = page;
	if (++flush->count == bp->evict_batch)
		bp_flush_batch(bp, flush);
}

dbos_status dbos_bp_flush(dbos_bp *bp)
{
	if (!bp)
		return DBOS_EINVAL;
	if (bp->flags & DBOS_BP_READ_ONLY)
		return DBOS_OK;
	dbos_mutex_lock(&bp->flush_lock);
	struct bp_flush flush = { .durable = bp->durable_lsn ? bp->durable_lsn(bp->hook_context) : UINT64_MAX,
				  .may_wait = dbos_platform_preempt()->depth == 0 };
	uint64_t page_count = atomic_load_explicit(&bp->page_count, memory_order_acquire);
	for (uint64_t pid = 1; pid < page_count; pid++)
		if (atomic_load_explicit(&bp->states[pid], memory_order_relaxed) & BP_DIRTY)
			bp_flush_page(bp, &flush, pid);
	bp_flush_batch(bp, &flush);
	dbos_status status = bp_sync(bp);
	/* The header goes out even when pages were held back: it only counts pages and the free chain. */
	if (status == DBOS_OK)
		status = bp_write_file_header(bp);
	if (status == DBOS_OK)
		status = bp_sync(bp);
	dbos_mutex_unlock(&bp->flush_lock);
	if (status != DBOS_OK)
		return status;
	return flush.failure;
}
