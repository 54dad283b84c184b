/*
 * kv_tree_overflow.c - values too large for a leaf, in chains of overflow
 * pages: each page's payload is [u64 next pid][data], the last page's next is 0.
 *
 * A chain is written completely before any leaf points to it and freed only
 * after the leaf no longer does, so readers that validate the leaf after
 * reading the chain never return bytes of a chain that was not the value.
 */
#include "kv_tree.h"

dbos_status kv_tree_free_page(struct kv_tree *tree, uint64_t pid)
{
	/* A reader may hold the page shared for a moment (an overflow copy, an epoch pin): wait it out. */
	for (uint32_t attempt = 0;; attempt++) {
		dbos_status status = dbos_bp_free(tree->bp, pid);
		if (status != DBOS_EBUSY)
			return status;
		if (attempt < 64)
			dbos_platform_relax();
		else
			dbos_platform_yield();
	}
}

dbos_status kv_overflow_write(struct kv_tree *tree, const void *value, uint64_t value_size, uint64_t lsn,
			      uint64_t *first_pid_out)
{
	DBOS_ASSERT(value_size > 0);
	uint32_t chunk = kv_overflow_chunk(tree->page_size);
	const uint8_t *bytes = value;
	uint64_t first = 0, previous = 0;
	void *previous_page = NULL;
	dbos_status status = DBOS_OK;
	/* Forward, holding the previous page until the next one's pid is known. */
	for (uint64_t done = 0; done < value_size; done += chunk) {
		uint64_t pid;
		void *page;
		status = dbos_bp_allocate(tree->bp, &pid, &page);
		if (status != DBOS_OK)
			break;
		uint64_t size = value_size - done < chunk ? value_size - done : chunk;
		uint8_t *payload = dbos_bp_payload(page);
		kv_store64(payload, 0);
		__builtin_memcpy(payload + KV_OVERFLOW_HEADER, bytes + done, size);
		kv_page_set_lsn(page, lsn);
		if (previous_page) {
			kv_store64(dbos_bp_payload(previous_page), pid);
			dbos_bp_unfix_exclusive(tree->bp, previous, true);
		} else {
			first = pid;
		}
		previous = pid;
		previous_page = page;
	}
	if (previous_page)
		dbos_bp_unfix_exclusive(tree->bp, previous, true);
	if (status != DBOS_OK) {
		/* Give back what was written: the chain up to the failure is complete and ends in 0. */
		if (first)
			kv_overflow_free(tree, first, value_size);
		return status;
	}
	*first_pid_out = first;
	return DBOS_OK;
}

/* The next pid of overflow page `pid` (the writer reads its own chains). */
static dbos_status overflow_next(struct kv_tree *tree, uint64_t pid, uint64_t *next_out)
{
	void *page;
	dbos_status status = dbos_bp_fix_shared(tree->bp, pid, &page);
	if (status != DBOS_OK)
		return status;
	bool free = ((dbos_bp_page_header *)page)->flags & DBOS_BP_PAGE_FREE;
	*next_out = kv_load64(dbos_bp_payload(page));
	dbos_bp_unfix_shared(tree->bp, pid);
	return free ? DBOS_ECORRUPT : DBOS_OK;
}

dbos_status kv_overflow_free(struct kv_tree *tree, uint64_t first_pid, uint64_t value_size)
{
	uint32_t chunk = kv_overflow_chunk(tree->page_size);
	uint64_t pages = (value_size + chunk - 1) / chunk;
	uint64_t pid = first_pid;
	/* At most `pages` steps: a damaged link cannot make this loop forever. */
	for (uint64_t n = 0; n < pages && pid; n++) {
		uint64_t next;
		dbos_status status = overflow_next(tree, pid, &next);
		if (status != DBOS_OK)
			return status;
		status = kv_tree_free_page(tree, pid);
		if (status != DBOS_OK)
			return status;
		pid = next;
	}
	return DBOS_OK;
}

dbos_status kv_overflow_read(struct kv_tree *tree, struct kv_epoch *epoch, uint64_t first_pid, uint64_t value_size,
			     void *buffer, uint64_t capacity)
{
	uint32_t chunk = kv_overflow_chunk(tree->page_size);
	uint8_t *out = buffer;
	uint64_t pid = first_pid;
	if (capacity > value_size)
		capacity = value_size; /* the chain holds value_size bytes, no more */
	for (uint64_t done = 0; done < capacity; done += chunk) {
		/* A torn leaf may name any pid: refuse what cannot be an overflow page before fixing it. */
		if (pid <= KV_TREE_META_PID || pid >= dbos_bp_page_count(tree->bp))
			return DBOS_ECORRUPT;
		const void *page;
		struct kv_epoch_pin pin;
		dbos_status status;
		if (epoch) {
			status = kv_epoch_fix(epoch, pid, &pin);
			page = pin.page;
		} else {
			void *fixed;
			status = dbos_bp_fix_shared(tree->bp, pid, &fixed);
			page = fixed;
		}
		if (status != DBOS_OK)
			return status;
		bool free = ((const dbos_bp_page_header *)page)->flags & DBOS_BP_PAGE_FREE;
		const uint8_t *payload = (const uint8_t *)page + DBOS_BP_PAGE_HEADER_SIZE;
		uint64_t size = capacity - done < chunk ? capacity - done : chunk;
		if (!free)
			__builtin_memcpy(out + done, payload + KV_OVERFLOW_HEADER, size);
		uint64_t next = kv_load64(payload);
		if (epoch)
			kv_epoch_unfix(epoch, &pin);
		else
			dbos_bp_unfix_shared(tree->bp, pid);
		if (free)
			return DBOS_ECORRUPT;
		pid = next;
	}
	return DBOS_OK;
}
