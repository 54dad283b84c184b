/*
 * test_bufferpool_threads.c - the pool under two threads: readers and writers
 * on a pool much smaller than the file (so pages are evicted and read back
 * while others use them), optimistic readers racing writers, concurrent misses
 * of one page read once, and the hit path's cost (printed, never asserted).
 *
 * Pages hold a generation: payload word i of page pid at generation g is
 * fixture_word(pid, g, i).  Writers move a page to g + 1 under the exclusive
 * latch; every reader checks that a page it sees is whole.  Optimistic
 * readers read with relaxed atomic loads (and writers store that way), the
 * contract for bytes read without a latch.
 */
#include <pthread.h>

#include "bp_fixture.h"

#define PAGES 96u
#define PAYLOAD_WORDS ((4096u - DBOS_BP_PAGE_HEADER_SIZE) / 8u)

struct shared_run {
	dbos_bp *bp;
	_Atomic uint64_t writes[PAGES + 1]; /* generation each page must end at */
	atomic_int failures;
	atomic_int optimistic_valid;
	uint32_t iterations;
};

static uint64_t generation_of(uint64_t pid, uint64_t word0)
{
	return (word0 ^ fixture_word(pid, 0, 0)) >> 40;
}

static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static bool page_whole(const uint64_t *words, uint64_t pid)
{
	uint64_t generation = generation_of(pid, __atomic_load_n(&words[0], __ATOMIC_RELAXED));
	for (uint32_t i = 0; i < PAYLOAD_WORDS; i++)
		if (__atomic_load_n(&words[i], __ATOMIC_RELAXED) != fixture_word(pid, generation, i))
			return false;
	return true;
}

static void write_generation(uint64_t *words, uint64_t pid, uint64_t generation)
{
	for (uint32_t i = 0; i < PAYLOAD_WORDS; i++)
		__atomic_store_n(&words[i], fixture_word(pid, generation, i), __ATOMIC_RELAXED);
}

static void *worker(void *opaque)
{
	struct shared_run *run = opaque;
	uint64_t random = (uint64_t)(uintptr_t)&random | 1;
	for (uint32_t n = 0; n < run->iterations; n++) {
		uint64_t pid = next_random(&random) % PAGES + 1;
		uint32_t kind = (uint32_t)(next_random(&random) % 4);
		void *page;
		if (kind == 0) { /* write */
			if (dbos_bp_fix_exclusive(run->bp, pid, &page) != DBOS_OK) {
				run->failures++;
				continue;
			}
			uint64_t *words = dbos_bp_payload(page);
			if (!page_whole(words, pid))
				run->failures++;
			uint64_t generation = generation_of(pid, words[0]);
			write_generation(words, pid, generation + 1);
			atomic_fetch_add(&run->writes[pid], 1);
			if (dbos_bp_unfix_exclusive(run->bp, pid, true) != DBOS_OK)
				run->failures++;
		} else if (kind == 1) { /* optimistic read, restarted until it validates */
			for (;;) {
				uint64_t version;
				const void *read_page;
				if (dbos_bp_optimistic_begin(run->bp, pid, &version, &read_page) != DBOS_OK) {
					run->failures++;
					break;
				}
				const uint64_t *words =
					(const uint64_t *)((const uint8_t *)read_page + DBOS_BP_PAGE_HEADER_SIZE);
				bool whole = page_whole(words, pid);
				if (dbos_bp_optimistic_validate(run->bp, pid, version)) {
					if (!whole)
						run->failures++;
					run->optimistic_valid++;
					break;
				}
			}
		} else { /* shared read */
			if (dbos_bp_fix_shared(run->bp, pid, &page) != DBOS_OK) {
				run->failures++;
				continue;
			}
			if (!page_whole(dbos_bp_payload(page), pid))
				run->failures++;
			if (dbos_bp_unfix_shared(run->bp, pid) != DBOS_OK)
				run->failures++;
		}
	}
	if (dbos_platform_preempt()->depth != 0)
		run->failures++;
	return NULL;
}

static void two_threads_readers_and_writers(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 24 * 4096); /* 24 of 96 pages fit */
	config.evict_batch = 8;
	static struct shared_run run;
	memset(&run, 0, sizeof run);
	run.bp = fixture_open(&config);
	REQUIRE(run.bp);
	REQUIRE(fixture_populate(run.bp, PAGES));
	run.iterations = 4000;
	pthread_t threads[2];
	for (int t = 0; t < 2; t++)
		REQUIRE(pthread_create(&threads[t], NULL, worker, &run) == 0);
	for (int t = 0; t < 2; t++)
		pthread_join(threads[t], NULL);
	CHECK_EQ(atomic_load(&run.failures), 0);
	struct dbos_bp_stats stats = fixture_stats(run.bp);
	printf("# two threads: %u operations each, %llu hits, %llu misses, %llu evictions, %llu written, %llu "
	       "optimistic restarts, %d optimistic reads validated\n",
	       run.iterations, (unsigned long long)stats.hits, (unsigned long long)stats.misses,
	       (unsigned long long)stats.evictions, (unsigned long long)stats.pages_written,
	       (unsigned long long)stats.optimistic_restarts, atomic_load(&run.optimistic_valid));
	CHECK(stats.resident_pages <= 24);
	CHECK(stats.evictions > 0);
	CHECK_EQ(dbos_bp_close(run.bp), DBOS_OK);

	/* Every write survived eviction and the close: each page is at its exact generation. */
	config.flags = 0;
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	for (uint64_t pid = 1; pid <= PAGES; pid++) {
		void *page;
		REQUIRE(dbos_bp_fix_shared(bp, pid, &page) == DBOS_OK);
		CHECK(fixture_verify(page, 4096, pid, atomic_load(&run.writes[pid])));
		CHECK_EQ(dbos_bp_unfix_shared(bp, pid), DBOS_OK);
	}
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

