/*
 * alloc_cases.h - @dbos/alloc's conformance cases, written once and run on
 * both runtimes:
 *
 *   host   test/c/test_alloc_conformance.c, linked with csrc/ + csrc/host/
 *          (one "ok NAME" line, so one vitest test, per case)
 *   guest  test/guest/alloc_guest.c, entry points of a test guest image
 *          built with csrc/ + csrc/guest/ (test/guest.test.ts runs one
 *          vitest test per case)
 *
 * A case uses only dbos/alloc.h and dbos/platform.h (the guest has no libc,
 * no threads), returns 0 when every check held, else the line of this file
 * whose check failed.  Cases that need threads, mincore() or the pool's
 * internals stay in test/c/test_alloc.c (host only).
 *
 * The pool a case creates goes into its alloc_case_objects; alloc_case_run()
 * destroys it whether the case passed or not, so one failure cannot leak
 * memory into the cases after it in the same guest.
 */
#ifndef DBOS_ALLOC_CASES_H
#define DBOS_ALLOC_CASES_H

#include "dbos/alloc.h"
#include "dbos/platform.h"

struct alloc_case_objects {
	dbos_alloc_pool *pool;
};

typedef int64_t (*alloc_case_fn)(struct alloc_case_objects *objects);

struct alloc_case {
	const char *name;
	alloc_case_fn run;
};

/* A failed check ends the case with the line it sits on. */
#define ALLOC_CHECK(cond)                \
	do {                             \
		if (!(cond))             \
			return __LINE__; \
	} while (0)

#define ALLOC_CASE_MIB ((size_t)1 << 20)

/* A pool owned by the case's objects (destroyed by alloc_case_run), or NULL. */
static inline dbos_alloc_pool *alloc_case_pool(struct alloc_case_objects *objects, size_t limit, size_t prefault,
					       size_t retain, uint32_t flags)
{
	struct dbos_alloc_config config = {
		.limit_bytes = limit, .prefault_bytes = prefault, .retain_bytes = retain, .flags = flags
	};
	if (dbos_alloc_pool_create(&config, &objects->pool) != DBOS_OK)
		objects->pool = 0;
	return objects->pool;
}

/* Large enough for a guest's small stack to stay out of it. */
static struct dbos_alloc_stats alloc_case_stats;

/* ---- Cases ------------------------------------------------------------- */

/* The size classes: ascending, aligned, bounded spacing, cache capacities. */
static int64_t alloc_case_size_classes(struct alloc_case_objects *objects)
{
	(void)objects;
	uint32_t previous = 0;
	for (uint32_t c = 0; c < DBOS_ALLOC_CLASS_COUNT; c++) {
		uint32_t size = dbos_alloc_class_size(c);
		ALLOC_CHECK(size > previous && size % DBOS_ALLOC_ALIGNMENT == 0);
		ALLOC_CHECK(dbos_alloc_class_of(size) == (int)c);
		ALLOC_CHECK(dbos_alloc_class_of(previous + 1) == (int)c);
		/* Spacing: 16 B up to 128 B, then at most 25 % of the size (bounded internal waste). */
		ALLOC_CHECK(size <= 128 ? size - previous == 16 : (size - previous) * 4 <= previous);
		/* A thread caches 256 KiB worth of a class, at least 4 and at most 128 objects. */
		uint32_t capacity = (256u * 1024u) / size;
		capacity = capacity < 4 ? 4 : capacity > 128 ? 128 : capacity;
		ALLOC_CHECK(dbos_alloc_class_cache_capacity(c) == capacity);
		previous = size;
	}
	ALLOC_CHECK(previous == DBOS_ALLOC_OBJECT_SIZE_MAX);
	ALLOC_CHECK(dbos_alloc_class_size(DBOS_ALLOC_CLASS_COUNT) == 0);
	ALLOC_CHECK(dbos_alloc_class_cache_capacity(DBOS_ALLOC_CLASS_COUNT) == 0);
	ALLOC_CHECK(dbos_alloc_class_of(0) == -1);
	ALLOC_CHECK(dbos_alloc_class_of(DBOS_ALLOC_OBJECT_SIZE_MAX + 1) == -1);
	ALLOC_CHECK(dbos_alloc_class_of(1) == 0);
	ALLOC_CHECK(dbos_alloc_class_of(17) == 1);
	return 0;
}

