/*
 * alloc_buddy.c - the shared page allocator: a binary buddy system over the
 * pool's pages, with free lists split by residency so that allocation reuses
 * memory that is already backed (pre-faulted or recently freed) before it
 * touches fresh pages, and release picks the runs that still hold memory.
 *
 * Every function here runs with pool->lock held.  Free-list links live in the
 * page map, never in the free pages themselves: writing a link into a
 * released page would fault it back in.
 */
#include "alloc_internal.h"

/* SWAR popcount: __builtin_popcountll may call libgcc, which the guest kernel does not link. */
static uint32_t popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (uint32_t)((x * 0x0101010101010101ull) >> 56);
}

static uint32_t bits_count(const uint64_t *bits, uint32_t first, uint32_t count, bool set, uint64_t *words)
{
	/* Count (and optionally set or clear) bits [first, first + count). */
	uint32_t total = 0;
	uint32_t index = first;
	uint32_t end = first + count;
	while (index < end) {
		uint32_t word = index >> 6;
		uint32_t shift = index & 63;
		uint32_t span = end - index < 64 - shift ? end - index : 64 - shift;
		uint64_t mask = (span == 64 ? ~(uint64_t)0 : (((uint64_t)1 << span) - 1)) << shift;
		total += popcount64(bits[word] & mask);
		if (words) {
			if (set)
				words[word] |= mask;
			else
				words[word] &= ~mask;
		}
		index += span;
	}
	return total;
}

static uint32_t resident_count(const dbos_alloc_pool *pool, uint32_t page, uint32_t count)
{
	return bits_count(pool->resident_bits, page, count, false, NULL);
}

uint32_t alloc_buddy_mark_resident(dbos_alloc_pool *pool, uint32_t page, uint32_t count)
{
	DBOS_ASSERT(page + count <= pool->page_total);
	uint32_t before = bits_count(pool->resident_bits, page, count, true, pool->resident_bits);
	pool->pages_resident += count - before;
	return before;
}

/* Clear the resident bits of a block being released; returns how many were set. */
uint32_t alloc_buddy_mark_released(dbos_alloc_pool *pool, uint32_t page, uint32_t count)
{
	uint32_t before = bits_count(pool->resident_bits, page, count, false, pool->resident_bits);
	DBOS_ASSERT(pool->pages_resident >= before);
	pool->pages_resident -= before;
	return before;
}

static void list_push(dbos_alloc_pool *pool, uint32_t page, uint32_t order, bool dirty)
{
	struct alloc_page *entry = &pool->pages[page];
	uint32_t *head = &pool->free_heads[dirty][order];
	atomic_store_explicit(&entry->kind, ALLOC_PAGE_FREE, memory_order_release);
	entry->order = (uint8_t)order;
	entry->dirty = dirty;
	entry->prev = ALLOC_PAGE_NONE;
	entry->next = *head;
	if (*head != ALLOC_PAGE_NONE)
		pool->pages[*head].prev = page;
	*head = page;
}

static void list_remove(dbos_alloc_pool *pool, uint32_t page)
{
	struct alloc_page *entry = &pool->pages[page];
	DBOS_ASSERT(atomic_load_explicit(&entry->kind, memory_order_relaxed) == ALLOC_PAGE_FREE);
	if (entry->prev != ALLOC_PAGE_NONE)
		pool->pages[entry->prev].next = entry->next;
	else
		pool->free_heads[entry->dirty][entry->order] = entry->next;
	if (entry->next != ALLOC_PAGE_NONE)
		pool->pages[entry->next].prev = entry->prev;
	entry->next = entry->prev = ALLOC_PAGE_NONE;
}

uint32_t alloc_buddy_order_for(uint32_t page_count)
{
	DBOS_ASSERT(page_count >= 1);
	return page_count == 1 ? 0 : 32u - (uint32_t)__builtin_clz(page_count - 1);
}

static bool find_block(const dbos_alloc_pool *pool, uint32_t order, uint32_t *order_out, bool *dirty_out)
{
	/* Resident memory first at any size, then the smallest fresh block. */
	for (uint32_t dirty = 2; dirty-- > 0;) {
		for (uint32_t candidate = order; candidate <= ALLOC_ORDER_MAX; candidate++) {
			if (pool->free_heads[dirty][candidate] != ALLOC_PAGE_NONE) {
				*order_out = candidate;
				*dirty_out = dirty;
				return true;
			}
		}
	}
	return false;
}