struct same_pages_run {
	dbos_bp *bp;
	atomic_int failures;
	atomic_int ready;
};

static void *fix_all_in_order(void *opaque)
{
	struct same_pages_run *run = opaque;
	atomic_fetch_add(&run->ready, 1);
	while (atomic_load(&run->ready) < 2)
		;
	for (uint64_t pid = 1; pid <= 64; pid++) {
		void *page;
		if (dbos_bp_fix_shared(run->bp, pid, &page) != DBOS_OK) {
			run->failures++;
			continue;
		}
		if (!fixture_verify(page, 4096, pid, 0))
			run->failures++;
		dbos_bp_unfix_shared(run->bp, pid);
	}
	return NULL;
}

static void concurrent_misses_read_a_page_once(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB); /* all 64 pages fit */
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 64));
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
	config.flags = 0;
	struct same_pages_run run = { .bp = fixture_open(&config) };
	REQUIRE(run.bp);
	pthread_t threads[2];
	for (int t = 0; t < 2; t++)
		REQUIRE(pthread_create(&threads[t], NULL, fix_all_in_order, &run) == 0);
	for (int t = 0; t < 2; t++)
		pthread_join(threads[t], NULL);
	CHECK_EQ(atomic_load(&run.failures), 0);
	struct dbos_bp_stats stats = fixture_stats(run.bp);
	CHECK_EQ(stats.misses, 64); /* whoever came second waited for the first one's read */
	CHECK_EQ(stats.hits, 64);
	CHECK_EQ(dbos_bp_close(run.bp), DBOS_OK);
}

struct batch_run {
	dbos_bp *bp;
	atomic_int failures;
	int offset;
};

static void *fix_batches(void *opaque)
{
	struct batch_run *run = opaque;
	for (int round = 0; round < 20; round++) {
		uint64_t pids[16];
		void *pages[16];
		for (int i = 0; i < 16; i++)
			pids[i] = (uint64_t)((round * 7 + i * 5 + run->offset) % 96) + 1;
		if (dbos_bp_fix_many(run->bp, pids, 16, DBOS_BP_SHARED, pages) != DBOS_OK) {
			run->failures++;
			continue;
		}
		for (int i = 0; i < 16; i++)
			if (!fixture_verify(pages[i], 4096, pids[i], 0))
				run->failures++;
		if (dbos_bp_unfix_many(run->bp, pids, 16, DBOS_BP_SHARED, false) != DBOS_OK)
			run->failures++;
	}
	return NULL;
}

static void fix_many_from_two_threads(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 40 * 4096);
	config.evict_batch = 8;
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 96));
	struct batch_run runs[2] = { { .bp = bp, .offset = 0 }, { .bp = bp, .offset = 3 } };
	pthread_t threads[2];
	for (int t = 0; t < 2; t++)
		REQUIRE(pthread_create(&threads[t], NULL, fix_batches, &runs[t]) == 0);
	for (int t = 0; t < 2; t++)
		pthread_join(threads[t], NULL);
	CHECK_EQ(atomic_load(&runs[0].failures) + atomic_load(&runs[1].failures), 0);
	CHECK(fixture_stats(bp).resident_pages <= 40);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

static void hit_cost_is_printed(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 1));
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
	const uint32_t rounds = 100000; /* sanitizers make each round ~100x dearer */
#else
	const uint32_t rounds = 1000000;
#endif
	void *page = NULL;
	uint64_t best_ns = UINT64_MAX;
	for (int attempt = 0; attempt < 3; attempt++) {
		uint64_t start = fixture_now_ns();
		for (uint32_t n = 0; n < rounds; n++) {
			dbos_bp_fix_shared(bp, 1, &page);
			dbos_bp_unfix_shared(bp, 1);
		}
		uint64_t elapsed = fixture_now_ns() - start;
		if (elapsed < best_ns)
			best_ns = elapsed;
	}
	CHECK(page != NULL);
	printf("# hit: fix_shared + unfix_shared = %.1f ns (best of 3 x %u, this build's flags)\n",
	       (double)best_ns / rounds, rounds);
	CHECK_EQ(fixture_stats(bp).hits, 3ull * rounds);
	CHECK_EQ(dbos_platform_preempt()->depth, 0);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(two_threads_readers_and_writers);
	RUN_TEST(concurrent_misses_read_a_page_once);
	RUN_TEST(fix_many_from_two_threads);
	RUN_TEST(hit_cost_is_printed);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