/* Every class boundary (size - 1, size, size + 1) and a page run: served in the pool, apart, freed. */
static int64_t alloc_case_every_class_boundary(struct alloc_case_objects *objects)
{
	dbos_alloc_pool *pool =
		alloc_case_pool(objects, 16 * ALLOC_CASE_MIB, 0, 16 * ALLOC_CASE_MIB, DBOS_ALLOC_POOL_POPULATE);
	ALLOC_CHECK(pool);
	void *base;
	size_t pool_size;
	dbos_alloc_pool_range(pool, &base, &pool_size);
	static size_t sizes[3 * DBOS_ALLOC_CLASS_COUNT + 2];
	static void *pointers[3 * DBOS_ALLOC_CLASS_COUNT + 2];
	size_t count = 0;
	for (uint32_t c = 0; c < DBOS_ALLOC_CLASS_COUNT; c++) {
		uint32_t size = dbos_alloc_class_size(c);
		sizes[count++] = size - 1;
		sizes[count++] = size;
		sizes[count++] = size + 1;
	}
	sizes[count++] = 1;
	sizes[count++] = DBOS_ALLOC_OBJECT_SIZE_MAX + 4096 + 1;
	for (size_t i = 0; i < count; i++) {
		ALLOC_CHECK(dbos_alloc(pool, sizes[i], 0, &pointers[i]) == DBOS_OK);
		uintptr_t p = (uintptr_t)pointers[i];
		ALLOC_CHECK(p >= (uintptr_t)base && p + sizes[i] <= (uintptr_t)base + pool_size);
		ALLOC_CHECK(DBOS_IS_ALIGNED(p, DBOS_ALLOC_ALIGNMENT));
		size_t usable = dbos_alloc_usable_size(pool, pointers[i]);
		ALLOC_CHECK(usable >= sizes[i]);
		if (sizes[i] > DBOS_ALLOC_OBJECT_SIZE_MAX)
			ALLOC_CHECK(DBOS_IS_ALIGNED(p, DBOS_PAGE_SIZE) &&
				    usable == DBOS_ALIGN_UP(sizes[i], DBOS_PAGE_SIZE));
		else
			ALLOC_CHECK(usable == dbos_alloc_class_size((uint32_t)dbos_alloc_class_of(sizes[i])));
		__builtin_memset(pointers[i], (int)(i & 0xff), sizes[i]);
	}
	/* No two allocations overlap: each still holds its own fill. */
	for (size_t i = 0; i < count; i++) {
		const unsigned char *bytes = pointers[i];
		ALLOC_CHECK(bytes[0] == (i & 0xff) && bytes[sizes[i] - 1] == (i & 0xff));
	}
	struct dbos_alloc_stats *stats = &alloc_case_stats;
	ALLOC_CHECK(dbos_alloc_stats_get(pool, stats) == DBOS_OK);
	size_t requested = 0;
	for (size_t i = 0; i < count; i++)
		requested += sizes[i];
	ALLOC_CHECK(stats->bytes_requested == requested);
	ALLOC_CHECK(stats->alloc_count == count);
	ALLOC_CHECK(stats->bytes_in_use >= requested);
	for (size_t i = 0; i < count; i++)
		ALLOC_CHECK(dbos_alloc_free(pool, pointers[i], sizes[i]) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_stats_get(pool, stats) == DBOS_OK);
	ALLOC_CHECK(stats->bytes_requested == 0 && stats->bytes_in_use == 0);
	ALLOC_CHECK(stats->free_count == count);
	ALLOC_CHECK(dbos_alloc_pool_check(pool) == DBOS_OK);
	return 0;
}

