/*
 * test_alloc.c - the allocator core on the host only: threads, release to the OS (mincore), the
 * invariant walk against damaged internals, the mechanism line, requests beyond the machine.  The
 * single-threaded cases both runtimes share are in test/conformance/alloc_cases.h.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "../../csrc/alloc_internal.h" /* test_check_notices_damage breaks invariants on purpose */
#include "dbos/alloc.h"
#include "dbos/platform.h"
#include "dbos_test.h"

#define MiB ((size_t)1 << 20)

static dbos_alloc_pool *pool_new(size_t limit, size_t prefault, size_t retain, uint32_t flags)
{
	struct dbos_alloc_config config = {
		.limit_bytes = limit, .prefault_bytes = prefault, .retain_bytes = retain, .flags = flags
	};
	dbos_alloc_pool *pool = NULL;
	if (dbos_alloc_pool_create(&config, &pool) != DBOS_OK)
		return NULL;
	return pool;
}

static struct dbos_alloc_stats stats_of(dbos_alloc_pool *pool)
{
	struct dbos_alloc_stats stats;
	DBOS_ASSERT(dbos_alloc_stats_get(pool, &stats) == DBOS_OK);
	return stats;
}

/* Every scenario ends with the invariant walk, then gives the pool back. */
static void pool_done(dbos_alloc_pool *pool)
{
	CHECK_EQ(dbos_alloc_pool_check(pool), DBOS_OK);
	dbos_alloc_pool_destroy(pool);
}

/* Pages of [base, base+size) the kernel says are resident. */
static size_t mincore_pages(void *base, size_t size)
{
	size_t pages = size / DBOS_PAGE_SIZE;
	unsigned char *vec = malloc(pages);
	DBOS_ASSERT(vec && mincore(base, size, vec) == 0);
	size_t resident = 0;
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	free(vec);
	return resident;
}

struct cross_case {
	dbos_alloc_pool *pool;
	_Atomic(void *) ring[2][256]; /* ring[t]: pointers allocated by thread t, freed by the other */
	atomic_int failures;
};

static void cross_worker(struct cross_case *c, int self)
{
	int other = 1 - self;
	uint32_t seed = 12345u + (uint32_t)self;
	for (uint32_t round = 0; round < 20000; round++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t slot = (seed >> 8) % 256;
		/* Free what the other thread left here, then leave one of ours in our ring. */
		void *theirs = atomic_exchange(&c->ring[other][slot], NULL);
		if (theirs) {
			size_t size = *(uint32_t *)theirs;
			if (((unsigned char *)theirs)[size - 1] != (unsigned char)size)
				atomic_fetch_add(&c->failures, 1);
			if (dbos_alloc_free(c->pool, theirs, size) != DBOS_OK)
				atomic_fetch_add(&c->failures, 1);
		}
		size_t size = 16 + (seed >> 4) % 4081;
		void *mine;
		if (dbos_alloc(c->pool, size, 0, &mine) != DBOS_OK) {
			atomic_fetch_add(&c->failures, 1);
			continue;
		}
		*(uint32_t *)mine = (uint32_t)size;
		((unsigned char *)mine)[size - 1] = (unsigned char)size;
		void *previous = atomic_exchange(&c->ring[self][slot], mine);
		if (previous) { /* the other thread did not get to it: free it ourselves */
			size_t old = *(uint32_t *)previous;
			if (dbos_alloc_free(c->pool, previous, old) != DBOS_OK)
				atomic_fetch_add(&c->failures, 1);
		}
	}
	dbos_alloc_thread_flush(c->pool);
}

static void cross_thread(void *opaque)
{
	cross_worker(opaque, 1);
}

