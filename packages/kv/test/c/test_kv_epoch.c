/*
 * test_kv_epoch.c - copy-on-write page epochs on a buffer pool: an epoch reads
 * every page as it was at begin while the pool's pages change, are freed and
 * reallocated; several epochs at once; a writer thread against a reader
 * thread; a pool smaller than the pages (eviction under an epoch).
 */
#include <stdatomic.h>

#include "test_kv_epoch_fixture.h"

/* Changes, frees and allocations after begin: the epoch sees none of them, the pool sees all. */
static void epoch_reads_begin_time_bytes(void)
{
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 1 * MiB));
	dbos_bp *bp = pool.bp;
	REQUIRE(fixture_populate(bp, 20));       /* pids 1..20 */
	CHECK_EQ(dbos_bp_free(bp, 20), DBOS_OK); /* free before begin: free in the epoch too */

	struct kv_epoch *epoch;
	REQUIRE(kv_epoch_begin(pool.epochs, &epoch) == DBOS_OK);
	CHECK_EQ(kv_epoch_page_count(epoch), 21);
	dbos_bp_file_header state;
	kv_epoch_file_state(epoch, &state);
	CHECK_EQ(state.page_count, 21);
	CHECK_EQ(state.free_head, 20);
	CHECK_EQ(state.free_count, 1);
	CHECK_EQ(kv_epoch_pages_copied(pool.epochs), 0);

	for (uint64_t pid = 1; pid <= 5; pid++)
		REQUIRE(fixture_rewrite(bp, pid, 1));
	REQUIRE(fixture_rewrite(bp, 3, 2)); /* a second change: the copy stays the begin-time one */
	CHECK_EQ(dbos_bp_free(bp, 6), DBOS_OK);
	CHECK_EQ(dbos_bp_free(bp, 7), DBOS_OK);
	/* From the free chain (7, then 6, then 20), then new pages past the epoch's count. */
	uint64_t reused[5];
	for (int i = 0; i < 5; i++) {
		void *page;
		REQUIRE(dbos_bp_allocate(bp, &reused[i], &page) == DBOS_OK);
		fixture_fill(page, 4096, reused[i], 3);
		CHECK_EQ(dbos_bp_unfix_exclusive(bp, reused[i], true), DBOS_OK);
	}
	CHECK_EQ(reused[0], 7);
	CHECK_EQ(reused[1], 6);
	CHECK_EQ(reused[2], 20);
	CHECK_EQ(reused[3], 21);
	CHECK_EQ(reused[4], 22);
	/* Pages 1-7 and 20 were copied once each; 21 and 22 are not the epoch's. */
	CHECK_EQ(kv_epoch_pages_copied(pool.epochs), 8);

	for (uint64_t pid = 1; pid <= 19; pid++)
		CHECK(fixture_epoch_is(epoch, 4096, pid, 0));
	CHECK(fixture_epoch_is_free(epoch, 20));
	struct kv_epoch_pin pin;
	CHECK_EQ(kv_epoch_fix(epoch, 21, &pin), DBOS_ERANGE);
	CHECK_EQ(kv_epoch_fix(epoch, 0, &pin), DBOS_ERANGE);

	/* An unchanged page is read latched from the pool, a changed one from the copy. */
	REQUIRE(kv_epoch_fix(epoch, 10, &pin) == DBOS_OK);
	CHECK(pin.latched);
	kv_epoch_unfix(epoch, &pin);
	REQUIRE(kv_epoch_fix(epoch, 1, &pin) == DBOS_OK);
	CHECK(!pin.latched);
	kv_epoch_unfix(epoch, &pin);

	CHECK(fixture_current_is(bp, 1, 1));
	CHECK(fixture_current_is(bp, 3, 2));
	CHECK(fixture_current_is(bp, 7, 3));
	CHECK(fixture_current_is(bp, 22, 3));
	CHECK(fixture_current_is(bp, 10, 0));
	kv_epoch_end(epoch);

	/* With no epoch open the hook copies nothing. */
	REQUIRE(fixture_rewrite(bp, 9, 4));
	CHECK_EQ(kv_epoch_pages_copied(pool.epochs), 8);
	fixture_pool_close(&pool);
}