/* Allocations of 1 .. 80 KiB (step 97), three rounds of reuse: zeroed when asked, freed, the pool checks out. */
static int64_t alloc_case_churn_zeroed(struct alloc_case_objects *objects)
{
	dbos_alloc_pool *pool = alloc_case_pool(objects, 16 * ALLOC_CASE_MIB, 0, 0, DBOS_ALLOC_POOL_POPULATE);
	ALLOC_CHECK(pool);
	for (uint64_t round = 0; round < 3; round++) {
		for (size_t size = 1; size <= 80 * 1024; size += 97) {
			void *address = 0;
			ALLOC_CHECK(dbos_alloc(pool, size, DBOS_ALLOC_ZERO, &address) == DBOS_OK);
			volatile uint8_t *bytes = address;
			ALLOC_CHECK(bytes[0] == 0 && bytes[size / 2] == 0 && bytes[size - 1] == 0);
			bytes[0] = (uint8_t)(round + 1);
			bytes[size / 2] = 0xff;
			bytes[size - 1] = (uint8_t)(size | 1);
			ALLOC_CHECK(dbos_alloc_free(pool, address, size) == DBOS_OK);
		}
	}
	ALLOC_CHECK(dbos_alloc_pool_check(pool) == DBOS_OK);
	return 0;
}

/* Frees of what was never handed out, or no longer is, are DBOS_EINVAL and counted; bad arguments too. */
static int64_t alloc_case_invalid_frees_are_refused(struct alloc_case_objects *objects)
{
	dbos_alloc_pool *pool = alloc_case_pool(objects, 8 * ALLOC_CASE_MIB, 0, 8 * ALLOC_CASE_MIB, 0);
	ALLOC_CHECK(pool);
	void *object, *run, *pages;
	ALLOC_CHECK(dbos_alloc(pool, 100, 0, &object) == DBOS_OK); /* class 112 */
	ALLOC_CHECK(dbos_alloc(pool, 100000, 0, &run) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_pages(pool, 3, 0, &pages) == DBOS_OK);
	int on_stack;
	ALLOC_CHECK(dbos_alloc_free(pool, 0, 0) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_free(pool, &on_stack, 0) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_free(pool, (char *)object + 8, 0) == DBOS_EINVAL);   /* inside an object */
	ALLOC_CHECK(dbos_alloc_free(pool, (char *)object + 112, 0) == DBOS_EINVAL); /* a neighbour never handed out */
	ALLOC_CHECK(dbos_alloc_free(pool, object, 200) == DBOS_EINVAL);             /* wrong class */
	ALLOC_CHECK(dbos_alloc_free(pool, (char *)run + 4096, 0) == DBOS_EINVAL);   /* inside a run */
	ALLOC_CHECK(dbos_alloc_free(pool, run, 4096) == DBOS_EINVAL);               /* wrong run size */
	ALLOC_CHECK(dbos_alloc_free(pool, (char *)pages + 3 * 4096, 0) == DBOS_EINVAL); /* after the run */
	ALLOC_CHECK(dbos_alloc_free(pool, object, 100) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_free(pool, object, 100) == DBOS_EINVAL); /* double free, object in the cache */
	ALLOC_CHECK(dbos_alloc_free(pool, object, 0) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_usable_size(pool, object) == 0);
	ALLOC_CHECK(dbos_alloc_free(pool, run, 100000) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_free(pool, run, 0) == DBOS_EINVAL); /* double free of a run */
	ALLOC_CHECK(dbos_alloc_free(pool, pages, 3 * 4096) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_free(pool, pages, 0) == DBOS_EINVAL);
	dbos_alloc_thread_flush(pool);
	ALLOC_CHECK(dbos_alloc_free(pool, object, 0) == DBOS_EINVAL); /* double free, object back in its slab */
	struct dbos_alloc_stats *stats = &alloc_case_stats;
	ALLOC_CHECK(dbos_alloc_stats_get(pool, stats) == DBOS_OK);
	ALLOC_CHECK(stats->invalid_free_count == 13);
	ALLOC_CHECK(stats->free_count == 3);
	ALLOC_CHECK(stats->bytes_in_use == 0);
	/* Arguments. */
	void *out;
	ALLOC_CHECK(dbos_alloc(pool, 0, 0, &out) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc(pool, 16, 0x80, &out) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc(0, 16, 0, &out) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_pages(pool, 0, 0, &out) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc(pool, SIZE_MAX, 0, &out) == DBOS_ENOMEM);
	ALLOC_CHECK(dbos_alloc(pool, SIZE_MAX - 4000, 0, &out) == DBOS_ENOMEM);
	ALLOC_CHECK(dbos_alloc_pages(pool, SIZE_MAX >> 12, 0, &out) == DBOS_ENOMEM);
	ALLOC_CHECK(dbos_alloc_pages(pool, SIZE_MAX, 0, &out) == DBOS_ENOMEM);
	ALLOC_CHECK(dbos_alloc(pool, 100000, 0, &run) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_free(pool, run, SIZE_MAX) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_free(pool, run, 100000) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_free(pool, (void *)UINTPTR_MAX, 0) == DBOS_EINVAL);
	struct dbos_alloc_config bad = { .limit_bytes = 4096 };
	dbos_alloc_pool *none;
	ALLOC_CHECK(dbos_alloc_pool_create(&bad, &none) == DBOS_EINVAL);
	bad.limit_bytes = 4 * ALLOC_CASE_MIB;
	bad.prefault_bytes = 8 * ALLOC_CASE_MIB;
	ALLOC_CHECK(dbos_alloc_pool_create(&bad, &none) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_pool_check(pool) == DBOS_OK);
	return 0;
}