static void test_threads_free_crosswise(void)
{
	static struct cross_case c;
	memset(&c, 0, sizeof(c));
	c.pool = pool_new(64 * MiB, 0, 8 * MiB, DBOS_ALLOC_POOL_POPULATE | DBOS_ALLOC_POOL_HUGEPAGES);
	REQUIRE(c.pool);
	dbos_thread *thread;
	REQUIRE(dbos_platform_thread_start(cross_thread, &c, &thread) == DBOS_OK);
	cross_worker(&c, 0);
	dbos_platform_thread_join(thread);
	CHECK_EQ(atomic_load(&c.failures), 0);
	for (int t = 0; t < 2; t++) {
		for (int s = 0; s < 256; s++) {
			void *left = atomic_load(&c.ring[t][s]);
			if (left)
				CHECK_EQ(dbos_alloc_free(c.pool, left, *(uint32_t *)left), DBOS_OK);
		}
	}
	dbos_alloc_thread_flush(c.pool);
	struct dbos_alloc_stats stats = stats_of(c.pool);
	CHECK_EQ(stats.bytes_in_use, 0);
	CHECK_EQ(stats.bytes_requested, 0);
	CHECK_EQ(stats.alloc_count, stats.free_count);
	CHECK_EQ(stats.invalid_free_count, 0);
	for (uint32_t k = 0; k < DBOS_ALLOC_CLASS_COUNT; k++) {
		CHECK_EQ(stats.classes[k].objects_in_use, 0);
		CHECK_EQ(stats.classes[k].objects_cached, 0);
		/* Only spare slabs remain, and all their objects are free. */
		CHECK(stats.classes[k].slab_count <= 1);
		CHECK_EQ(stats.classes[k].objects_free, stats.classes[k].slab_count * stats.classes[k].slab_objects);
	}
	CHECK_EQ(stats.pages_used * 4096, stats.bytes_slabs);
	CHECK_EQ(stats.pages_free + stats.pages_cached + stats.pages_used, stats.pages_total);
	pool_done(c.pool);
}

struct steal_case {
	dbos_alloc_pool *pool;
	atomic_int phase;
	int allocated;
};

static void steal_thread(void *opaque)
{
	struct steal_case *c = opaque;
	void *pages[40];
	for (int i = 0; i < 40; i++)
		if (dbos_alloc_pages(c->pool, 1, 0, &pages[i]) == DBOS_OK)
			c->allocated++;
	for (int i = 0; i < c->allocated; i++)
		dbos_alloc_free(c->pool, pages[i], 0); /* stay in this thread's page cache */
	atomic_store(&c->phase, 1);
	while (atomic_load(&c->phase) != 2)
		dbos_platform_yield();
}

static void test_pages_are_stolen_when_the_pool_is_dry(void)
{
	static struct steal_case c;
	memset(&c, 0, sizeof(c));
	c.pool = pool_new(2 * MiB, 0, 2 * MiB, 0);
	REQUIRE(c.pool);
	dbos_thread *thread;
	REQUIRE(dbos_platform_thread_start(steal_thread, &c, &thread) == DBOS_OK);
	while (atomic_load(&c.phase) != 1)
		dbos_platform_yield();
	CHECK_EQ(c.allocated, 40);
	struct dbos_alloc_stats stats = stats_of(c.pool);
	CHECK(stats.pages_cached > 0);
	/* The whole pool as one run needs the pages the other (live) thread caches. */
	void *all;
	CHECK_EQ(dbos_alloc_pages(c.pool, 512, 0, &all), DBOS_OK);
	stats = stats_of(c.pool);
	CHECK_EQ(stats.pages_cached, 0);
	CHECK_EQ(stats.pages_used, 512);
	CHECK_EQ(dbos_alloc_pool_check(c.pool), DBOS_OK); /* the other thread is parked */
	CHECK_EQ(dbos_alloc_free(c.pool, all, 0), DBOS_OK);
	atomic_store(&c.phase, 2);
	dbos_platform_thread_join(thread);
	pool_done(c.pool);
}

struct stress_case {
	dbos_alloc_pool *pool;
	atomic_int corrupt;
	atomic_int failures;
	atomic_int out_of_memory;
};

struct stress_worker {
	struct stress_case *c;
	unsigned char id;
};

