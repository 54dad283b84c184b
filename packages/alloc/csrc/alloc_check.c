/*
 * alloc_check.c - dbos_alloc_pool_check: walk every structure of a quiescent
 * pool and verify the invariants the other files rely on.  Tests run it after
 * each scenario; it is O(pages) and takes every lock, so it is not for hot paths.
 */
#include "alloc_internal.h"

#define CHECK_OR_CORRUPT(cond, what)                                                       \
	do {                                                                               \
		if (!(cond)) {                                                             \
			dbos_platform_log(DBOS_LOG_ERROR, "dbos_alloc_pool_check: " what); \
			return DBOS_ECORRUPT;                                              \
		}                                                                          \
	} while (0)

static uint32_t bit_count(const uint64_t *words, uint32_t first, uint32_t count)
{
	uint32_t total = 0;
	for (uint32_t page = first; page < first + count; page++)
		total += (uint32_t)((words[page >> 6] >> (page & 63)) & 1);
	return total;
}

/* 1. Free lists: linkage, order, alignment, the residency flag, and the counters they sum to. */
static dbos_status check_free_lists(const dbos_alloc_pool *pool)
{
	uint64_t pages = 0, resident = 0;
	for (uint32_t dirty = 0; dirty < 2; dirty++) {
		for (uint32_t order = 0; order < ALLOC_ORDER_COUNT; order++) {
			uint32_t previous = ALLOC_PAGE_NONE;
			uint32_t page = pool->free_heads[dirty][order];
			for (uint32_t steps = 0; page != ALLOC_PAGE_NONE; steps++) {
				CHECK_OR_CORRUPT(steps < pool->page_total, "free list cycle");
				CHECK_OR_CORRUPT(page < pool->page_total, "free list link out of range");
				const struct alloc_page *entry = &pool->pages[page];
				CHECK_OR_CORRUPT(atomic_load(&entry->kind) == ALLOC_PAGE_FREE, "listed block not FREE");
				CHECK_OR_CORRUPT(entry->order == order && entry->dirty == dirty,
						 "listed block on wrong list");
				CHECK_OR_CORRUPT((page & ((1u << order) - 1)) == 0, "free block misaligned");
				CHECK_OR_CORRUPT(entry->prev == previous, "free list back link");
				uint32_t held = bit_count(pool->resident_bits, page, 1u << order);
				CHECK_OR_CORRUPT((held > 0) == (dirty == 1), "residency flag wrong");
				pages += 1u << order;
				resident += held;
				previous = page;
				page = entry->next;
			}
		}
	}
	CHECK_OR_CORRUPT(pages == pool->pages_free, "pages_free");
	CHECK_OR_CORRUPT(resident == pool->pages_free_resident, "pages_free_resident");
	return DBOS_OK;
}

static dbos_status check_slab(const dbos_alloc_pool *pool, uint32_t head)
{
	const struct alloc_page *slab = &pool->pages[head];
	const struct alloc_class_info *info = &alloc_classes[slab->class_index];
	CHECK_OR_CORRUPT(slab->class_index < DBOS_ALLOC_CLASS_COUNT, "slab class");
	CHECK_OR_CORRUPT(slab->page_count == 1u << info->slab_order, "slab length");
	CHECK_OR_CORRUPT(slab->object_count == info->slab_objects, "slab object count");
	uint32_t free_objects = 0;
	for (uint32_t word = 0; word < 4; word++) {
		uint64_t user = atomic_load(&slab->user_bits[word]);
		CHECK_OR_CORRUPT((user & slab->free_bits[word]) == 0, "object both free and held");
		uint32_t first = word * 64;
		uint64_t valid = info->slab_objects <= first ? 0
				 : info->slab_objects - first >= 64
					 ? ~(uint64_t)0
					 : (((uint64_t)1 << (info->slab_objects - first)) - 1);
		CHECK_OR_CORRUPT(((user | slab->free_bits[word]) & ~valid) == 0, "bit past the last object");
		for (uint32_t bit = 0; bit < 64; bit++)
			free_objects += (uint32_t)((slab->free_bits[word] >> bit) & 1);
	}
	CHECK_OR_CORRUPT(free_objects == slab->free_count, "slab free_count");
	return DBOS_OK;
}