/* The limit is hard: a full pool says DBOS_ENOMEM, stays sound, and is one run again once emptied. */
static int64_t alloc_case_limit_is_hard(struct alloc_case_objects *objects)
{
	size_t limit = 4 * ALLOC_CASE_MIB;
	dbos_alloc_pool *pool = alloc_case_pool(objects, limit, limit, limit, DBOS_ALLOC_POOL_POPULATE);
	ALLOC_CHECK(pool);
	void *base;
	size_t size;
	dbos_alloc_pool_range(pool, &base, &size);
	ALLOC_CHECK(size == limit);
	/* Fill with mixed sizes until the pool says no. */
	static void *pointers[8192];
	size_t count = 0;
	dbos_status status = DBOS_OK;
	while (count < 8192) {
		size_t want = 16 + (count * 7919) % 6000;
		status = dbos_alloc(pool, want, 0, &pointers[count]);
		if (status != DBOS_OK)
			break;
		__builtin_memset(pointers[count], 1, want);
		count++;
	}
	ALLOC_CHECK(status == DBOS_ENOMEM);
	ALLOC_CHECK(count > 500);
	ALLOC_CHECK(dbos_alloc_pool_check(pool) == DBOS_OK); /* full pool */
	void *big;
	ALLOC_CHECK(dbos_alloc(pool, limit + 1, 0, &big) == DBOS_ENOMEM);
	ALLOC_CHECK(dbos_alloc(pool, 8 * ALLOC_CASE_MIB, 0, &big) == DBOS_ENOMEM);
	ALLOC_CHECK(dbos_alloc_pages(pool, limit / 4096 + 1, 0, &big) == DBOS_ENOMEM);
	struct dbos_alloc_stats *stats = &alloc_case_stats;
	ALLOC_CHECK(dbos_alloc_stats_get(pool, stats) == DBOS_OK);
	ALLOC_CHECK(stats->resident_bytes <= limit);
	for (size_t i = 0; i < count; i++)
		ALLOC_CHECK(dbos_alloc_free(pool, pointers[i], 0) == DBOS_OK);
	/* Everything came back: the whole pool is one run again (caches are reclaimed on demand). */
	ALLOC_CHECK(dbos_alloc_pages(pool, limit / 4096, DBOS_ALLOC_ZERO, &big) == DBOS_OK);
	ALLOC_CHECK(((unsigned char *)big)[12345] == 0);
	ALLOC_CHECK(dbos_alloc_free(pool, big, 0) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc(pool, 2 * ALLOC_CASE_MIB, 0, &big) == DBOS_OK); /* within the limit: served */
	ALLOC_CHECK(dbos_alloc_free(pool, big, 2 * ALLOC_CASE_MIB) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_pool_check(pool) == DBOS_OK);
	return 0;
}

