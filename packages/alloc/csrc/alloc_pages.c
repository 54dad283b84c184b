/*
 * alloc_pages.c - page runs on top of the buddy allocator: marking blocks,
 * pre-faulting them in one call, per-slot caches of single pages, stealing
 * when the pool is dry, and batched release of free memory to the OS.
 */
#include "alloc_internal.h"

static void populate(dbos_alloc_pool *pool, uint32_t page, uint32_t count)
{
	if (!(pool->flags & DBOS_ALLOC_POOL_POPULATE) || !pool->mechanism.populate)
		return;
	/* One call backs the whole block; failure only means the pages fault on first touch. */
	(void)dbos_platform_advise((void *)alloc_page_address(pool, page), (size_t)count << DBOS_PAGE_SHIFT,
				   DBOS_ADVICE_POPULATE_WRITE);
}

static uint64_t *kind_counter(dbos_alloc_pool *pool, enum alloc_page_kind kind)
{
	switch (kind) {
	case ALLOC_PAGE_RUN: return &pool->pages_runs;
	case ALLOC_PAGE_SLAB: return &pool->pages_slabs;
	case ALLOC_PAGE_ARENA: return &pool->pages_arenas;
	default: break;
	}
	dbos_platform_panic(__FILE__, __LINE__, "page block of an unexpected kind");
}

/* Mark a taken block live (pool lock held): tails first, head last, so lookups never see half a block. */
static void block_mark(dbos_alloc_pool *pool, uint32_t head, uint32_t count, enum alloc_page_kind kind)
{
	for (uint32_t page = head + 1; page < head + count; page++) {
		pool->pages[page].head = head;
		atomic_store_explicit(&pool->pages[page].kind, ALLOC_PAGE_TAIL, memory_order_relaxed);
	}
	struct alloc_page *entry = &pool->pages[head];
	entry->head = head;
	entry->page_count = count;
	entry->next = entry->prev = ALLOC_PAGE_NONE;
	entry->requested_bytes = 0;
	*kind_counter(pool, kind) += count;
	atomic_store_explicit(&entry->kind, (uint8_t)kind, memory_order_release);
}

static dbos_status take_once(dbos_alloc_pool *pool, uint32_t page_count, enum alloc_page_kind kind, uint32_t *page_out,
			     bool *fresh_out)
{
	uint32_t order = alloc_buddy_order_for(page_count);
	bool was_resident;
	alloc_lock_acquire(&pool->lock);
	uint32_t head = alloc_buddy_take(pool, order, &was_resident);
	if (head == ALLOC_PAGE_NONE) {
		alloc_lock_release(&pool->lock);
		return DBOS_ENOMEM;
	}
	/* A run of n pages keeps exactly n: the rest of the power-of-two block goes back. */
	if ((1u << order) > page_count)
		alloc_buddy_give_range(pool, head + page_count, (1u << order) - page_count);
	uint32_t resident_before = alloc_buddy_mark_resident(pool, head, page_count);
	block_mark(pool, head, page_count, kind);
	alloc_lock_release(&pool->lock);
	if (resident_before < page_count)
		populate(pool, head, page_count);
	*page_out = head;
	*fresh_out = resident_before == 0;
	return DBOS_OK;
}

/* Out of pages: pull every free page held anywhere back into the buddy allocator. */
static void reclaim(dbos_alloc_pool *pool)
{
	struct alloc_slot *slot = alloc_slot_of_caller(pool);
	if (slot)
		alloc_slot_flush(pool, slot);
	alloc_slab_drop_spares(pool);
	alloc_pages_steal_all(pool);
}

dbos_status alloc_pages_take(dbos_alloc_pool *pool, uint32_t page_count, enum alloc_page_kind kind, uint32_t *page_out,
			     bool *fresh_out)
{
	DBOS_ASSERT(page_count >= 1);
	if (page_count > pool->page_total)
		return DBOS_ENOMEM;
	dbos_status status = take_once(pool, page_count, kind, page_out, fresh_out);
	if (status != DBOS_ENOMEM)
		return status;
	reclaim(pool);
	return take_once(pool, page_count, kind, page_out, fresh_out);
}

