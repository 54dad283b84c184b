/*
 * alloc_object.c - dbos_alloc / dbos_alloc_free: the per-slot fast paths.
 *
 * Allocation pops an object from the caller's cache for its class and sets
 * the object's user bit; free checks address, alignment and class, clears the
 * user bit with one atomic and-not (which is also the double-free check), and
 * pushes the object on the caller's cache.  Caches refill and spill half their
 * capacity at a time through the class lock.
 */
#include "alloc_internal.h"

struct alloc_slot *alloc_slot_of_caller(dbos_alloc_pool *pool)
{
	uint32_t index = dbos_alloc_slot_current();
	return index < pool->slot_count ? &pool->slots[index] : (struct alloc_slot *)0;
}

/* Owner-only counters: a relaxed load and store, readable by stats from any thread. */
static inline void slot_add(_Atomic int64_t *counter, int64_t delta)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + delta,
			      memory_order_relaxed);
}

static inline void slot_increment(_Atomic uint64_t *counter)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1, memory_order_relaxed);
}

static void count_alloc(dbos_alloc_pool *pool, struct alloc_slot *slot, int class_index, size_t size)
{
	if (slot) {
		if (class_index >= 0)
			slot_add(&slot->class_live[class_index], 1);
		slot_add(&slot->bytes_requested, (int64_t)size);
		slot_increment(&slot->alloc_count);
	} else {
		if (class_index >= 0)
			atomic_fetch_add_explicit(&pool->shared_class_live[class_index], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&pool->shared_bytes_requested, (int64_t)size, memory_order_relaxed);
		atomic_fetch_add_explicit(&pool->shared_alloc_count, 1, memory_order_relaxed);
	}
}