/* Arena memory is aligned as asked, not freed one by one, and all given back by a reset. */
static int64_t alloc_case_arena_reset_returns_everything(struct alloc_case_objects *objects)
{
	dbos_alloc_pool *pool = alloc_case_pool(objects, 16 * ALLOC_CASE_MIB, 0, 16 * ALLOC_CASE_MIB, 0);
	ALLOC_CHECK(pool);
	struct dbos_alloc_arena arena;
	ALLOC_CHECK(dbos_alloc_arena_init(&arena, pool, 16 * 1024) == DBOS_OK);
	struct dbos_alloc_stats *stats = &alloc_case_stats;
	for (int round = 0; round < 3; round++) {
		size_t total = 0;
		for (int i = 0; i < 2000; i++) {
			size_t size = 1 + (size_t)(i * 37) % 700;
			size_t alignment = (size_t)1 << (i % 8);
			void *p;
			ALLOC_CHECK(dbos_alloc_arena_alloc(&arena, size, alignment, 0, &p) == DBOS_OK);
			ALLOC_CHECK(DBOS_IS_ALIGNED((uintptr_t)p, alignment));
			__builtin_memset(p, 0xab, size);
			total += size;
		}
		void *large;
		ALLOC_CHECK(dbos_alloc_arena_alloc(&arena, 100000, 4096, DBOS_ALLOC_ZERO, &large) == DBOS_OK);
		ALLOC_CHECK(((unsigned char *)large)[99999] == 0);
		ALLOC_CHECK(DBOS_IS_ALIGNED((uintptr_t)large, 4096));
		ALLOC_CHECK(dbos_alloc_free(pool, large, 0) == DBOS_EINVAL); /* not freed one by one */
		ALLOC_CHECK(dbos_alloc_stats_get(pool, stats) == DBOS_OK);
		ALLOC_CHECK(stats->bytes_arenas >= total + 100000);
		ALLOC_CHECK(stats->bytes_arenas == arena.bytes_chunks);
		ALLOC_CHECK(dbos_alloc_pool_check(pool) == DBOS_OK);
		dbos_alloc_arena_reset(&arena);
		ALLOC_CHECK(dbos_alloc_stats_get(pool, stats) == DBOS_OK);
		ALLOC_CHECK(stats->bytes_arenas == 0 && stats->pages_used == 0);
	}
	void *p;
	ALLOC_CHECK(dbos_alloc_arena_alloc(&arena, 8, 3, 0, &p) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_arena_alloc(&arena, 8, 8192, 0, &p) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_arena_alloc(&arena, 0, 0, 0, &p) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_arena_alloc(&arena, 32 * ALLOC_CASE_MIB, 0, 0, &p) == DBOS_ENOMEM);
	dbos_alloc_arena_fini(&arena);
	ALLOC_CHECK(dbos_alloc_arena_alloc(&arena, 8, 0, 0, &p) == DBOS_EINVAL);
	ALLOC_CHECK(dbos_alloc_pool_check(pool) == DBOS_OK);
	return 0;
}

