/* test_snapshot_uffd.c - UFFD_WP: write-protect snapshots of raw memory under writer threads. */
#include <unistd.h>

#include "snap_harness.h"

#define PAGES 2048 /* 8 MiB */

static void test_uffd_snapshots_equal_memory_at_take(void)
{
	const char *reason = NULL;
	if (!dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, &reason))
		SKIP(reason);
	harness h;
	REQUIRE(harness_init(&h, PAGES, DBOS_SNAP_UFFD_WP, false) == DBOS_OK);
	CHECK_EQ(dbos_snap_space_mechanism(h.space), DBOS_SNAP_UFFD_WP);
	harness_start(&h, 2);
	harness_raw_rounds(&h, 6, 2); /* two snapshots alive at once, overlapping */
	dbos_snap_stats stats;
	dbos_snap_space_stats(h.space, &stats);
	CHECK(stats.faults_handled > 0);
	CHECK_EQ(stats.snapshots_live, 0);
	CHECK_EQ(stats.copies_live, 0); /* release freed every copy */
	/*
	 * With no snapshot live the range is unprotected: writes no longer fault.  A fault a writer
	 * raised just before the last release may still be in the handler's queue, so the count is
	 * read once the writers have gone on writing, then must not move.
	 */
	uint64_t writes_before = atomic_load(&h.writes);
	while (atomic_load(&h.writes) < writes_before + 20000)
		sched_yield();
	dbos_snap_space_stats(h.space, &stats);
	uint64_t faults = stats.faults_handled;
	writes_before = atomic_load(&h.writes);
	while (atomic_load(&h.writes) < writes_before + 20000)
		sched_yield();
	dbos_snap_space_stats(h.space, &stats);
	CHECK_EQ(stats.faults_handled, faults);
	harness_free(&h);
}

/* On transparent huge pages a 2 MiB page is protected as one; the first write splits it. */
static void test_uffd_snapshots_on_huge_pages(void)
{
	const char *reason = NULL;
	if (!dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, &reason))
		SKIP(reason);
	harness h;
	REQUIRE(harness_init_pages(&h, PAGES, DBOS_SNAP_UFFD_WP, false, true) == DBOS_OK);
	harness_start(&h, 2);
	harness_raw_rounds(&h, 4, 2);
	dbos_snap_stats stats;
	dbos_snap_space_stats(h.space, &stats);
	CHECK(stats.faults_handled > 0);
	CHECK_EQ(stats.copies_live, 0);
	harness_free(&h);
}

static void test_uffd_dirty_since_matches_writes(void)
{
	const char *reason = NULL;
	if (!dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, &reason))
		SKIP(reason);
	harness h;
	REQUIRE(harness_init(&h, 256, DBOS_SNAP_UFFD_WP, false) == DBOS_OK);
	dbos_snap_id id;
	REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
	uint64_t written[] = { 3, 64, 65, 200 };
	for (int i = 0; i < 4; i++)
		harness_fill(h.base + written[i] * DBOS_PAGE_SIZE, written[i], 9);
	uint64_t bitmap[4];
	uint64_t count = 0;
	REQUIRE(dbos_snap_dirty_since(h.space, id, bitmap, 4, &count) == DBOS_OK);
	CHECK_EQ(count, 4);
	CHECK_EQ(bitmap[0], 1ull << 3);
	CHECK_EQ(bitmap[1], 3ull);
	CHECK_EQ(bitmap[2], 0);
	CHECK_EQ(bitmap[3], 1ull << 8);
	uint8_t page[DBOS_PAGE_SIZE];
	REQUIRE(dbos_snap_page_read(h.space, id, 64, page) == DBOS_OK);
	CHECK(harness_page_is(page, 64, 0));
	CHECK(harness_page_is(h.base + 64 * DBOS_PAGE_SIZE, 64, 9));
	harness_free(&h); /* destroy releases the live snapshot */
}

static void test_uffd_teardown_with_writers_running(void)
{
	const char *reason = NULL;
	if (!dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, &reason))
		SKIP(reason);
	harness h;
	REQUIRE(harness_init(&h, PAGES, DBOS_SNAP_UFFD_WP, false) == DBOS_OK);
	harness_start(&h, 2);
	dbos_snap_id first, second;
	REQUIRE(dbos_snap_take(h.space, &first) == DBOS_OK);
	REQUIRE(dbos_snap_take(h.space, &second) == DBOS_OK);
	/* Destroy with two live snapshots while writers keep faulting: they must all be woken. */
	dbos_snap_space_destroy(h.space);
	h.space = NULL;
	uint64_t writes_before = atomic_load(&h.writes);
	while (atomic_load(&h.writes) < writes_before + 20000)
		sched_yield();
	harness_stop(&h);
	dbos_platform_unreserve(h.base, h.size);
	free((void *)h.version);
	free((void *)h.epoch_version);
	free(h.captured);
}

/*
 * A take write-protects the whole range, building page tables even for pages never touched: a
 * space larger than physical memory is refused at creation instead of ending in the OOM killer.
 */
static void test_uffd_refuses_a_space_larger_than_memory(void)
{
	const char *reason = NULL;
	if (!dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, &reason))
		SKIP(reason);
	uint64_t memory = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t size = DBOS_ALIGN_UP(memory + DBOS_HUGE_PAGE_SIZE, (uint64_t)DBOS_HUGE_PAGE_SIZE);
	void *base = NULL;
	REQUIRE(dbos_platform_reserve(size, DBOS_HUGE_PAGE_SIZE, &base) == DBOS_OK);
	dbos_snap_space_options options = {
		.base = base, .size = size, .mechanism = DBOS_SNAP_UFFD_WP, .flags = DBOS_SNAP_WRITES_RAW
	};
	dbos_snap_space *space = NULL;
	CHECK_EQ(dbos_snap_space_create(&options, &space), DBOS_ENOMEM);
	if (space)
		dbos_snap_space_destroy(space);
	/* FORK has no such cost: the same range is accepted. */
	options.mechanism = DBOS_SNAP_FORK;
	CHECK_EQ(dbos_snap_space_create(&options, &space), DBOS_OK);
	dbos_snap_space_destroy(space);
	dbos_platform_unreserve(base, size);
}

int main(void)
{
	RUN_TEST(test_uffd_snapshots_equal_memory_at_take);
	RUN_TEST(test_uffd_snapshots_on_huge_pages);
	RUN_TEST(test_uffd_dirty_since_matches_writes);
	RUN_TEST(test_uffd_teardown_with_writers_running);
	RUN_TEST(test_uffd_refuses_a_space_larger_than_memory);
	return TEST_EXIT_STATUS();
}