/* ---- Single pages through the slot cache ---------------------------------- */

static void cache_push_locked(dbos_alloc_pool *pool, struct alloc_slot *slot, uint32_t page)
{
	DBOS_ASSERT(slot->page_count < ALLOC_PAGE_CACHE_MAX);
	pool->pages[page].head = page;
	atomic_store_explicit(&pool->pages[page].kind, ALLOC_PAGE_CACHED, memory_order_release);
	slot->pages[slot->page_count++] = page;
	atomic_fetch_add_explicit(&pool->pages_cached, 1, memory_order_relaxed);
}

static uint32_t slot_refill(dbos_alloc_pool *pool, struct alloc_slot *slot)
{
	/* One order-5 block: one lock hold, one populate call for 32 pages. */
	bool was_resident;
	alloc_lock_acquire(&pool->lock);
	uint32_t head = alloc_buddy_take(pool, 5, &was_resident);
	uint32_t count = ALLOC_PAGE_BATCH;
	if (head == ALLOC_PAGE_NONE) {
		head = alloc_buddy_take(pool, 0, &was_resident);
		count = 1;
	}
	if (head == ALLOC_PAGE_NONE) {
		alloc_lock_release(&pool->lock);
		return 0;
	}
	uint32_t resident_before = alloc_buddy_mark_resident(pool, head, count);
	for (uint32_t page = head; page < head + count; page++)
		atomic_store_explicit(&pool->pages[page].kind, ALLOC_PAGE_CACHED, memory_order_relaxed);
	alloc_lock_release(&pool->lock);
	if (resident_before < count)
		populate(pool, head, count);
	alloc_lock_acquire(&slot->page_lock);
	/* Push in reverse so the lowest address is handed out first. */
	for (uint32_t i = count; i-- > 0;)
		cache_push_locked(pool, slot, head + i);
	alloc_lock_release(&slot->page_lock);
	return count;
}

static bool slot_pop(dbos_alloc_pool *pool, struct alloc_slot *slot, uint32_t *page_out)
{
	alloc_lock_acquire(&slot->page_lock);
	bool found = slot->page_count > 0;
	if (found) {
		*page_out = slot->pages[--slot->page_count];
		atomic_fetch_sub_explicit(&pool->pages_cached, 1, memory_order_relaxed);
	}
	alloc_lock_release(&slot->page_lock);
	return found;
}

dbos_status alloc_pages_take_single(dbos_alloc_pool *pool, struct alloc_slot *slot, enum alloc_page_kind kind,
				    uint32_t *page_out)
{
	bool fresh;
	if (!slot)
		return alloc_pages_take(pool, 1, kind, page_out, &fresh);
	uint32_t page;
	if (!slot_pop(pool, slot, &page)) {
		if (slot_refill(pool, slot) == 0) {
			reclaim(pool);
			if (slot_refill(pool, slot) == 0)
				return DBOS_ENOMEM;
		}
		if (!slot_pop(pool, slot, &page))
			return DBOS_ENOMEM; /* stolen between refill and pop: report, the caller may retry */
	}
	DBOS_ASSERT(atomic_load_explicit(&pool->pages[page].kind, memory_order_relaxed) == ALLOC_PAGE_CACHED);
	alloc_lock_acquire(&pool->lock);
	block_mark(pool, page, 1, kind);
	alloc_lock_release(&pool->lock);
	*page_out = page;
	return DBOS_OK;
}

/* ---- Giving back ---------------------------------------------------------------- */