/* JUNK fills freed objects with 0x5a; ZERO gives zeros back even over junk. */
static int64_t alloc_case_zero_and_junk(struct alloc_case_objects *objects)
{
	dbos_alloc_pool *pool = alloc_case_pool(objects, 8 * ALLOC_CASE_MIB, 8 * ALLOC_CASE_MIB, 8 * ALLOC_CASE_MIB,
						DBOS_ALLOC_POOL_JUNK | DBOS_ALLOC_POOL_POPULATE);
	ALLOC_CHECK(pool);
	for (int i = 0; i < 3; i++) {
		unsigned char *p;
		ALLOC_CHECK(dbos_alloc(pool, 1000, 0, (void **)&p) == DBOS_OK);
		__builtin_memset(p, 0xee, 1000);
		ALLOC_CHECK(dbos_alloc_free(pool, p, 1000) == DBOS_OK);
		ALLOC_CHECK(((volatile unsigned char *)p)[500] == 0x5a); /* junk-filled (memory stays mapped) */
		unsigned char *q;
		ALLOC_CHECK(dbos_alloc(pool, 1000, DBOS_ALLOC_ZERO, (void **)&q) == DBOS_OK);
		ALLOC_CHECK(q == p); /* LIFO cache: the same object comes back */
		for (int k = 0; k < 1000; k++)
			ALLOC_CHECK(q[k] == 0);
		ALLOC_CHECK(dbos_alloc_free(pool, q, 1000) == DBOS_OK);
	}
	ALLOC_CHECK(dbos_alloc_pool_check(pool) == DBOS_OK);
	return 0;
}

/* The stats: requested against class bytes, objects per slab, pages add up, the largest free run. */
static int64_t alloc_case_stats_track_fragmentation(struct alloc_case_objects *objects)
{
	dbos_alloc_pool *pool = alloc_case_pool(objects, 16 * ALLOC_CASE_MIB, 0, 16 * ALLOC_CASE_MIB, 0);
	ALLOC_CHECK(pool);
	void *p[64];
	for (int i = 0; i < 64; i++)
		ALLOC_CHECK(dbos_alloc(pool, 129, 0, &p[i]) == DBOS_OK); /* class 160: 31 B waste each */
	struct dbos_alloc_stats *stats = &alloc_case_stats;
	ALLOC_CHECK(dbos_alloc_stats_get(pool, stats) == DBOS_OK);
	int k = dbos_alloc_class_of(129);
	ALLOC_CHECK(k >= 0);
	const struct dbos_alloc_class_stats *class_stats = &stats->classes[k];
	ALLOC_CHECK(stats->bytes_requested == 64 * 129);
	ALLOC_CHECK(stats->bytes_in_use == 64 * 160);
	ALLOC_CHECK(class_stats->objects_in_use == 64);
	ALLOC_CHECK(class_stats->objects_in_use + class_stats->objects_cached + class_stats->objects_free ==
		    class_stats->slab_count * class_stats->slab_objects);
	ALLOC_CHECK(stats->bytes_slabs == class_stats->slab_count * 8192);
	ALLOC_CHECK(stats->pages_free + stats->pages_cached + stats->pages_used == stats->pages_total);
	ALLOC_CHECK(stats->free_run_pages_max >= 1024);
	for (int i = 0; i < 64; i++)
		ALLOC_CHECK(dbos_alloc_free(pool, p[i], 129) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_pool_check(pool) == DBOS_OK);
	ALLOC_CHECK(dbos_alloc_pool_check(0) == DBOS_EINVAL);
	return 0;
}

#define ALLOC_CASE(name)                 \
	{                                \
#name, alloc_case_##name \
	}

static const struct alloc_case alloc_cases[] = {
	ALLOC_CASE(size_classes),  ALLOC_CASE(every_class_boundary),
	ALLOC_CASE(churn_zeroed),  ALLOC_CASE(invalid_frees_are_refused),
	ALLOC_CASE(limit_is_hard), ALLOC_CASE(arena_reset_returns_everything),
	ALLOC_CASE(zero_and_junk), ALLOC_CASE(stats_track_fragmentation),
};

#define ALLOC_CASE_COUNT (sizeof(alloc_cases) / sizeof(alloc_cases[0]))

/* Run case `index` and destroy what it made: 0, or the line of the failed check. */
static inline int64_t alloc_case_run(uint64_t index)
{
	DBOS_ASSERT(index < ALLOC_CASE_COUNT);
	struct alloc_case_objects objects = { 0 };
	int64_t result = alloc_cases[index].run(&objects);
	if (objects.pool)
		dbos_alloc_pool_destroy(objects.pool);
	return result;
}

#endif /* DBOS_ALLOC_CASES_H */