static void stress_thread(void *opaque)
{
	struct stress_worker *w = opaque;
	struct stress_case *c = w->c;
	void *live[64] = { 0 };
	size_t sizes[64] = { 0 };
	uint32_t seed = 777u * (w->id + 1);
	for (int op = 0; op < 6000; op++) {
		seed = seed * 1103515245u + 12345u;
		int slot = (int)((seed >> 10) % 64);
		if (live[slot]) {
			const unsigned char *bytes = live[slot];
			if (bytes[0] != w->id || bytes[sizes[slot] - 1] != w->id || bytes[sizes[slot] / 2] != w->id)
				atomic_fetch_add(&c->corrupt, 1);
			if (dbos_alloc_free(c->pool, live[slot], sizes[slot]) != DBOS_OK)
				atomic_fetch_add(&c->failures, 1);
			live[slot] = NULL;
			continue;
		}
		/* Mostly objects, sometimes page runs: the small pool runs dry and forces reclaim. */
		size_t size = (seed >> 4) % 8 == 0 ? 65537 + (seed >> 8) % 200000 : 16 + (seed >> 8) % 9000;
		dbos_status status = dbos_alloc(c->pool, size, 0, &live[slot]);
		if (status == DBOS_ENOMEM) {
			atomic_fetch_add(&c->out_of_memory, 1);
			live[slot] = NULL;
			continue;
		}
		if (status != DBOS_OK) {
			atomic_fetch_add(&c->failures, 1);
			continue;
		}
		memset(live[slot], w->id, size);
		sizes[slot] = size;
	}
	for (int slot = 0; slot < 64; slot++)
		if (live[slot] && dbos_alloc_free(c->pool, live[slot], sizes[slot]) != DBOS_OK)
			atomic_fetch_add(&c->failures, 1);
	dbos_alloc_thread_flush(c->pool);
}

static void test_four_threads_under_memory_pressure(void)
{
	static struct stress_case c;
	memset(&c, 0, sizeof(c));
	c.pool = pool_new(4 * MiB, 0, 1 * MiB, DBOS_ALLOC_POOL_POPULATE);
	REQUIRE(c.pool);
	struct stress_worker workers[4];
	dbos_thread *threads[4];
	for (int t = 0; t < 4; t++) {
		workers[t] = (struct stress_worker){ .c = &c, .id = (unsigned char)(0x10 + t) };
		REQUIRE(dbos_platform_thread_start(stress_thread, &workers[t], &threads[t]) == DBOS_OK);
	}
	for (int t = 0; t < 4; t++)
		dbos_platform_thread_join(threads[t]);
	CHECK_EQ(atomic_load(&c.corrupt), 0);
	CHECK_EQ(atomic_load(&c.failures), 0);
	CHECK(atomic_load(&c.out_of_memory) > 0); /* the pool really ran dry */
	struct dbos_alloc_stats stats = stats_of(c.pool);
	CHECK_EQ(stats.bytes_in_use, 0);
	CHECK_EQ(stats.bytes_requested, 0);
	CHECK_EQ(stats.alloc_count, stats.free_count);
	CHECK_EQ(stats.pages_free + stats.pages_cached + stats.pages_used, stats.pages_total);
	CHECK(stats.resident_bytes <= 4 * MiB);
	/* Every page can be had again as one run. */
	void *all;
	CHECK_EQ(dbos_alloc_pages(c.pool, 4 * MiB / 4096, 0, &all), DBOS_OK);
	CHECK_EQ(dbos_alloc_free(c.pool, all, 0), DBOS_OK);
	pool_done(c.pool);
}