/* Two epochs at once, begun at different points: each reads its own begin-time bytes. */
static void two_epochs_each_see_their_own_point(void)
{
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 1 * MiB));
	dbos_bp *bp = pool.bp;
	REQUIRE(fixture_populate(bp, 8));
	struct kv_epoch *first, *second;
	REQUIRE(kv_epoch_begin(pool.epochs, &first) == DBOS_OK);
	REQUIRE(fixture_rewrite(bp, 1, 1));
	REQUIRE(fixture_populate(bp, 1)); /* pid 9: only the second epoch has it */
	REQUIRE(kv_epoch_begin(pool.epochs, &second) == DBOS_OK);
	REQUIRE(fixture_rewrite(bp, 1, 2));
	REQUIRE(fixture_rewrite(bp, 2, 1));
	REQUIRE(fixture_rewrite(bp, 9, 1));
	CHECK_EQ(kv_epoch_page_count(first), 9);
	CHECK_EQ(kv_epoch_page_count(second), 10);

	CHECK(fixture_epoch_is(first, 4096, 1, 0));
	CHECK(fixture_epoch_is(first, 4096, 2, 0));
	CHECK(fixture_epoch_is(second, 4096, 1, 1));
	CHECK(fixture_epoch_is(second, 4096, 2, 0));
	CHECK(fixture_epoch_is(second, 4096, 9, 0));
	struct kv_epoch_pin pin;
	CHECK_EQ(kv_epoch_fix(first, 9, &pin), DBOS_ERANGE);

	kv_epoch_end(first); /* ending one leaves the other intact */
	REQUIRE(fixture_rewrite(bp, 3, 1));
	CHECK(fixture_epoch_is(second, 4096, 1, 1));
	CHECK(fixture_epoch_is(second, 4096, 3, 0));
	kv_epoch_end(second);
	CHECK(fixture_current_is(bp, 1, 2));
	fixture_pool_close(&pool);
}

/* ---- A writer thread against a reader thread --------------------------------------------- */

#define RACE_PAGES 64u

/*
 * The writer rewrites random pages, one at a time under `write_lock` (the store's write lock);
 * the reader begins an epoch under the same lock, notes every page's generation, reads every
 * page through the epoch while the writer goes on, ends it, and starts over: each round races
 * the reader's first look / shared latch against the writer's copy-then-change.
 */
struct race {
	dbos_bp *bp;
	struct kv_epochs *epochs;
	dbos_mutex write_lock;
	uint64_t generation[RACE_PAGES + 1]; /* under write_lock: what each page holds now */
	_Atomic bool stop;
	uint64_t writes;
	uint64_t rounds;
	uint64_t reads;
	uint64_t wrong; /* epoch reads that did not hold the page's generation at begin */
	uint64_t errors;
};

static void race_writer(void *argument)
{
	struct race *race = argument;
	uint64_t state = 12345;
	for (uint64_t generation = 1; !atomic_load(&race->stop); generation++) {
		state = state * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t pid = 1 + (state >> 33) % RACE_PAGES;
		dbos_mutex_lock(&race->write_lock);
		if (!fixture_rewrite(race->bp, pid, generation))
			race->errors++;
		race->generation[pid] = generation;
		dbos_mutex_unlock(&race->write_lock);
		race->writes++;
	}
}