/* Take a block being given back out of its kind's page count (pool lock held). */
static void uncount_locked(dbos_alloc_pool *pool, uint32_t head)
{
	struct alloc_page *entry = &pool->pages[head];
	uint8_t kind = atomic_load_explicit(&entry->kind, memory_order_relaxed);
	if (kind == ALLOC_PAGE_RELEASING) /* a run whose free already claimed it */
		kind = ALLOC_PAGE_RUN;
	uint64_t *counter = kind_counter(pool, (enum alloc_page_kind)kind);
	DBOS_ASSERT(*counter >= entry->page_count);
	*counter -= entry->page_count;
}

static void give_pages_to_buddy(dbos_alloc_pool *pool, const uint32_t *pages, uint32_t count);

/* A freed single page goes to the slot's cache; a full cache first spills its oldest batch. */
static void slot_give_single(dbos_alloc_pool *pool, struct alloc_slot *slot, uint32_t page)
{
	uint32_t spill[ALLOC_PAGE_BATCH];
	uint32_t spilled = 0;
	alloc_lock_acquire(&slot->page_lock);
	if (slot->page_count == ALLOC_PAGE_CACHE_MAX) {
		for (uint32_t i = 0; i < ALLOC_PAGE_BATCH; i++)
			spill[i] = slot->pages[i];
		for (uint32_t i = ALLOC_PAGE_BATCH; i < ALLOC_PAGE_CACHE_MAX; i++)
			slot->pages[i - ALLOC_PAGE_BATCH] = slot->pages[i];
		slot->page_count -= ALLOC_PAGE_BATCH;
		atomic_fetch_sub_explicit(&pool->pages_cached, ALLOC_PAGE_BATCH, memory_order_relaxed);
		spilled = ALLOC_PAGE_BATCH;
	}
	cache_push_locked(pool, slot, page);
	alloc_lock_release(&slot->page_lock);
	give_pages_to_buddy(pool, spill, spilled);
}

void alloc_pages_give_many(dbos_alloc_pool *pool, struct alloc_slot *slot, const uint32_t *heads, uint32_t count)
{
	bool over = false;
	uint32_t index = 0;
	while (index < count) {
		uint32_t singles[ALLOC_PAGE_BATCH];
		uint32_t single_count = 0;
		/* One lock hold per batch of blocks. */
		alloc_lock_acquire(&pool->lock);
		for (uint32_t batch = 0; index < count && batch < ALLOC_PAGE_BATCH; index++, batch++) {
			uint32_t head = heads[index];
			if (slot && pool->pages[head].page_count == 1) {
				uncount_locked(pool, head);
				singles[single_count++] = head;
			} else {
				uncount_locked(pool, head);
				alloc_buddy_give_range(pool, head, pool->pages[head].page_count);
			}
		}
		over = pool->pages_free_resident > pool->retain_pages;
		alloc_lock_release(&pool->lock);
		for (uint32_t i = 0; i < single_count; i++)
			slot_give_single(pool, slot, singles[i]);
	}
	if (over)
		alloc_pages_release(pool, pool->retain_pages);
}

