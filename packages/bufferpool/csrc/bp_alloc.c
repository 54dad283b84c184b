/*
 * bp_alloc.c - growing the file, allocating and freeing pages.
 *
 * Freed pages form a chain through their own payloads (the first 8 bytes
 * name the next free page) whose head and length live in the file header,
 * so reuse survives a reopen.  Allocation takes the chain's head first and
 * grows the file only when the chain is empty.  Growth allocates disk space
 * ahead (fallocate, so a full disk is DBOS_ENOSPC here rather than a failed
 * write at eviction) and commits memory for the new pages' addresses and
 * state words in chunks.
 */
#include "bp_internal.h"
#include "dbos/io_linux.h"

#define BP_COMMIT_CHUNK_PAGES 512u /* commit address space (not memory) in steps of this many pages */
#define BP_GROW_PAGES_MAX 256u     /* the file grows by at most this many pages ahead */

dbos_status bp_commit_to(dbos_bp *bp, uint64_t pid_end)
{
	if (pid_end <= bp->committed_pages)
		return DBOS_OK;
	uint64_t target = pid_end + bp->committed_pages / 4;
	target = DBOS_ALIGN_UP(target, (uint64_t)BP_COMMIT_CHUNK_PAGES);
	if (target > bp->max_pages)
		target = bp->max_pages;
	dbos_status status =
		dbos_platform_commit(bp_page(bp, bp->committed_pages),
				     (size_t)(target - bp->committed_pages) << bp->page_shift, DBOS_PROT_READ_WRITE);
	if (status != DBOS_OK)
		return status;
	size_t states_bytes = DBOS_ALIGN_UP((size_t)target * sizeof(uint64_t), DBOS_PAGE_SIZE);
	if (states_bytes > bp->states_committed_bytes) {
		status = dbos_platform_commit((uint8_t *)bp->states + bp->states_committed_bytes,
					      states_bytes - bp->states_committed_bytes, DBOS_PROT_READ_WRITE);
		if (status != DBOS_OK)
			return status;
		bp->states_committed_bytes = states_bytes;
	}
	bp->committed_pages = target;
	return DBOS_OK;
}

dbos_status bp_grow_file(dbos_bp *bp, uint64_t pages)
{
	if (pages <= bp->file_pages)
		return DBOS_OK;
	uint64_t ahead = bp->file_pages / 8;
	if (ahead > BP_GROW_PAGES_MAX)
		ahead = BP_GROW_PAGES_MAX;
	uint64_t target = pages + ahead;
	if (target > bp->max_pages)
		target = bp->max_pages;
	dbos_io_op op = { .opcode = DBOS_IO_FALLOCATE,
			  .fd = bp->fd,
			  .offset = bp_offset(bp, bp->file_pages),
			  .length = bp_offset(bp, target - bp->file_pages) };
	int64_t result = 0;
	dbos_status status = dbos_gateway_run(bp->gateway, &op, &result, 1);
	if (status == DBOS_OK && result == -DBOS_IO_EOPNOTSUPP) {
		/* A filesystem without fallocate: a sparse extension; a full disk shows at write time. */
		op = (dbos_io_op){ .opcode = DBOS_IO_FTRUNCATE, .fd = bp->fd, .offset = bp_offset(bp, target) };
		status = dbos_gateway_run(bp->gateway, &op, &result, 1);
	}
	if (status != DBOS_OK)
		return bp_fail(bp, status, DBOS_BP_REASON_IO, pages - 1, 0, 0, 0);
	if (result < 0)
		return bp_fail(bp, dbos_io_status(result), DBOS_BP_REASON_IO, pages - 1, (int32_t)-result, 0, 0);
	bp->file_pages = target;
	return DBOS_OK;
}

/* A brand-new page at the end of the file, latched exclusively and resident. */
static dbos_status bp_allocate_new(dbos_bp *bp, uint64_t *pid_out)
{
	uint64_t pid = atomic_load_explicit(&bp->page_count, memory_order_relaxed);
	if (pid >= bp->max_pages)
		return bp_fail(bp, DBOS_ELIMIT, DBOS_BP_REASON_NONE, pid, 0, pid, bp->max_pages);
	dbos_status status = bp_grow_file(bp, pid + 1);
	if (status == DBOS_OK)
		status = bp_commit_to(bp, pid + 1);
	if (status != DBOS_OK)
		return status;
	/* Not yet visible (pid >= page_count), so no one else can touch its word. */
	atomic_store_explicit(&bp->states[pid], (uint64_t)BP_IO << BP_STATE_SHIFT, memory_order_relaxed);
	uint32_t slot;
	status = bp_frame_take(bp, pid, &slot);
	if (status != DBOS_OK)
		return status;
	atomic_store_explicit(&bp->states[pid], (uint64_t)BP_EXCLUSIVE << BP_STATE_SHIFT, memory_order_relaxed);
	atomic_store_explicit(&bp->page_count, pid + 1, memory_order_release);
	*pid_out = pid;
	return DBOS_OK;
}