static void race_reader(void *argument)
{
	struct race *race = argument;
	uint64_t expected[RACE_PAGES + 1];
	uint64_t deadline = fixture_now_ns() + 300 * 1000 * 1000ull;
	while (fixture_now_ns() < deadline) {
		struct kv_epoch *epoch;
		dbos_mutex_lock(&race->write_lock);
		dbos_status status = kv_epoch_begin(race->epochs, &epoch);
		memcpy(expected, race->generation, sizeof expected);
		dbos_mutex_unlock(&race->write_lock);
		if (status != DBOS_OK) {
			race->errors++;
			break;
		}
		for (uint64_t pid = 1; pid <= RACE_PAGES; pid++) {
			struct kv_epoch_pin pin;
			if (kv_epoch_fix(epoch, pid, &pin) != DBOS_OK) {
				race->errors++;
				continue;
			}
			race->wrong += !fixture_verify(pin.page, 4096, pid, expected[pid]);
			kv_epoch_unfix(epoch, &pin);
			race->reads++;
		}
		kv_epoch_end(epoch);
		race->rounds++;
	}
	atomic_store(&race->stop, true);
}

static void writer_and_reader_threads(void)
{
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 1 * MiB));
	REQUIRE(fixture_populate(pool.bp, RACE_PAGES));
	static struct race race;
	race = (struct race){ .bp = pool.bp, .epochs = pool.epochs };
	dbos_thread *writer, *reader;
	REQUIRE(dbos_platform_thread_start(race_writer, &race, &writer) == DBOS_OK);
	REQUIRE(dbos_platform_thread_start(race_reader, &race, &reader) == DBOS_OK);
	dbos_platform_thread_join(reader);
	dbos_platform_thread_join(writer);
	printf("# %llu epochs, %llu epoch reads against %llu writes, %llu pages copied\n",
	       (unsigned long long)race.rounds, (unsigned long long)race.reads, (unsigned long long)race.writes,
	       (unsigned long long)kv_epoch_pages_copied(pool.epochs));
	CHECK_EQ(race.errors, 0);
	CHECK_EQ(race.wrong, 0);
	CHECK(race.rounds > 1);
	CHECK(race.writes > 0);
	CHECK(kv_epoch_pages_copied(pool.epochs) > 0);
	fixture_pool_close(&pool);
}

/* A pool of 16 frames over 200 pages: pages are evicted and read back while the epoch is open. */
static void eviction_under_an_epoch(void)
{
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 16 * 4096));
	dbos_bp *bp = pool.bp;
	REQUIRE(fixture_populate(bp, 200));
	struct kv_epoch *epoch;
	REQUIRE(kv_epoch_begin(pool.epochs, &epoch) == DBOS_OK);
	for (uint64_t pid = 1; pid <= 200; pid += 2)
		REQUIRE(fixture_rewrite(bp, pid, 1));
	for (uint64_t pid = 1; pid <= 200; pid++)
		CHECK(fixture_epoch_is(epoch, 4096, pid, 0));
	for (uint64_t pid = 1; pid <= 200; pid++)
		CHECK(fixture_current_is(bp, pid, pid % 2 ? 1 : 0));
	struct dbos_bp_stats stats;
	dbos_bp_stats(bp, &stats);
	CHECK(stats.evictions > 0);
	CHECK_EQ(kv_epoch_pages_copied(pool.epochs), 100);
	kv_epoch_end(epoch);
	fixture_pool_close(&pool);
}

/* Caller errors are statuses; an epochs set without a pool cannot begin. */
static void caller_errors(void)
{
	struct kv_epochs *epochs = kv_epochs_create(NULL);
	REQUIRE(epochs);
	struct kv_epoch *epoch = NULL;
	CHECK_EQ(kv_epoch_begin(epochs, &epoch), DBOS_EINVAL);
	CHECK_EQ(kv_epoch_begin(NULL, &epoch), DBOS_EINVAL);
	kv_epochs_before_write(epochs, 1, "x"); /* no epoch open: nothing happens */
	CHECK_EQ(kv_epoch_pages_copied(epochs), 0);
	kv_epochs_destroy(epochs);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(epoch_reads_begin_time_bytes);
	RUN_TEST(two_epochs_each_see_their_own_point);
	RUN_TEST(writer_and_reader_threads);
	RUN_TEST(eviction_under_an_epoch);
	RUN_TEST(caller_errors);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