static void test_release_returns_memory_in_batches(void)
{
	size_t limit = 64 * MiB;
	dbos_alloc_pool *pool = pool_new(limit, 0, limit, DBOS_ALLOC_POOL_POPULATE);
	REQUIRE(pool);
	void *base;
	size_t size;
	dbos_alloc_pool_range(pool, &base, &size);
	void *run;
	REQUIRE(dbos_alloc(pool, 32 * MiB, 0, &run) == DBOS_OK);
	memset(run, 7, 32 * MiB);
	CHECK(mincore_pages(base, size) >= 32 * MiB / 4096);
	CHECK_EQ(dbos_alloc_free(pool, run, 0), DBOS_OK);
	struct dbos_alloc_stats stats = stats_of(pool);
	CHECK(stats.pages_free_resident >= 32 * MiB / 4096); /* retained: retain_bytes = limit */
	/* Reuse without zeroing: the old bytes are still there. */
	REQUIRE(dbos_alloc(pool, 32 * MiB, 0, &run) == DBOS_OK);
	CHECK_EQ(((unsigned char *)run)[4096 * 100], 7);
	CHECK_EQ(dbos_alloc_free(pool, run, 0), DBOS_OK);
	size_t released = 0;
	CHECK_EQ(dbos_alloc_trim(pool, 0, &released), DBOS_OK);
	CHECK(released >= 32 * MiB);
	stats = stats_of(pool);
	CHECK_EQ(stats.pages_free_resident, 0);
	CHECK_EQ(stats.resident_bytes, 0);
	CHECK(stats.release_count >= 1 && stats.release_count <= 8); /* coalesced runs, not pages */
	CHECK(mincore_pages(base, size) < 16);
	/* Released memory reads as zeros and ZERO skips the memset. */
	REQUIRE(dbos_alloc(pool, 32 * MiB, DBOS_ALLOC_ZERO, &run) == DBOS_OK);
	CHECK_EQ(((unsigned char *)run)[4096 * 100], 0);
	CHECK_EQ(dbos_alloc_free(pool, run, 0), DBOS_OK);
	pool_done(pool);

	/* With a small retain, frees release automatically. */
	pool = pool_new(limit, 0, 1 * MiB, DBOS_ALLOC_POOL_POPULATE);
	REQUIRE(pool);
	REQUIRE(dbos_alloc(pool, 16 * MiB, 0, &run) == DBOS_OK);
	memset(run, 1, 16 * MiB);
	CHECK_EQ(dbos_alloc_free(pool, run, 0), DBOS_OK);
	stats = stats_of(pool);
	CHECK(stats.pages_free_resident * 4096 <= 1 * MiB);
	CHECK(stats.released_bytes >= 15 * MiB);
	pool_done(pool);
}

static void test_check_notices_damage(void)
{
	dbos_alloc_pool *pool = pool_new(4 * MiB, 1 * MiB, 4 * MiB, 0);
	REQUIRE(pool);
	CHECK_EQ(dbos_alloc_pool_check(NULL), DBOS_EINVAL);
	void *object, *run;
	REQUIRE(dbos_alloc(pool, 64, 0, &object) == DBOS_OK);
	REQUIRE(dbos_alloc(pool, 100000, 0, &run) == DBOS_OK);
	CHECK_EQ(dbos_alloc_pool_check(pool), DBOS_OK);
	/* Break one invariant at a time, as a stray write or a lost update would, then repair it. */
	uint32_t slab = (uint32_t)(((uintptr_t)object - pool->base) >> DBOS_PAGE_SHIFT);
	uint32_t head = (uint32_t)(((uintptr_t)run - pool->base) >> DBOS_PAGE_SHIFT);
	pool->pages[slab].free_count++;
	CHECK_EQ(dbos_alloc_pool_check(pool), DBOS_ECORRUPT);
	pool->pages[slab].free_count--;
	pool->pages[slab].free_bits[0] ^= 1; /* object 0 is held: now also "free" */
	CHECK_EQ(dbos_alloc_pool_check(pool), DBOS_ECORRUPT);
	pool->pages[slab].free_bits[0] ^= 1;
	pool->pages[head + 3].head = head + 1;
	CHECK_EQ(dbos_alloc_pool_check(pool), DBOS_ECORRUPT);
	pool->pages[head + 3].head = head;
	pool->pages_free--;
	CHECK_EQ(dbos_alloc_pool_check(pool), DBOS_ECORRUPT);
	pool->pages_free++;
	pool->resident_bits[pool->page_total / 64 - 1] ^= (uint64_t)1 << 63; /* a free page's residency */
	CHECK_EQ(dbos_alloc_pool_check(pool), DBOS_ECORRUPT);
	pool->resident_bits[pool->page_total / 64 - 1] ^= (uint64_t)1 << 63;
	CHECK_EQ(dbos_alloc_pool_check(pool), DBOS_OK);
	CHECK_EQ(dbos_alloc_free(pool, object, 64), DBOS_OK);
	CHECK_EQ(dbos_alloc_free(pool, run, 100000), DBOS_OK);
	pool_done(pool);
}

