/*
 * alloc_pool.c - creating and destroying a pool, and the page-map lookup.
 *
 * Creation, in order: reserve exactly limit_bytes (2 MiB aligned so THP can
 * back it), commit it read-write (no memory yet: pages materialise on touch),
 * advise huge pages, pre-fault the first prefault_bytes with one populate
 * call, then hand every page to the buddy allocator, resident ones on the
 * resident free lists.
 */
#include "alloc_internal.h"

uint32_t alloc_pool_block_of(const dbos_alloc_pool *pool, uintptr_t address)
{
	uint32_t page = (uint32_t)((address - pool->base) >> DBOS_PAGE_SHIFT);
	DBOS_ASSERT(page < pool->page_total);
	const struct alloc_page *entry = &pool->pages[page];
	uint8_t kind = atomic_load_explicit(&entry->kind, memory_order_acquire);
	uint32_t head = page;
	if (kind == ALLOC_PAGE_TAIL) {
		/* A tail may be stale (inside a free block): the head must be live and reach this page. */
		head = entry->head;
		if (head >= page)
			return ALLOC_PAGE_NONE;
		kind = atomic_load_explicit(&pool->pages[head].kind, memory_order_acquire);
		if (page - head >= pool->pages[head].page_count)
			return ALLOC_PAGE_NONE;
	}
	if (kind == ALLOC_PAGE_RUN || kind == ALLOC_PAGE_SLAB || kind == ALLOC_PAGE_ARENA)
		return head;
	return ALLOC_PAGE_NONE;
}

void dbos_alloc_pool_range(const dbos_alloc_pool *pool, void **base_out, size_t *size_out)
{
	DBOS_ASSERT(pool && pool->magic == ALLOC_POOL_MAGIC);
	*base_out = (void *)pool->base;
	*size_out = pool->size;
}

_Static_assert(sizeof(struct alloc_slot) % DBOS_CACHE_LINE_SIZE == 0, "slots never share a cache line");
_Static_assert(DBOS_ALLOC_LIMIT_BYTES_MIN == DBOS_HUGE_PAGE_SIZE, "the smallest pool is one huge page");

/* Slots plus room to align them to a cache line (they are written by different threads). */
static size_t slots_bytes(const dbos_alloc_pool *pool)
{
	return (size_t)pool->slot_count * sizeof(struct alloc_slot) + DBOS_CACHE_LINE_SIZE;
}

static void pool_free_control(dbos_alloc_pool *pool)
{
	if (pool->slots_memory)
		dbos_platform_free(pool->slots_memory, slots_bytes(pool));
	if (pool->resident_bits)
		dbos_platform_free(pool->resident_bits, ((size_t)pool->page_total + 63) / 64 * sizeof(uint64_t));
	if (pool->pages)
		dbos_platform_free(pool->pages, (size_t)pool->page_total * sizeof(struct alloc_page));
	dbos_platform_free(pool->pool_memory, sizeof(*pool) + DBOS_CACHE_LINE_SIZE);
}

static dbos_status pool_control_init(dbos_alloc_pool *pool)
{
	pool->pages = dbos_platform_alloc((size_t)pool->page_total * sizeof(struct alloc_page));
	pool->resident_bits = dbos_platform_alloc(((size_t)pool->page_total + 63) / 64 * sizeof(uint64_t));
	pool->slots_memory = dbos_platform_alloc(slots_bytes(pool));
	if (!pool->pages || !pool->resident_bits || !pool->slots_memory)
		return DBOS_ENOMEM;
	pool->slots = (struct alloc_slot *)DBOS_ALIGN_UP((uintptr_t)pool->slots_memory, DBOS_CACHE_LINE_SIZE);
	for (uint32_t order = 0; order < ALLOC_ORDER_COUNT; order++)
		pool->free_heads[0][order] = pool->free_heads[1][order] = ALLOC_PAGE_NONE;
	for (uint32_t class_index = 0; class_index < DBOS_ALLOC_CLASS_COUNT; class_index++) {
		pool->central[class_index].partial_head = ALLOC_PAGE_NONE;
		pool->central[class_index].spare = ALLOC_PAGE_NONE;
	}
	for (uint32_t slot = 0; slot < pool->slot_count; slot++) {
		for (uint32_t class_index = 0; class_index < DBOS_ALLOC_CLASS_COUNT; class_index++)
			pool->slots[slot].classes[class_index].capacity = alloc_classes[class_index].cache_capacity;
	}
	return DBOS_OK;
}