uint32_t alloc_buddy_take(dbos_alloc_pool *pool, uint32_t order, bool *was_resident_out)
{
	uint32_t found_order;
	bool dirty;
	if (order > ALLOC_ORDER_MAX || !find_block(pool, order, &found_order, &dirty))
		return ALLOC_PAGE_NONE;
	uint32_t page = pool->free_heads[dirty][found_order];
	list_remove(pool, page);
	/* Off the lists, the head must stop looking FREE at once: a buddy being freed would merge it. */
	atomic_store_explicit(&pool->pages[page].kind, ALLOC_PAGE_TAKEN, memory_order_relaxed);
	uint32_t block_resident = dirty ? resident_count(pool, page, 1u << found_order) : 0;
	/* Split: the upper halves go back, each on the list its residency says. */
	while (found_order > order) {
		found_order--;
		uint32_t upper = page + (1u << found_order);
		uint32_t upper_resident = block_resident ? resident_count(pool, upper, 1u << found_order) : 0;
		list_push(pool, upper, found_order, upper_resident > 0);
		block_resident -= upper_resident;
	}
	uint32_t count = 1u << order;
	DBOS_ASSERT(pool->pages_free >= count && pool->pages_free_resident >= block_resident);
	pool->pages_free -= count;
	pool->pages_free_resident -= block_resident;
	*was_resident_out = block_resident > 0;
	return page;
}

void alloc_buddy_give(dbos_alloc_pool *pool, uint32_t page, uint32_t order)
{
	DBOS_ASSERT(order <= ALLOC_ORDER_MAX && (page & ((1u << order) - 1)) == 0);
	DBOS_ASSERT(page + (1u << order) <= pool->page_total);
	uint32_t resident = resident_count(pool, page, 1u << order);
	pool->pages_free += 1u << order;
	pool->pages_free_resident += resident;
	bool dirty = resident > 0;
	while (order < ALLOC_ORDER_MAX) {
		uint32_t buddy = page ^ (1u << order);
		if (buddy >= pool->page_total)
			break;
		struct alloc_page *other = &pool->pages[buddy];
		if (atomic_load_explicit(&other->kind, memory_order_relaxed) != ALLOC_PAGE_FREE ||
		    other->order != order)
			break;
		dirty = dirty || other->dirty;
		list_remove(pool, buddy);
		uint32_t lower = page < buddy ? page : buddy;
		uint32_t upper = page ^ buddy ^ lower;
		/* The upper head becomes an interior page of the merged block. */
		pool->pages[upper].head = lower;
		atomic_store_explicit(&pool->pages[upper].kind, ALLOC_PAGE_TAIL, memory_order_release);
		page = lower;
		order++;
	}
	list_push(pool, page, order, dirty);
}

void alloc_buddy_give_range(dbos_alloc_pool *pool, uint32_t page, uint32_t count)
{
	uint32_t end = page + count;
	DBOS_ASSERT(end <= pool->page_total && end >= page);
	while (page < end) {
		/* The largest aligned block that starts here and fits. */
		uint32_t order = page ? (uint32_t)__builtin_ctz(page) : ALLOC_ORDER_MAX;
		if (order > ALLOC_ORDER_MAX)
			order = ALLOC_ORDER_MAX;
		while ((1u << order) > end - page)
			order--;
		alloc_buddy_give(pool, page, order);
		page += 1u << order;
	}
}

uint64_t alloc_buddy_largest_free(const dbos_alloc_pool *pool)
{
	for (uint32_t order = ALLOC_ORDER_COUNT; order-- > 0;) {
		if (pool->free_heads[0][order] != ALLOC_PAGE_NONE || pool->free_heads[1][order] != ALLOC_PAGE_NONE)
			return (uint64_t)1 << order;
	}
	return 0;
}

/* For release: take the largest block that may hold resident pages. */
uint32_t alloc_buddy_take_dirty(dbos_alloc_pool *pool, uint32_t *order_out)
{
	for (uint32_t order = ALLOC_ORDER_COUNT; order-- > 0;) {
		uint32_t page = pool->free_heads[1][order];
		if (page == ALLOC_PAGE_NONE)
			continue;
		list_remove(pool, page);
		uint32_t resident = resident_count(pool, page, 1u << order);
		pool->pages_free -= 1u << order;
		pool->pages_free_resident -= resident;
		atomic_store_explicit(&pool->pages[page].kind, ALLOC_PAGE_RELEASING, memory_order_release);
		*order_out = order;
		return page;
	}
	return ALLOC_PAGE_NONE;
}
