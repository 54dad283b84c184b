/* alloc_stats.c - dbos_alloc_stats_get: sum the pool's, the classes' and every slot's counters. */
#include "alloc_internal.h"

static void stats_classes(dbos_alloc_pool *pool, struct dbos_alloc_stats *stats)
{
	for (uint32_t class_index = 0; class_index < DBOS_ALLOC_CLASS_COUNT; class_index++) {
		const struct alloc_class_info *info = &alloc_classes[class_index];
		struct dbos_alloc_class_stats *out = &stats->classes[class_index];
		struct alloc_central *central = &pool->central[class_index];
		out->object_size = info->object_size;
		out->slab_bytes = (uint32_t)(DBOS_PAGE_SIZE << info->slab_order);
		out->slab_objects = info->slab_objects;
		alloc_lock_acquire(&central->lock);
		out->slab_count = central->slab_count;
		out->objects_free = central->objects_free;
		alloc_lock_release(&central->lock);
		int64_t live = atomic_load_explicit(&pool->shared_class_live[class_index], memory_order_relaxed);
		uint64_t cached = 0;
		for (uint32_t slot = 0; slot < pool->slot_count; slot++) {
			live += atomic_load_explicit(&pool->slots[slot].class_live[class_index], memory_order_relaxed);
			/* Read racily on purpose: a cache count is one aligned word. */
			cached += __atomic_load_n(&pool->slots[slot].classes[class_index].count, __ATOMIC_RELAXED);
		}
		out->objects_in_use = live > 0 ? (uint64_t)live : 0;
		out->objects_cached = cached;
		stats->bytes_slabs += out->slab_count * out->slab_bytes;
		stats->bytes_in_use += out->objects_in_use * info->object_size;
	}
}

dbos_status dbos_alloc_stats_get(dbos_alloc_pool *pool, struct dbos_alloc_stats *stats)
{
	if (!pool || pool->magic != ALLOC_POOL_MAGIC || !stats)
		return DBOS_EINVAL;
	__builtin_memset(stats, 0, sizeof(*stats));
	stats->limit_bytes = pool->size;
	stats->pages_total = pool->page_total;
	stats->mechanism = pool->mechanism;
	alloc_lock_acquire(&pool->lock);
	stats->resident_bytes = pool->pages_resident << DBOS_PAGE_SHIFT;
	stats->pages_free = pool->pages_free;
	stats->pages_free_resident = pool->pages_free_resident;
	stats->free_run_pages_max = alloc_buddy_largest_free(pool);
	stats->bytes_runs = pool->pages_runs << DBOS_PAGE_SHIFT;
	stats->bytes_arenas = pool->pages_arenas << DBOS_PAGE_SHIFT;
	stats->pages_used = pool->pages_runs + pool->pages_slabs + pool->pages_arenas;
	stats->release_count = pool->release_count;
	stats->released_bytes = pool->released_pages << DBOS_PAGE_SHIFT;
	alloc_lock_release(&pool->lock);
	stats->pages_cached = atomic_load_explicit(&pool->pages_cached, memory_order_relaxed);
	int64_t requested = atomic_load_explicit(&pool->shared_bytes_requested, memory_order_relaxed);
	stats->alloc_count = atomic_load_explicit(&pool->shared_alloc_count, memory_order_relaxed);
	stats->free_count = atomic_load_explicit(&pool->shared_free_count, memory_order_relaxed);
	for (uint32_t slot = 0; slot < pool->slot_count; slot++) {
		requested += atomic_load_explicit(&pool->slots[slot].bytes_requested, memory_order_relaxed);
		stats->alloc_count += atomic_load_explicit(&pool->slots[slot].alloc_count, memory_order_relaxed);
		stats->free_count += atomic_load_explicit(&pool->slots[slot].free_count, memory_order_relaxed);
	}
	stats->bytes_requested = requested > 0 ? (uint64_t)requested : 0;
	stats->invalid_free_count = atomic_load_explicit(&pool->invalid_free_count, memory_order_relaxed);
	stats->bytes_in_use = stats->bytes_runs;
	stats_classes(pool, stats);
	return DBOS_OK;
}

dbos_status dbos_alloc_trim(dbos_alloc_pool *pool, size_t keep_bytes, size_t *released_bytes_out)
{
	if (!pool || pool->magic != ALLOC_POOL_MAGIC)
		return DBOS_EINVAL;
	/* The caller's cached pages count as free memory too. */
	struct alloc_slot *slot = alloc_slot_of_caller(pool);
	if (slot)
		alloc_pages_flush_slot(pool, slot);
	uint64_t released = alloc_pages_release(pool, keep_bytes >> DBOS_PAGE_SHIFT);
	if (released_bytes_out)
		*released_bytes_out = (size_t)(released << DBOS_PAGE_SHIFT);
	return DBOS_OK;
}
