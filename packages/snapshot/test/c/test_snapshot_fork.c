/* test_snapshot_fork.c - FORK: a child process holds the image while writer threads go on. */
#include <signal.h>
#include <sys/wait.h>

#include "dbos/pagetable.h"
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

static void test_fork_snapshots_on_huge_pages(void)
{
	harness h;
	REQUIRE(harness_init_pages(&h, PAGES, DBOS_SNAP_FORK, false, true) == DBOS_OK);
	harness_start(&h, 2);
	harness_raw_rounds(&h, 3, 2);
	harness_free(&h);
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

/* Over a @dbos/pagetable region, FORK snapshots learn dirty pages from the region's tracking. */
static void test_fork_dirty_since_over_a_region(void)
{
	dbos_pt_region *region;
	dbos_pt_region_options region_options = { .size = 256 * DBOS_PAGE_SIZE, .flags = DBOS_PT_REGION_MAP_ALL };
	REQUIRE(dbos_pt_region_create(&region_options, &region) == DBOS_OK);
	uint8_t *base = dbos_pt_region_base(region);
	REQUIRE(dbos_pt_populate(region, dbos_pt_range(0, 256)) == DBOS_OK);
	dbos_snap_space *space;
	dbos_snap_space_options options = { .region = region, .mechanism = DBOS_SNAP_FORK };
	REQUIRE(dbos_snap_space_create(&options, &space) == DBOS_OK);
	CHECK_EQ(dbos_snap_space_page_count(space), 256);
	base[5 * DBOS_PAGE_SIZE] = 1; /* before any snapshot: reported to nobody */
	dbos_snap_id first, second;
	REQUIRE(dbos_snap_take(space, &first) == DBOS_OK);
	uint64_t bitmap[4];
	uint64_t count = 99;
	dbos_status status = dbos_snap_dirty_since(space, first, bitmap, 4, &count);
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	if (capabilities.dirty != DBOS_PT_DIRTY_UFFD_WP_ASYNC && capabilities.dirty != DBOS_PT_DIRTY_PTE_BITS) {
		/* What this machine can check: the refusal.  The case itself did not run. */
		CHECK_EQ(status, DBOS_ENOTSUP);
		CHECK_EQ(dbos_snap_release(space, first), DBOS_OK);
		dbos_snap_space_destroy(space);
		dbos_pt_region_destroy(region);
		SKIP("the region has no cheap dirty tracking here (DBOS_ENOTSUP checked)");
	}
	CHECK_EQ(status, DBOS_OK);
	CHECK_EQ(count, 0);
	base[10 * DBOS_PAGE_SIZE] = 2;
	base[70 * DBOS_PAGE_SIZE] = 2;
	REQUIRE(dbos_snap_take(space, &second) == DBOS_OK);
	base[70 * DBOS_PAGE_SIZE] = 3;
	base[200 * DBOS_PAGE_SIZE] = 3;
	REQUIRE(dbos_snap_dirty_since(space, first, bitmap, 4, &count) == DBOS_OK);
	CHECK_EQ(count, 3);
	CHECK_EQ(bitmap[0], 1ull << 10);
	CHECK_EQ(bitmap[1], 1ull << 6);
	CHECK_EQ(bitmap[3], 1ull << 8);
	REQUIRE(dbos_snap_dirty_since(space, second, bitmap, 4, &count) == DBOS_OK);
	CHECK_EQ(count, 2);
	CHECK_EQ(bitmap[0], 0);
	CHECK_EQ(bitmap[1], 1ull << 6);
	/* The images themselves are the fork's. */
	uint8_t page[DBOS_PAGE_SIZE];
	REQUIRE(dbos_snap_page_read(space, first, 70, page) == DBOS_OK);
	CHECK_EQ(page[0], 0);
	REQUIRE(dbos_snap_page_read(space, second, 70, page) == DBOS_OK);
	CHECK_EQ(page[0], 2);
	CHECK_EQ(dbos_snap_release(space, second), DBOS_OK);
	CHECK_EQ(dbos_snap_release(space, first), DBOS_OK);
	dbos_snap_space_destroy(space);
	dbos_pt_region_destroy(region);
}

int main(void)
{
	RUN_TEST(test_fork_snapshots_equal_memory_at_take);
	RUN_TEST(test_fork_snapshots_on_huge_pages);
	RUN_TEST(test_fork_reads_and_limits);
	RUN_TEST(test_fork_dirty_since_over_a_region);
	return TEST_EXIT_STATUS();
}