dbos_status alloc_pages_free_run(dbos_alloc_pool *pool, struct alloc_slot *slot, uint32_t head)
{
	struct alloc_page *entry = &pool->pages[head];
	uint8_t expected = ALLOC_PAGE_RUN;
	/* The claim is the double-free check: only one free can move RUN -> RELEASING. */
	if (!atomic_compare_exchange_strong_explicit(&entry->kind, &expected, ALLOC_PAGE_RELEASING,
						     memory_order_acq_rel, memory_order_relaxed))
		return DBOS_EINVAL;
	if (pool->flags & DBOS_ALLOC_POOL_JUNK)
		__builtin_memset((void *)alloc_page_address(pool, head), ALLOC_JUNK_BYTE,
				 (size_t)entry->page_count << DBOS_PAGE_SHIFT);
	int64_t requested = (int64_t)entry->requested_bytes;
	if (slot) {
		atomic_store_explicit(&slot->bytes_requested,
				      atomic_load_explicit(&slot->bytes_requested, memory_order_relaxed) - requested,
				      memory_order_relaxed);
		atomic_store_explicit(&slot->free_count,
				      atomic_load_explicit(&slot->free_count, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	} else {
		atomic_fetch_sub_explicit(&pool->shared_bytes_requested, requested, memory_order_relaxed);
		atomic_fetch_add_explicit(&pool->shared_free_count, 1, memory_order_relaxed);
	}
	alloc_pages_give_many(pool, slot, &head, 1);
	return DBOS_OK;
}

/* ---- Stealing and flushing page caches ------------------------------------------ */

static void give_pages_to_buddy(dbos_alloc_pool *pool, const uint32_t *pages, uint32_t count)
{
	if (count == 0)
		return;
	alloc_lock_acquire(&pool->lock);
	for (uint32_t i = 0; i < count; i++)
		alloc_buddy_give(pool, pages[i], 0);
	alloc_lock_release(&pool->lock);
}

static uint32_t drain_slot(dbos_alloc_pool *pool, struct alloc_slot *slot)
{
	uint32_t pages[ALLOC_PAGE_CACHE_MAX];
	alloc_lock_acquire(&slot->page_lock);
	uint32_t count = slot->page_count;
	for (uint32_t i = 0; i < count; i++)
		pages[i] = slot->pages[i];
	slot->page_count = 0;
	atomic_fetch_sub_explicit(&pool->pages_cached, count, memory_order_relaxed);
	alloc_lock_release(&slot->page_lock);
	give_pages_to_buddy(pool, pages, count);
	return count;
}

void alloc_pages_flush_slot(dbos_alloc_pool *pool, struct alloc_slot *slot)
{
	drain_slot(pool, slot);
}

uint32_t alloc_pages_steal_all(dbos_alloc_pool *pool)
{
	uint32_t moved = 0;
	for (uint32_t index = 0; index < pool->slot_count; index++)
		moved += drain_slot(pool, &pool->slots[index]);
	return moved;
}

/* ---- Batched release to the OS ------------------------------------------------ */

uint64_t alloc_pages_release(dbos_alloc_pool *pool, uint64_t keep_pages)
{
	uint64_t released = 0;
	/* Bounded: every round releases at least one resident page or stops. */
	for (uint64_t round = 0; round <= pool->page_total; round++) {
		uint32_t heads[ALLOC_RELEASE_BATCH];
		uint32_t orders[ALLOC_RELEASE_BATCH];
		uint32_t taken = 0;
		/* 1. Under the lock, take the largest runs holding memory out of the free lists. */
		alloc_lock_acquire(&pool->lock);
		uint64_t resident = pool->pages_free_resident;
		while (taken < ALLOC_RELEASE_BATCH && resident > keep_pages) {
			uint32_t head = alloc_buddy_take_dirty(pool, &orders[taken]);
			if (head == ALLOC_PAGE_NONE)
				break;
			heads[taken++] = head;
			resident = pool->pages_free_resident;
		}
		alloc_lock_release(&pool->lock);
		if (taken == 0)
			break;
		/* 2. Without the lock, one discard per run: nobody else can hand these pages out. */
		for (uint32_t i = 0; i < taken; i++)
			(void)dbos_platform_advise((void *)alloc_page_address(pool, heads[i]),
						   (size_t)1 << (orders[i] + DBOS_PAGE_SHIFT), DBOS_ADVICE_DISCARD);
		/* 3. Put them back as clean runs. */
		alloc_lock_acquire(&pool->lock);
		for (uint32_t i = 0; i < taken; i++) {
			uint32_t dropped = alloc_buddy_mark_released(pool, heads[i], 1u << orders[i]);
			pool->released_pages += dropped;
			pool->release_count++;
			released += dropped;
			alloc_buddy_give(pool, heads[i], orders[i]);
		}
		alloc_lock_release(&pool->lock);
	}
	return released;
}
