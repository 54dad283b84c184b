/*
 * alloc_arena.c - arenas: bump allocation over page chunks, freed together.
 *
 * Chunks are page runs of kind ARENA chained newest-first through the page
 * map (pages[head].next), so the arena itself is a few words the caller owns.
 * Reset walks the chain once and gives every chunk back under one pool lock.
 */
#include "alloc_internal.h"

#define ARENA_CHUNK_BYTES_DEFAULT (64u * 1024u)
#define ARENA_GIVE_BATCH 64u

_Static_assert(DBOS_ALLOC_ARENA_ALIGNMENT_MAX == DBOS_PAGE_SIZE,
	       "chunks are page runs: a page is the alignment they give");

static bool arena_valid(const struct dbos_alloc_arena *arena)
{
	return arena && arena->magic == ALLOC_ARENA_MAGIC && arena->pool && arena->pool->magic == ALLOC_POOL_MAGIC;
}

dbos_status dbos_alloc_arena_init(struct dbos_alloc_arena *arena, dbos_alloc_pool *pool, size_t chunk_bytes)
{
	if (!arena || !pool || pool->magic != ALLOC_POOL_MAGIC || chunk_bytes > pool->size)
		return DBOS_EINVAL;
	__builtin_memset(arena, 0, sizeof(*arena));
	arena->pool = pool;
	arena->chunk_bytes = DBOS_ALIGN_UP(chunk_bytes ? chunk_bytes : ARENA_CHUNK_BYTES_DEFAULT, DBOS_PAGE_SIZE);
	arena->chunk_newest = ALLOC_PAGE_NONE;
	arena->magic = ALLOC_ARENA_MAGIC;
	return DBOS_OK;
}

static dbos_status arena_grow(struct dbos_alloc_arena *arena, size_t size)
{
	dbos_alloc_pool *pool = arena->pool;
	/* Room for the request at the worst alignment, and never less than a default chunk. */
	size_t need = DBOS_ALIGN_UP(size + DBOS_ALLOC_ARENA_ALIGNMENT_MAX, DBOS_PAGE_SIZE);
	size_t bytes = need > arena->chunk_bytes ? need : arena->chunk_bytes;
	if (bytes > pool->size || !alloc_memory_fits(bytes))
		return DBOS_ENOMEM;
	uint32_t head;
	bool fresh;
	dbos_status status =
		alloc_pages_take(pool, (uint32_t)(bytes >> DBOS_PAGE_SHIFT), ALLOC_PAGE_ARENA, &head, &fresh);
	if (status != DBOS_OK)
		return status;
	pool->pages[head].next = arena->chunk_newest;
	arena->chunk_newest = head;
	arena->chunk_count++;
	arena->bytes_chunks += bytes;
	arena->cursor = alloc_page_address(pool, head);
	arena->end = arena->cursor + bytes;
	return DBOS_OK;
}

dbos_status dbos_alloc_arena_alloc(struct dbos_alloc_arena *arena, size_t size, size_t alignment, uint32_t flags,
				   void **address_out)
{
	if (!arena_valid(arena) || !address_out || size == 0 || (flags & ~DBOS_ALLOC_ZERO))
		return DBOS_EINVAL;
	if (alignment == 0)
		alignment = DBOS_ALLOC_ALIGNMENT;
	if (!DBOS_IS_POWER_OF_TWO(alignment) || alignment > DBOS_ALLOC_ARENA_ALIGNMENT_MAX)
		return DBOS_EINVAL;
	if (size > arena->pool->size)
		return DBOS_ENOMEM;
	uintptr_t start = DBOS_ALIGN_UP(arena->cursor, alignment);
	if (arena->chunk_newest == ALLOC_PAGE_NONE || start > arena->end || arena->end - start < size) {
		dbos_status status = arena_grow(arena, size);
		if (status != DBOS_OK)
			return status;
		start = DBOS_ALIGN_UP(arena->cursor, alignment);
	}
	DBOS_ASSERT(start + size <= arena->end);
	arena->cursor = start + size;
	arena->bytes_requested += size;
	/* Chunks are reused memory: zero only on request. */
	if (flags & DBOS_ALLOC_ZERO)
		__builtin_memset((void *)start, 0, size);
	*address_out = (void *)start;
	return DBOS_OK;
}

void dbos_alloc_arena_reset(struct dbos_alloc_arena *arena)
{
	if (!arena_valid(arena))
		return;
	dbos_alloc_pool *pool = arena->pool;
	uint32_t heads[ARENA_GIVE_BATCH];
	uint32_t count = 0;
	uint32_t chunk = arena->chunk_newest;
	/* Bounded by the chunk count the arena recorded. */
	for (uint32_t visited = 0; chunk != ALLOC_PAGE_NONE; visited++) {
		DBOS_ASSERT(visited < arena->chunk_count);
		DBOS_ASSERT(atomic_load_explicit(&pool->pages[chunk].kind, memory_order_relaxed) == ALLOC_PAGE_ARENA);
		heads[count++] = chunk;
		chunk = pool->pages[chunk].next;
		if (count == ARENA_GIVE_BATCH) {
			alloc_pages_give_many(pool, alloc_slot_of_caller(pool), heads, count);
			count = 0;
		}
	}
	if (count)
		alloc_pages_give_many(pool, alloc_slot_of_caller(pool), heads, count);
	arena->chunk_newest = ALLOC_PAGE_NONE;
	arena->chunk_count = 0;
	arena->cursor = arena->end = 0;
	arena->bytes_requested = 0;
	arena->bytes_chunks = 0;
}

void dbos_alloc_arena_fini(struct dbos_alloc_arena *arena)
{
	if (!arena_valid(arena))
		return;
	dbos_alloc_arena_reset(arena);
	arena->magic = 0;
}