/* 2. The page map: every page belongs to exactly one block, tails point at their head. */
static dbos_status check_page_map(const dbos_alloc_pool *pool, uint64_t *slab_pages_out)
{
	uint64_t used[8] = { 0 };
	uint64_t free_pages = 0, cached = 0;
	uint32_t page = 0;
	while (page < pool->page_total) {
		const struct alloc_page *entry = &pool->pages[page];
		uint8_t kind = atomic_load(&entry->kind);
		uint32_t count = 1;
		if (kind == ALLOC_PAGE_FREE) {
			count = 1u << entry->order;
			free_pages += count;
		} else if (kind == ALLOC_PAGE_CACHED) {
			cached++;
		} else if (kind == ALLOC_PAGE_RUN || kind == ALLOC_PAGE_SLAB || kind == ALLOC_PAGE_ARENA) {
			count = entry->page_count;
			CHECK_OR_CORRUPT(count >= 1 && page + count <= pool->page_total, "block length");
			for (uint32_t tail = page + 1; tail < page + count; tail++) {
				CHECK_OR_CORRUPT(atomic_load(&pool->pages[tail].kind) == ALLOC_PAGE_TAIL &&
							 pool->pages[tail].head == page,
						 "tail does not name its head");
			}
			used[kind] += count;
			if (kind == ALLOC_PAGE_SLAB && check_slab(pool, page) != DBOS_OK)
				return DBOS_ECORRUPT;
		} else {
			CHECK_OR_CORRUPT(false, "a page that starts no block (TAIL, TAKEN or RELEASING at rest)");
		}
		CHECK_OR_CORRUPT(page + count <= pool->page_total, "block past the pool");
		page += count;
	}
	CHECK_OR_CORRUPT(free_pages == pool->pages_free, "free blocks in the map vs pages_free");
	CHECK_OR_CORRUPT(cached == atomic_load(&pool->pages_cached), "cached pages");
	CHECK_OR_CORRUPT(used[ALLOC_PAGE_RUN] == pool->pages_runs, "pages_runs");
	CHECK_OR_CORRUPT(used[ALLOC_PAGE_SLAB] == pool->pages_slabs, "pages_slabs");
	CHECK_OR_CORRUPT(used[ALLOC_PAGE_ARENA] == pool->pages_arenas, "pages_arenas");
	CHECK_OR_CORRUPT(bit_count(pool->resident_bits, 0, pool->page_total) == pool->pages_resident, "pages_resident");
	*slab_pages_out = used[ALLOC_PAGE_SLAB];
	return DBOS_OK;
}

/* 3. Central lists: partial slabs have free objects, counts add up. */
static dbos_status check_central(const dbos_alloc_pool *pool, uint32_t class_index, uint64_t *slab_pages)
{
	const struct alloc_central *central = &pool->central[class_index];
	const struct alloc_class_info *info = &alloc_classes[class_index];
	uint64_t listed = 0, free_objects = 0;
	uint32_t previous = ALLOC_PAGE_NONE;
	for (uint32_t head = central->partial_head; head != ALLOC_PAGE_NONE; head = pool->pages[head].next) {
		CHECK_OR_CORRUPT(listed < pool->page_total && head < pool->page_total, "partial list");
		const struct alloc_page *slab = &pool->pages[head];
		CHECK_OR_CORRUPT(atomic_load(&slab->kind) == ALLOC_PAGE_SLAB && slab->class_index == class_index,
				 "partial list holds a non-slab");
		CHECK_OR_CORRUPT(slab->free_count > 0 && slab->free_count < slab->object_count, "partial slab fill");
		CHECK_OR_CORRUPT(slab->prev == previous, "partial list back link");
		free_objects += slab->free_count;
		listed++;
		previous = head;
	}
	if (central->spare != ALLOC_PAGE_NONE) {
		const struct alloc_page *spare = &pool->pages[central->spare];
		CHECK_OR_CORRUPT(atomic_load(&spare->kind) == ALLOC_PAGE_SLAB &&
					 spare->free_count == spare->object_count,
				 "spare slab not empty");
		free_objects += spare->free_count;
	}
	CHECK_OR_CORRUPT(free_objects == central->objects_free, "objects_free");
	*slab_pages += central->slab_count << info->slab_order;
	return DBOS_OK;
}

dbos_status dbos_alloc_pool_check(dbos_alloc_pool *pool)
{
	if (!pool || pool->magic != ALLOC_POOL_MAGIC)
		return DBOS_EINVAL;
	for (uint32_t class_index = 0; class_index < DBOS_ALLOC_CLASS_COUNT; class_index++)
		alloc_lock_acquire(&pool->central[class_index].lock);
	alloc_lock_acquire(&pool->lock);
	uint64_t slab_pages_map = 0, slab_pages_classes = 0;
	dbos_status status = check_free_lists(pool);
	if (status == DBOS_OK)
		status = check_page_map(pool, &slab_pages_map);
	for (uint32_t class_index = 0; status == DBOS_OK && class_index < DBOS_ALLOC_CLASS_COUNT; class_index++)
		status = check_central(pool, class_index, &slab_pages_classes);
	if (status == DBOS_OK && slab_pages_map != slab_pages_classes) {
		dbos_platform_log(DBOS_LOG_ERROR, "dbos_alloc_pool_check: slab pages vs class slab counts");
		status = DBOS_ECORRUPT;
	}
	alloc_lock_release(&pool->lock);
	for (uint32_t class_index = DBOS_ALLOC_CLASS_COUNT; class_index-- > 0;)
		alloc_lock_release(&pool->central[class_index].lock);
	return status;
}
