/* test_snapshot_epoch.c - EPOCH: the barrier's copy-on-write under running writer threads. */
#include <unistd.h>

#include "snap_harness.h"

#define PAGES 2048 /* 8 MiB */

static void test_epoch_snapshot_equals_memory_at_take(void)
{
	harness h;
	REQUIRE(harness_init(&h, PAGES, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	CHECK_EQ(dbos_snap_space_mechanism(h.space), DBOS_SNAP_EPOCH);
	harness_start(&h, 2);
	uint64_t *expected = malloc(PAGES * sizeof(uint64_t));
	for (int round = 0; round < 5; round++) {
		dbos_snap_id id;
		REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
		dbos_snap_info info;
		REQUIRE(dbos_snap_info_get(h.space, id, &info) == DBOS_OK);
		CHECK_EQ(info.mechanism, DBOS_SNAP_EPOCH);
		harness_expected_epoch(&h, info.epoch, expected);
		uint64_t writes_before = atomic_load(&h.writes);
		CHECK_EQ(harness_mismatches(&h, id, expected), 0);
		/* Writers went on; the snapshot did not move. */
		while (atomic_load(&h.writes) < writes_before + 20000)
			sched_yield();
		CHECK_EQ(harness_mismatches(&h, id, expected), 0);
		CHECK(dbos_snap_info_get(h.space, id, &info) == DBOS_OK && info.copies > 0);
		CHECK_EQ(dbos_snap_release(h.space, id), DBOS_OK);
	}
	harness_stop(&h);
	dbos_snap_stats stats;
	dbos_snap_space_stats(h.space, &stats);
	CHECK_EQ(stats.snapshots_live, 0);
	CHECK_EQ(stats.copies_live, 0); /* release freed every copy */
	CHECK(stats.copies_made > 0);
	free(expected);
	harness_free(&h);
}

static void test_epoch_two_live_snapshots_share_unchanged_pages(void)
{
	harness h;
	REQUIRE(harness_init(&h, PAGES, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	/* No writers yet: both snapshots see version 0 and the first write serves both with one copy. */
	dbos_snap_id first, second;
	REQUIRE(dbos_snap_take(h.space, &first) == DBOS_OK);
	REQUIRE(dbos_snap_take(h.space, &second) == DBOS_OK);
	CHECK(first != second);
	dbos_snap_writer *writer;
	REQUIRE(dbos_snap_writer_register(h.space, &writer) == DBOS_OK);
	void *address;
	REQUIRE(dbos_snap_write_begin(writer, 7, &address) == DBOS_OK);
	harness_fill(address, 7, 1);
	dbos_snap_write_end(writer);
	dbos_snap_stats stats;
	dbos_snap_space_stats(h.space, &stats);
	CHECK_EQ(stats.copies_made, 1);
	CHECK_EQ(stats.copies_live, 1);
	/* Second write to the same page in the same epoch: no copy. */
	REQUIRE(dbos_snap_write_begin(writer, 7, &address) == DBOS_OK);
	harness_fill(address, 7, 2);
	dbos_snap_write_end(writer);
	dbos_snap_space_stats(h.space, &stats);
	CHECK_EQ(stats.copies_made, 1);
	/* A third snapshot after the write, then a write: only the third needs a new copy. */
	dbos_snap_id third;
	REQUIRE(dbos_snap_take(h.space, &third) == DBOS_OK);
	REQUIRE(dbos_snap_write_begin(writer, 7, &address) == DBOS_OK);
	harness_fill(address, 7, 3);
	dbos_snap_write_end(writer);
	dbos_snap_space_stats(h.space, &stats);
	CHECK_EQ(stats.copies_made, 2);
	CHECK_EQ(stats.copies_live, 2);
	CHECK_EQ(stats.snapshots_live, 3);

	uint8_t page[DBOS_PAGE_SIZE];
	REQUIRE(dbos_snap_page_read(h.space, first, 7, page) == DBOS_OK);
	CHECK(harness_page_is(page, 7, 0));
	REQUIRE(dbos_snap_page_read(h.space, second, 7, page) == DBOS_OK);
	CHECK(harness_page_is(page, 7, 0));
	REQUIRE(dbos_snap_page_read(h.space, third, 7, page) == DBOS_OK);
	CHECK(harness_page_is(page, 7, 2));
	CHECK(harness_page_is(h.base + 7 * DBOS_PAGE_SIZE, 7, 3));

	/* dirtySince: page 7 only, for each. */
	uint64_t bitmap[PAGES / 64];
	uint64_t count = 99;
	REQUIRE(dbos_snap_dirty_since(h.space, first, bitmap, PAGES / 64, &count) == DBOS_OK);
	CHECK_EQ(count, 1);
	CHECK_EQ(bitmap[0], 1u << 7);
	REQUIRE(dbos_snap_dirty_since(h.space, third, bitmap, PAGES / 64, &count) == DBOS_OK);
	CHECK_EQ(count, 1);
	CHECK_EQ(dbos_snap_dirty_since(h.space, third, bitmap, 1, &count), DBOS_EINVAL);

	/* Releasing the first keeps the shared copy for the second. */
	CHECK_EQ(dbos_snap_release(h.space, first), DBOS_OK);
	dbos_snap_space_stats(h.space, &stats);
	CHECK_EQ(stats.copies_live, 2);
	REQUIRE(dbos_snap_page_read(h.space, second, 7, page) == DBOS_OK);
	CHECK(harness_page_is(page, 7, 0));
	CHECK_EQ(dbos_snap_release(h.space, second), DBOS_OK);
	dbos_snap_space_stats(h.space, &stats);
	CHECK_EQ(stats.copies_live, 1);
	CHECK_EQ(dbos_snap_release(h.space, third), DBOS_OK);
	dbos_snap_space_stats(h.space, &stats);
	CHECK_EQ(stats.copies_live, 0);
	dbos_snap_writer_unregister(writer);
	harness_free(&h);
}

/* Writers racing to prepare the same few pages: each page is copied exactly once per snapshot. */
typedef struct race_arg {
	dbos_snap_space *space;
	_Atomic int *go;
	int rounds;
} race_arg;

static void *race_writer(void *argument)
{
	race_arg *arg = argument;
	dbos_snap_writer *writer;
	if (dbos_snap_writer_register(arg->space, &writer) != DBOS_OK)
		abort();
	while (!atomic_load(arg->go))
		;
	for (int i = 0; i < arg->rounds; i++) {
		void *address;
		uint64_t page = (uint64_t)(i % 4);
		if (dbos_snap_write_begin(writer, page, &address) != DBOS_OK)
			abort();
		/* Each racer touches its own word: the page copy must still be taken once. */
		atomic_fetch_add((_Atomic uint64_t *)address + 1, 1);
		dbos_snap_write_end(writer);
	}
	dbos_snap_writer_unregister(writer);
	return NULL;
}

static void test_epoch_racing_writers_copy_once(void)
{
	harness h;
	REQUIRE(harness_init(&h, 64, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	for (int round = 0; round < 20; round++) {
		dbos_snap_stats before, after;
		dbos_snap_id id;
		REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
		dbos_snap_space_stats(h.space, &before);
		_Atomic int go = 0;
		race_arg arg = { h.space, &go, 2000 };
		pthread_t threads[3];
		for (int i = 0; i < 3; i++)
			REQUIRE(pthread_create(&threads[i], NULL, race_writer, &arg) == 0);
		atomic_store(&go, 1);
		for (int i = 0; i < 3; i++)
			pthread_join(threads[i], NULL);
		dbos_snap_space_stats(h.space, &after);
		CHECK_EQ(after.copies_made - before.copies_made, 4);
		dbos_snap_info info;
		REQUIRE(dbos_snap_info_get(h.space, id, &info) == DBOS_OK);
		CHECK_EQ(info.copies, 4);
		/* Snapshot pages still show the counters as they were at the take. */
		uint8_t page[DBOS_PAGE_SIZE];
		REQUIRE(dbos_snap_page_read(h.space, id, 0, page) == DBOS_OK);
		CHECK_EQ(((uint64_t *)page)[1], (uint64_t)round * 1500);
		CHECK_EQ(dbos_snap_release(h.space, id), DBOS_OK);
	}
	harness_free(&h);
}

/* A snapshot requested during a multi-page write section waits for it: never half a section. */
typedef struct section_arg {
	harness *h;
	_Atomic int phase; /* 1: first page written; 2: take requested */
} section_arg;

static void *section_writer(void *argument)
{
	section_arg *arg = argument;
	dbos_snap_writer *writer;
	if (dbos_snap_writer_register(arg->h->space, &writer) != DBOS_OK)
		abort();
	dbos_snap_writer_enter(writer);
	void *first, *second;
	if (dbos_snap_page_prepare(writer, 1, &first) != DBOS_OK ||
	    dbos_snap_page_prepare(writer, 2, &second) != DBOS_OK)
		abort();
	harness_fill(first, 1, 5);
	atomic_store(&arg->phase, 1);
	while (atomic_load(&arg->phase) != 2)
		sched_yield();
	usleep(20000); /* the take is waiting for us now */
	harness_fill(second, 2, 5);
	dbos_snap_writer_leave(writer);
	dbos_snap_writer_unregister(writer);
	return NULL;
}

static void test_epoch_take_waits_for_sections_in_progress(void)
{
	harness h;
	REQUIRE(harness_init(&h, 16, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	section_arg arg = { .h = &h };
	pthread_t thread;
	REQUIRE(pthread_create(&thread, NULL, section_writer, &arg) == 0);
	while (atomic_load(&arg.phase) != 1)
		sched_yield();
	atomic_store(&arg.phase, 2);
	dbos_snap_id id;
	REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
	dbos_snap_info info;
	REQUIRE(dbos_snap_info_get(h.space, id, &info) == DBOS_OK);
	CHECK(info.take_duration_ns >= 10000000u); /* it waited for the section */
	pthread_join(thread, NULL);
	uint8_t page[DBOS_PAGE_SIZE];
	REQUIRE(dbos_snap_page_read(h.space, id, 1, page) == DBOS_OK);
	CHECK(harness_page_is(page, 1, 5));
	REQUIRE(dbos_snap_page_read(h.space, id, 2, page) == DBOS_OK);
	CHECK(harness_page_is(page, 2, 5)); /* the whole section is in the snapshot */
	CHECK_EQ(dbos_snap_release(h.space, id), DBOS_OK);
	harness_free(&h);
}

static void test_epoch_handles_and_limits(void)
{
	harness h;
	REQUIRE(harness_init(&h, 16, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	dbos_snap_id ids[DBOS_SNAP_COUNT_MAX];
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++)
		REQUIRE(dbos_snap_take(h.space, &ids[i]) == DBOS_OK);
	dbos_snap_id extra;
	CHECK_EQ(dbos_snap_take(h.space, &extra), DBOS_ELIMIT);
	CHECK_EQ(dbos_snap_release(h.space, ids[3]), DBOS_OK);
	uint8_t page[DBOS_PAGE_SIZE];
	/* A released id stays closed even after its slot is reused. */
	CHECK_EQ(dbos_snap_page_read(h.space, ids[3], 0, page), DBOS_ECLOSED);
	CHECK_EQ(dbos_snap_release(h.space, ids[3]), DBOS_ECLOSED);
	REQUIRE(dbos_snap_take(h.space, &extra) == DBOS_OK);
	CHECK((extra & 0xff) == (ids[3] & 0xff) && extra != ids[3]);
	CHECK_EQ(dbos_snap_page_read(h.space, ids[3], 0, page), DBOS_ECLOSED);
	CHECK_EQ(dbos_snap_page_read(h.space, extra, 16, page), DBOS_ERANGE);
	CHECK_EQ(dbos_snap_read(h.space, extra, 16 * DBOS_PAGE_SIZE - 10, 11, page), DBOS_ERANGE);
	CHECK_EQ(dbos_snap_read(h.space, extra, 16 * DBOS_PAGE_SIZE - 10, 10, page), DBOS_OK);
	CHECK_EQ(dbos_snap_page_read(h.space, 0x12345678ff, 0, page), DBOS_EINVAL);
	/* A pinned snapshot cannot be released. */
	REQUIRE(dbos_snap_pin(h.space, extra) == DBOS_OK);
	CHECK_EQ(dbos_snap_release(h.space, extra), DBOS_EBUSY);
	dbos_snap_unpin(h.space, extra);
	CHECK_EQ(dbos_snap_release(h.space, extra), DBOS_OK);
	/* Writers: ranges and limits. */
	dbos_snap_writer *writer;
	REQUIRE(dbos_snap_writer_register(h.space, &writer) == DBOS_OK);
	void *address;
	CHECK_EQ(dbos_snap_write_begin(writer, 16, &address), DBOS_ERANGE);
	CHECK_EQ(dbos_snap_writer_epoch(writer), 0); /* a failed begin left the section */
	dbos_snap_writer_unregister(writer);
	dbos_snap_writer *writers[DBOS_SNAP_WRITER_COUNT_MAX];
	for (uint32_t i = 0; i < DBOS_SNAP_WRITER_COUNT_MAX; i++)
		REQUIRE(dbos_snap_writer_register(h.space, &writers[i]) == DBOS_OK);
	CHECK_EQ(dbos_snap_writer_register(h.space, &writer), DBOS_ELIMIT);
	for (uint32_t i = 0; i < DBOS_SNAP_WRITER_COUNT_MAX; i++)
		dbos_snap_writer_unregister(writers[i]);
	/* Destroy releases whatever is still live. */
	harness_free(&h);
}

static void test_space_arguments(void)
{
	dbos_snap_space *space = NULL;
	dbos_snap_space_options options = { .base = (void *)4096, .size = 0 };
	CHECK_EQ(dbos_snap_space_create(&options, &space), DBOS_EINVAL);
	options.size = 100;
	CHECK_EQ(dbos_snap_space_create(&options, &space), DBOS_EINVAL);
	options.size = 4096;
	options.base = (void *)4097;
	CHECK_EQ(dbos_snap_space_create(&options, &space), DBOS_EINVAL);
	options.base = (void *)4096;
	options.mechanism = (enum dbos_snap_mechanism)9;
	CHECK_EQ(dbos_snap_space_create(&options, &space), DBOS_EINVAL);
	options.mechanism = DBOS_SNAP_EPOCH;
	options.size = (DBOS_SNAP_PAGE_COUNT_MAX + 1) * DBOS_PAGE_SIZE;
	CHECK_EQ(dbos_snap_space_create(&options, &space), DBOS_ERANGE);
	CHECK(dbos_snap_mechanism_available(DBOS_SNAP_EPOCH, NULL));
	CHECK(dbos_snap_mechanism_available(DBOS_SNAP_FORK, NULL));
	const char *reason = "x";
	CHECK(!dbos_snap_mechanism_available(DBOS_SNAP_AUTO, &reason) && reason != NULL);
	CHECK(strcmp(dbos_snap_mechanism_name(DBOS_SNAP_UFFD_WP), "uffd-wp") == 0);
}

int main(void)
{
	RUN_TEST(test_space_arguments);
	RUN_TEST(test_epoch_snapshot_equals_memory_at_take);
	RUN_TEST(test_epoch_two_live_snapshots_share_unchanged_pages);
	RUN_TEST(test_epoch_racing_writers_copy_once);
	RUN_TEST(test_epoch_take_waits_for_sections_in_progress);
	RUN_TEST(test_epoch_handles_and_limits);
	return TEST_EXIT_STATUS();
}