static void count_free(dbos_alloc_pool *pool, struct alloc_slot *slot, uint32_t class_index, size_t size)
{
	if (slot) {
		slot_add(&slot->class_live[class_index], -1);
		slot_add(&slot->bytes_requested, -(int64_t)size);
		slot_increment(&slot->free_count);
	} else {
		atomic_fetch_sub_explicit(&pool->shared_class_live[class_index], 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(&pool->shared_bytes_requested, (int64_t)size, memory_order_relaxed);
		atomic_fetch_add_explicit(&pool->shared_free_count, 1, memory_order_relaxed);
	}
}

static bool valid_pool(const dbos_alloc_pool *pool)
{
	return pool && pool->magic == ALLOC_POOL_MAGIC;
}

/* ---- Page runs ------------------------------------------------------------------ */

static dbos_status run_alloc(dbos_alloc_pool *pool, size_t page_count, size_t requested, uint32_t flags,
			     void **address_out)
{
	if (page_count > pool->page_total || !alloc_memory_fits((uint64_t)page_count << DBOS_PAGE_SHIFT))
		return DBOS_ENOMEM;
	struct alloc_slot *slot = alloc_slot_of_caller(pool);
	uint32_t head;
	bool fresh = false;
	dbos_status status = page_count == 1
				     ? alloc_pages_take_single(pool, slot, ALLOC_PAGE_RUN, &head)
				     : alloc_pages_take(pool, (uint32_t)page_count, ALLOC_PAGE_RUN, &head, &fresh);
	if (status != DBOS_OK)
		return status;
	pool->pages[head].requested_bytes = requested;
	void *address = (void *)alloc_page_address(pool, head);
	/* Never-touched or released pages already read as zeros. */
	if ((flags & DBOS_ALLOC_ZERO) && !fresh)
		__builtin_memset(address, 0, page_count << DBOS_PAGE_SHIFT);
	count_alloc(pool, slot, -1, requested);
	*address_out = address;
	return DBOS_OK;
}

dbos_status dbos_alloc_pages(dbos_alloc_pool *pool, size_t page_count, uint32_t flags, void **address_out)
{
	if (!valid_pool(pool) || !address_out || page_count == 0 || (flags & ~DBOS_ALLOC_ZERO))
		return DBOS_EINVAL;
	return run_alloc(pool, page_count, page_count << DBOS_PAGE_SHIFT, flags, address_out);
}

/* ---- Objects -------------------------------------------------------------------- */

/* Hand an object to the caller: its user bit must have been clear. */
static void object_claim(dbos_alloc_pool *pool, void *object)
{
	uintptr_t address = (uintptr_t)object;
	uint32_t head = alloc_pool_block_of(pool, address);
	DBOS_ASSERT(head != ALLOC_PAGE_NONE);
	bool aligned;
	uint32_t index = alloc_slab_object_index(pool, head, address, &aligned);
	DBOS_ASSERT(aligned);
	uint64_t mask = (uint64_t)1 << (index & 63);
	uint64_t before =
		atomic_fetch_or_explicit(&pool->pages[head].user_bits[index >> 6], mask, memory_order_acq_rel);
	DBOS_ASSERT((before & mask) == 0);
}

dbos_status dbos_alloc(dbos_alloc_pool *pool, size_t size, uint32_t flags, void **address_out)
{
	if (!valid_pool(pool) || !address_out || size == 0 || (flags & ~DBOS_ALLOC_ZERO))
		return DBOS_EINVAL;
	if (size > pool->size)
		return DBOS_ENOMEM; /* also keeps the page rounding below from overflowing */
	if (size > DBOS_ALLOC_OBJECT_SIZE_MAX)
		return run_alloc(pool, DBOS_ALIGN_UP(size, DBOS_PAGE_SIZE) >> DBOS_PAGE_SHIFT, size, flags,
				 address_out);
	uint32_t class_index = alloc_class_index(size);
	struct alloc_slot *slot = alloc_slot_of_caller(pool);
	void *object;
	if (slot) {
		struct alloc_cache_class *cache = &slot->classes[class_index];
		if (cache->count == 0) {
			cache->count = alloc_slab_refill(pool, class_index, cache->objects, cache->capacity / 2);
			if (cache->count == 0)
				return DBOS_ENOMEM;
		}
		object = cache->objects[--cache->count];
	} else if (alloc_slab_refill(pool, class_index, &object, 1) == 0) {
		return DBOS_ENOMEM;
	}
	object_claim(pool, object);
	if (flags & DBOS_ALLOC_ZERO)
		__builtin_memset(object, 0, size);
	count_alloc(pool, slot, (int)class_index, size);
	*address_out = object;
	return DBOS_OK;
}

static dbos_status object_free(dbos_alloc_pool *pool, uint32_t head, uintptr_t address, size_t size)
{
	struct alloc_page *slab = &pool->pages[head];
	uint32_t class_index = slab->class_index;
	bool aligned;
	uint32_t index = alloc_slab_object_index(pool, head, address, &aligned);
	if (!aligned)
		return DBOS_EINVAL;
	if (size != 0 && (size > DBOS_ALLOC_OBJECT_SIZE_MAX || alloc_class_index(size) != class_index))
		return DBOS_EINVAL;
	uint64_t mask = (uint64_t)1 << (index & 63);
	uint64_t before = atomic_fetch_and_explicit(&slab->user_bits[index >> 6], ~mask, memory_order_acq_rel);
	if ((before & mask) == 0)
		return DBOS_EINVAL; /* not allocated: a double free or a never-handed-out object */
	uint32_t object_size = alloc_classes[class_index].object_size;
	if (pool->flags & DBOS_ALLOC_POOL_JUNK)
		__builtin_memset((void *)address, ALLOC_JUNK_BYTE, object_size);
	struct alloc_slot *slot = alloc_slot_of_caller(pool);
	void *object = (void *)address;
	if (slot) {
		struct alloc_cache_class *cache = &slot->classes[class_index];
		if (cache->count == cache->capacity) {
			/* Spill the older half; the newest objects stay, they are warm in the CPU cache. */
			uint32_t half = cache->capacity / 2;
			alloc_slab_flush(pool, class_index, cache->objects, half);
			for (uint32_t i = half; i < cache->count; i++)
				cache->objects[i - half] = cache->objects[i];
			cache->count -= half;
		}
		cache->objects[cache->count++] = object;
	} else {
		alloc_slab_flush(pool, class_index, &object, 1);
	}
	count_free(pool, slot, class_index, size ? size : object_size);
	return DBOS_OK;
}

dbos_status dbos_alloc_free(dbos_alloc_pool *pool, void *address, size_t size)
{
	if (!valid_pool(pool))
		return DBOS_EINVAL;
	uintptr_t value = (uintptr_t)address;
	dbos_status status = DBOS_EINVAL;
	uint32_t head = value >= pool->base && value - pool->base < pool->size ? alloc_pool_block_of(pool, value)
									       : ALLOC_PAGE_NONE;
	if (head != ALLOC_PAGE_NONE) {
		struct alloc_page *entry = &pool->pages[head];
		uint8_t kind = atomic_load_explicit(&entry->kind, memory_order_acquire);
		if (kind == ALLOC_PAGE_SLAB) {
			status = object_free(pool, head, value, size);
		} else if (kind == ALLOC_PAGE_RUN && value == alloc_page_address(pool, head) &&
			   (size == 0 || DBOS_ALIGN_UP(size, DBOS_PAGE_SIZE) >> DBOS_PAGE_SHIFT == entry->page_count)) {
			status = alloc_pages_free_run(pool, alloc_slot_of_caller(pool), head);
		}
	}
	if (status != DBOS_OK)
		atomic_fetch_add_explicit(&pool->invalid_free_count, 1, memory_order_relaxed);
	return status;
}

size_t dbos_alloc_usable_size(const dbos_alloc_pool *pool, const void *address)
{
	if (!valid_pool(pool))
		return 0;
	uintptr_t value = (uintptr_t)address;
	if (value < pool->base || value - pool->base >= pool->size)
		return 0;
	uint32_t head = alloc_pool_block_of(pool, value);
	if (head == ALLOC_PAGE_NONE)
		return 0;
	const struct alloc_page *entry = &pool->pages[head];
	uint8_t kind = atomic_load_explicit(&entry->kind, memory_order_acquire);
	if (kind == ALLOC_PAGE_RUN && value == alloc_page_address(pool, head))
		return (size_t)entry->page_count << DBOS_PAGE_SHIFT;
	if (kind != ALLOC_PAGE_SLAB)
		return 0;
	bool aligned;
	uint32_t index = alloc_slab_object_index(pool, head, value, &aligned);
	if (!aligned)
		return 0;
	uint64_t bits = atomic_load_explicit(&entry->user_bits[index >> 6], memory_order_acquire);
	return (bits >> (index & 63)) & 1 ? alloc_classes[entry->class_index].object_size : 0;
}

void alloc_slot_flush(dbos_alloc_pool *pool, struct alloc_slot *slot)
{
	for (uint32_t class_index = 0; class_index < DBOS_ALLOC_CLASS_COUNT; class_index++) {
		struct alloc_cache_class *cache = &slot->classes[class_index];
		if (cache->count) {
			alloc_slab_flush(pool, class_index, cache->objects, cache->count);
			cache->count = 0;
		}
	}
	alloc_pages_flush_slot(pool, slot);
}

void dbos_alloc_thread_flush(dbos_alloc_pool *pool)
{
	if (!valid_pool(pool))
		return;
	struct alloc_slot *slot = alloc_slot_of_caller(pool);
	if (slot)
		alloc_slot_flush(pool, slot);
}
