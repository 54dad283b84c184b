/* test_snapshot_fork.c - FORK: a child process holds the image while writer threads go on. */
#include <signal.h>
#include <sys/wait.h>

#include "snap_harness.h"

#define PAGES 2048 /* 8 MiB */

static void test_fork_snapshots_equal_memory_at_take(void)
{
	harness h;
	REQUIRE(harness_init(&h, PAGES, DBOS_SNAP_FORK, false) == DBOS_OK);
	CHECK_EQ(dbos_snap_space_mechanism(h.space), DBOS_SNAP_FORK);
	harness_start(&h, 2);
	harness_raw_rounds(&h, 4, 2);
	dbos_snap_stats stats;
	dbos_snap_space_stats(h.space, &stats);
	CHECK_EQ(stats.snapshots_live, 0);
	CHECK_EQ(stats.copies_live, 0);
	harness_free(&h);
	/* Every child was reaped. */
	CHECK(waitpid(-1, NULL, WNOHANG) < 0);
}

static void test_fork_reads_and_limits(void)
{
	harness h;
	REQUIRE(harness_init(&h, 64, DBOS_SNAP_FORK, false) == DBOS_OK);
	dbos_snap_id id;
	REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
	harness_fill(h.base + 5 * DBOS_PAGE_SIZE, 5, 77);
	uint8_t page[DBOS_PAGE_SIZE];
	REQUIRE(dbos_snap_page_read(h.space, id, 5, page) == DBOS_OK);
	CHECK(harness_page_is(page, 5, 0));
	uint8_t bytes[100];
	REQUIRE(dbos_snap_read(h.space, id, 5 * DBOS_PAGE_SIZE + 3, sizeof(bytes), bytes) == DBOS_OK);
	CHECK_EQ(bytes[5], (uint8_t)(harness_word(5, 0) >> 0)); /* byte 8 of the page: word 1's low byte */
	uint64_t bitmap[1];
	CHECK_EQ(dbos_snap_dirty_since(h.space, id, bitmap, 1, NULL), DBOS_ENOTSUP);
	CHECK_EQ(dbos_snap_page_read(h.space, id, 64, page), DBOS_ERANGE);
	CHECK_EQ(dbos_snap_release(h.space, id), DBOS_OK);
	CHECK_EQ(dbos_snap_page_read(h.space, id, 5, page), DBOS_ECLOSED);
	harness_free(&h);
}

int main(void)
{
	RUN_TEST(test_fork_snapshots_equal_memory_at_take);
	RUN_TEST(test_fork_reads_and_limits);
	return TEST_EXIT_STATUS();
}