static dbos_status pool_memory_init(dbos_alloc_pool *pool, size_t prefault_bytes)
{
	void *base;
	dbos_status status = dbos_platform_reserve(pool->size, DBOS_HUGE_PAGE_SIZE, &base);
	if (status != DBOS_OK)
		return status;
	pool->base = (uintptr_t)base;
	status = dbos_platform_commit(base, pool->size, DBOS_PROT_READ_WRITE);
	if (status != DBOS_OK) {
		dbos_platform_unreserve(base, pool->size);
		return status;
	}
	if (pool->flags & DBOS_ALLOC_POOL_HUGEPAGES)
		pool->mechanism.hugepages = dbos_platform_advise(base, pool->size, DBOS_ADVICE_HUGEPAGE) == DBOS_OK;
	size_t prefault = DBOS_ALIGN_DOWN(prefault_bytes, DBOS_PAGE_SIZE);
	/* Probe populate on one page even without a prefault, so the mechanism is known. */
	size_t probe = prefault ? prefault : DBOS_PAGE_SIZE;
	pool->mechanism.populate = dbos_platform_advise(base, probe, DBOS_ADVICE_POPULATE_WRITE) == DBOS_OK;
	if (prefault) {
		if (!pool->mechanism.populate) {
			/* Touch one byte per page: slower, same result. */
			for (size_t offset = 0; offset < prefault; offset += DBOS_PAGE_SIZE)
				*(volatile uint8_t *)(pool->base + offset) = 0;
		}
		alloc_buddy_mark_resident(pool, 0, (uint32_t)(prefault >> DBOS_PAGE_SHIFT));
	} else if (pool->mechanism.populate) {
		alloc_buddy_mark_resident(pool, 0, 1);
	}
	return DBOS_OK;
}

dbos_status dbos_alloc_pool_create(const struct dbos_alloc_config *config, dbos_alloc_pool **pool_out)
{
	if (!config || !pool_out)
		return DBOS_EINVAL;
	size_t size = DBOS_ALIGN_DOWN(config->limit_bytes, DBOS_PAGE_SIZE);
	uint32_t known_flags = DBOS_ALLOC_POOL_HUGEPAGES | DBOS_ALLOC_POOL_POPULATE | DBOS_ALLOC_POOL_JUNK |
			       DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE;
	if (size < DBOS_ALLOC_LIMIT_BYTES_MIN || (size >> DBOS_PAGE_SHIFT) >= ALLOC_PAGE_NONE ||
	    config->prefault_bytes > size || (config->flags & ~known_flags) ||
	    config->cache_slot_count > ALLOC_SLOT_COUNT_MAX)
		return DBOS_EINVAL;
	if (!alloc_memory_fits(config->prefault_bytes))
		return DBOS_ENOMEM; /* pre-faulting it would exhaust the machine */
	/* Aligned by hand: the pool's locks and class heads sit on their own cache lines. */
	void *pool_memory = dbos_platform_alloc(sizeof(dbos_alloc_pool) + DBOS_CACHE_LINE_SIZE);
	if (!pool_memory)
		return DBOS_ENOMEM;
	dbos_alloc_pool *pool = (dbos_alloc_pool *)DBOS_ALIGN_UP((uintptr_t)pool_memory, DBOS_CACHE_LINE_SIZE);
	pool->pool_memory = pool_memory;
	pool->flags = config->flags;
	pool->size = size;
	pool->page_total = (uint32_t)(size >> DBOS_PAGE_SHIFT);
	pool->slot_count = config->cache_slot_count ? config->cache_slot_count : ALLOC_SLOT_COUNT_DEFAULT;
	pool->retain_pages = config->retain_bytes >> DBOS_PAGE_SHIFT;
	dbos_status status = pool_control_init(pool);
	if (status == DBOS_OK)
		status = pool_memory_init(pool, config->prefault_bytes);
	if (status != DBOS_OK) {
		pool_free_control(pool);
		return status;
	}
	alloc_buddy_give_range(pool, 0, pool->page_total);
	DBOS_ASSERT(pool->pages_free == pool->page_total);
	pool->magic = ALLOC_POOL_MAGIC;
	*pool_out = pool;
	return DBOS_OK;
}

void dbos_alloc_pool_destroy(dbos_alloc_pool *pool)
{
	if (!pool)
		return;
	DBOS_ASSERT(pool->magic == ALLOC_POOL_MAGIC);
	pool->magic = 0;
	if (pool->flags & DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE)
		(void)dbos_platform_commit((void *)pool->base, pool->size,
					   DBOS_PROT_READ_WRITE); /* zero pages, RAM freed */
	else
		dbos_platform_unreserve((void *)pool->base, pool->size);
	pool_free_control(pool);
}