/* The head of the free chain, latched exclusively, taken off the chain. */
static dbos_status bp_allocate_free(dbos_bp *bp, uint64_t *pid_out)
{
	uint64_t pid = atomic_load_explicit(&bp->free_head, memory_order_relaxed);
	if (!bp_valid_pid(bp, pid))
		return bp_fail(bp, DBOS_ECORRUPT, DBOS_BP_REASON_FREE_CHAIN, pid, 0, pid, 0);
	void *page;
	dbos_status status = bp_fix(bp, pid, DBOS_BP_EXCLUSIVE, &page);
	if (status != DBOS_OK)
		return status;
	const dbos_bp_page_header *header = page;
	if (!(header->flags & DBOS_BP_PAGE_FREE)) {
		DBOS_ASSERT(bp_unlatch_exclusive(bp, pid, false) == DBOS_OK);
		return bp_fail(bp, DBOS_ECORRUPT, DBOS_BP_REASON_FREE_CHAIN, pid, 0, header->flags, DBOS_BP_PAGE_FREE);
	}
	uint64_t next;
	__builtin_memcpy(&next, dbos_bp_payload(page), sizeof next);
	atomic_store_explicit(&bp->free_head, next, memory_order_relaxed);
	atomic_fetch_sub_explicit(&bp->free_count, 1, memory_order_relaxed);
	*pid_out = pid;
	return DBOS_OK;
}

/* Mark a page this thread holds exclusively as dirty now (a new or freed page must reach the disk). */
static void bp_set_dirty(dbos_bp *bp, uint64_t pid)
{
	uint64_t before = atomic_fetch_or_explicit(&bp->states[pid], BP_DIRTY, memory_order_relaxed);
	bp_dirty_changed(bp, before, before | BP_DIRTY);
}

dbos_status dbos_bp_allocate(dbos_bp *bp, uint64_t *pid_out, void **page_out)
{
	if (!bp || !pid_out || !page_out)
		return DBOS_EINVAL;
	if (bp->flags & DBOS_BP_READ_ONLY)
		return DBOS_EPERM;
	dbos_mutex_lock(&bp->alloc_lock);
	uint64_t pid = 0;
	dbos_preempt_disable();
	dbos_status status = atomic_load_explicit(&bp->free_head, memory_order_relaxed) ? bp_allocate_free(bp, &pid)
											: bp_allocate_new(bp, &pid);
	if (status != DBOS_OK) {
		dbos_preempt_enable();
		dbos_mutex_unlock(&bp->alloc_lock);
		return status;
	}
	uint8_t *page = bp_page(bp, pid);
	if (bp->before_write)
		bp->before_write(bp->hook_context, pid, page);
	__builtin_memset(page, 0, bp->page_size);
	((dbos_bp_page_header *)page)->pid = pid;
	bp_set_dirty(bp, pid);
	dbos_mutex_unlock(&bp->alloc_lock);
	*pid_out = pid;
	*page_out = page;
	return DBOS_OK;
}

dbos_status dbos_bp_free(dbos_bp *bp, uint64_t pid)
{
	if (!bp)
		return DBOS_EINVAL;
	if (!bp_valid_pid(bp, pid))
		return DBOS_ERANGE;
	if (bp->flags & DBOS_BP_READ_ONLY)
		return DBOS_EPERM;
	uint32_t state = bp_state(atomic_load_explicit(&bp->states[pid], memory_order_relaxed));
	if ((state >= 1 && state <= BP_SHARED_MAX) || state == BP_EXCLUSIVE)
		return DBOS_EBUSY; /* fixed: freeing it would pull the page from under its holder */
	dbos_mutex_lock(&bp->alloc_lock);
	void *page;
	dbos_status status = bp_fix(bp, pid, DBOS_BP_EXCLUSIVE, &page);
	if (status != DBOS_OK) {
		dbos_mutex_unlock(&bp->alloc_lock);
		return status;
	}
	dbos_bp_page_header *header = page;
	if (header->flags & DBOS_BP_PAGE_FREE) {
		DBOS_ASSERT(bp_unlatch_exclusive(bp, pid, false) == DBOS_OK);
		dbos_mutex_unlock(&bp->alloc_lock);
		return DBOS_EINVAL; /* freed twice */
	}
	if (bp->before_write)
		bp->before_write(bp->hook_context, pid, page);
	uint64_t next = atomic_load_explicit(&bp->free_head, memory_order_relaxed);
	__builtin_memset(dbos_bp_payload(page), 0, dbos_bp_page_payload_size(bp->page_size));
	__builtin_memcpy(dbos_bp_payload(page), &next, sizeof next);
	header->flags = DBOS_BP_PAGE_FREE;
	header->lsn = 0;
	atomic_store_explicit(&bp->free_head, pid, memory_order_relaxed);
	atomic_fetch_add_explicit(&bp->free_count, 1, memory_order_relaxed);
	DBOS_ASSERT(bp_unlatch_exclusive(bp, pid, true) == DBOS_OK);
	dbos_mutex_unlock(&bp->alloc_lock);
	return DBOS_OK;
}

void dbos_bp_file_state(const dbos_bp *bp, dbos_bp_file_header *header_out)
{
	dbos_bp *pool = (dbos_bp *)bp; /* the lock is taken, the pool is not changed */
	/* alloc_lock: allocate and free change the page count and the chain's head and length together. */
	dbos_mutex_lock(&pool->alloc_lock);
	*header_out = (dbos_bp_file_header){
		.magic = DBOS_BP_FILE_MAGIC,
		.format_version = DBOS_BP_FORMAT_VERSION,
		.page_size = bp->page_size,
		.page_count = atomic_load_explicit(&pool->page_count, memory_order_acquire),
		.free_head = atomic_load_explicit(&pool->free_head, memory_order_relaxed),
		.free_count = atomic_load_explicit(&pool->free_count, memory_order_relaxed),
	};
	dbos_mutex_unlock(&pool->alloc_lock);
}