/* The line probe().mechanisms.alloc shows: bounded like snprintf, and what a default pool got. */
static void test_mechanism_line(void)
{
	char full[DBOS_ALLOC_MECHANISM_LINE_SIZE];
	size_t length = dbos_alloc_host_mechanism_format(full, sizeof(full));
	REQUIRE(length > 0 && length < sizeof(full));
	CHECK_EQ(strlen(full), length);
	char small[16];
	memset(small, 'x', sizeof(small));
	CHECK_EQ(dbos_alloc_host_mechanism_format(small, sizeof(small)), length);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
	CHECK(memcmp(small, full, sizeof(small) - 1) == 0);
	CHECK_EQ(dbos_alloc_host_mechanism_format(NULL, 0), length);

	dbos_alloc_pool *pool = pool_new(4 * MiB, 0, 0, DBOS_ALLOC_POOL_HUGEPAGES | DBOS_ALLOC_POOL_POPULATE);
	REQUIRE(pool != NULL);
	struct dbos_alloc_stats *stats = calloc(1, sizeof(*stats));
	REQUIRE(stats != NULL);
	CHECK_EQ(dbos_alloc_stats_get(pool, stats), DBOS_OK);
	CHECK((strstr(full, "populate: MADV_POPULATE_WRITE") != NULL) == stats->mechanism.populate);
	CHECK((strstr(full, "MADV_HUGEPAGE refused") != NULL) == !stats->mechanism.hugepages);
	free(stats);
	dbos_alloc_pool_destroy(pool);
	printf("# %s\n", full);
}

/* A request no pool limit makes safe to back (more than half the machine's RAM) is DBOS_ENOMEM, not an OOM kill. */
static void test_requests_beyond_the_machine_are_refused(void)
{
	struct sysinfo info;
	REQUIRE(sysinfo(&info) == 0);
	size_t ram = (size_t)info.totalram * info.mem_unit;
	size_t limit = DBOS_ALIGN_UP(ram * 2, DBOS_HUGE_PAGE_SIZE); /* address space only: nothing pre-faulted */
	struct dbos_alloc_config config = { .limit_bytes = limit,
					    .prefault_bytes = ram,
					    .flags = DBOS_ALLOC_POOL_POPULATE };
	dbos_alloc_pool *refused = NULL;
	CHECK_EQ(dbos_alloc_pool_create(&config, &refused), DBOS_ENOMEM);
	dbos_alloc_pool *pool = pool_new(limit, 0, 0, DBOS_ALLOC_POOL_POPULATE);
	REQUIRE(pool != NULL);
	void *address = NULL;
	CHECK_EQ(dbos_alloc(pool, ram, 0, &address), DBOS_ENOMEM);
	CHECK_EQ(dbos_alloc_pages(pool, ram / DBOS_PAGE_SIZE, 0, &address), DBOS_ENOMEM);
	struct dbos_alloc_arena arena;
	REQUIRE(dbos_alloc_arena_init(&arena, pool, 0) == DBOS_OK);
	CHECK_EQ(dbos_alloc_arena_alloc(&arena, ram, 16, 0, &address), DBOS_ENOMEM);
	dbos_alloc_arena_fini(&arena);
	CHECK_EQ(dbos_alloc(pool, 8 * MiB, 0, &address), DBOS_OK); /* within reach: served */
	CHECK_EQ(dbos_alloc_free(pool, address, 8 * MiB), DBOS_OK);
	pool_done(pool);
}

int main(void)
{
	RUN_TEST(test_threads_free_crosswise);
	RUN_TEST(test_pages_are_stolen_when_the_pool_is_dry);
	RUN_TEST(test_four_threads_under_memory_pressure);
	RUN_TEST(test_release_returns_memory_in_batches);
	RUN_TEST(test_check_notices_damage);
	RUN_TEST(test_mechanism_line);
	RUN_TEST(test_requests_beyond_the_machine_are_refused);
	return TEST_EXIT_STATUS();
}
