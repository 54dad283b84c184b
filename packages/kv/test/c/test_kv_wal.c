/*
 * test_kv_wal.c - the write-ahead log on one thread: LSNs, segments, replay,
 * torn tails, truncation, waiting and the listener, injected write and sync
 * failures, and the threadless mode of runtimes without threads.
 */
#include "test_kv_wal_fixture.h"

#define SMALL_SEGMENT_BYTES (16u * 1024u)

static struct kv_wal *open_log(const char *dir, uint64_t next_lsn, uint64_t segment_bytes, bool threadless)
{
	struct kv_wal_options options = { .segment_bytes = segment_bytes, .threadless = threadless };
	struct kv_wal *wal = NULL;
	dbos_status status = kv_wal_open_with(dir, next_lsn, NULL, &options, &wal);
	if (status != DBOS_OK)
		fprintf(stderr, "kv_wal_open_with(%s, %" PRIu64 "): %s\n", dir, next_lsn, dbos_status_name(status));
	return wal;
}

/* Append tags first..first+count-1; their LSNs into lsns[] (may be NULL). */
static bool append_tags(struct kv_wal *wal, uint64_t first, uint64_t count, bool sync, uint64_t *lsns)
{
	for (uint64_t i = 0; i < count; i++) {
		uint64_t lsn;
		if (fixture_append(wal, first + i, sync, &lsn) != DBOS_OK)
			return false;
		if (lsns)
			lsns[i] = lsn;
	}
	return true;
}

static void test_fresh_log_starts_at_lsn_8(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, 0, false);
	REQUIRE(wal);
	CHECK_EQ(kv_wal_next_lsn(wal), 8);
	CHECK_EQ(kv_wal_written_lsn(wal), 8);
	CHECK_EQ(kv_wal_synced_lsn(wal), 8);
	CHECK_EQ(kv_wal_wait(wal, 0, true), DBOS_OK);      /* before every record: nothing to wait for */
	CHECK_EQ(kv_wal_wait(wal, 8, false), DBOS_EINVAL); /* not appended: would wait for ever */
	uint64_t lsn = 0;
	CHECK_EQ(fixture_append(wal, 1, false, &lsn), DBOS_OK);
	CHECK_EQ(lsn, 8);
	uint64_t end = 8 + kv_wal_record_bytes(fixture_payload_size(1));
	CHECK_EQ(kv_wal_next_lsn(wal), end);
	CHECK_EQ(kv_wal_bytes_since(wal, 8), end - 8);
	CHECK_EQ(kv_wal_bytes_since(wal, end + 8), 0);
	CHECK_EQ(kv_wal_wait(wal, lsn, false), DBOS_OK);
	CHECK(kv_wal_written_lsn(wal) == end);          /* the end of the record, so > its LSN */
	CHECK_EQ(kv_wal_wait(wal, lsn, true), DBOS_OK); /* asks for the sync nobody else asked for */
	CHECK_EQ(kv_wal_synced_lsn(wal), end);
	struct kv_wal_stats stats;
	kv_wal_stats(wal, &stats);
	CHECK_EQ(stats.bytes, end - 8);
	CHECK(stats.syncs >= 1 && stats.syncs <= stats.group_commits);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	CHECK(fixture_segment_exists(dir, 8));
	CHECK_EQ(fixture_segment_size(dir, 8), end - 8);

	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(replayed.count, 1);
	CHECK(replayed.count == 1 && replayed.lsns[0] == 8 && replayed.tags[0] == 1);
	CHECK(replayed.payloads_ok);
	CHECK_EQ(next_lsn, end);
	fixture_replayed_free(&replayed);
}

static void test_round_trip_across_segments(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, SMALL_SEGMENT_BYTES, false);
	REQUIRE(wal);
	enum {
		COUNT = 300
	};
	uint64_t lsns[COUNT];
	REQUIRE(append_tags(wal, 0, COUNT, false, lsns));
	uint64_t end = kv_wal_next_lsn(wal);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);

	/* Segments are contiguous, each at most SMALL_SEGMENT_BYTES, each named by its first record's LSN. */
	uint64_t segment = 8, segments = 0;
	while (segment < end) {
		REQUIRE(fixture_segment_exists(dir, segment));
		uint64_t size = fixture_segment_size(dir, segment);
		CHECK(size > 0 && size <= SMALL_SEGMENT_BYTES);
		bool starts_a_record = false;
		for (int i = 0; i < COUNT; i++)
			starts_a_record |= lsns[i] == segment;
		CHECK(starts_a_record);
		segment += size;
		segments++;
	}
	CHECK_EQ(segment, end);
	CHECK(segments > 10);

	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 8, &replayed, &next_lsn), DBOS_OK);
	REQUIRE(replayed.count == COUNT);
	for (int i = 0; i < COUNT; i++) {
		CHECK_EQ(replayed.lsns[i], lsns[i]);
		CHECK_EQ(replayed.tags[i], i);
	}
	CHECK(replayed.payloads_ok);
	CHECK_EQ(next_lsn, end);
	/* From a record in the middle, and from inside one (the next whole record on). */
	CHECK_EQ(fixture_replay(dir, lsns[150], &replayed, &next_lsn), DBOS_OK);
	CHECK(replayed.count == COUNT - 150 && replayed.tags[0] == 150);
	CHECK_EQ(fixture_replay(dir, lsns[150] + 8, &replayed, &next_lsn), DBOS_OK);
	CHECK(replayed.count == COUNT - 151 && replayed.tags[0] == 151);
	CHECK_EQ(next_lsn, end);
	fixture_replayed_free(&replayed);
}

static void test_record_bigger_than_a_segment_gets_its_own(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, SMALL_SEGMENT_BYTES, false);
	REQUIRE(wal);
	uint32_t big_size = 3 * SMALL_SEGMENT_BYTES + 5;
	uint8_t *big = malloc(big_size);
	REQUIRE(big);
	for (uint32_t i = 0; i < big_size; i++)
		big[i] = (uint8_t)(i * 13);
	uint64_t small_lsn, big_lsn, last_lsn;
	CHECK_EQ(fixture_append(wal, 1, false, &small_lsn), DBOS_OK);
	CHECK_EQ(kv_wal_append(wal, big, big_size, true, &big_lsn), DBOS_OK);
	CHECK_EQ(fixture_append(wal, 2, false, &last_lsn), DBOS_OK);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	CHECK_EQ(fixture_segment_size(dir, small_lsn), big_lsn - small_lsn);
	CHECK_EQ(fixture_segment_size(dir, big_lsn), kv_wal_record_bytes(big_size));
	CHECK(fixture_segment_exists(dir, last_lsn));

	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(kv_wal_replay(dir, 0, NULL, fixture_collect, &replayed, &next_lsn, NULL), DBOS_OK);
	CHECK(replayed.count == 3 && replayed.lsns[1] == big_lsn && replayed.sizes[1] == big_size);
	CHECK_EQ(next_lsn, last_lsn + kv_wal_record_bytes(fixture_payload_size(2)));
	fixture_replayed_free(&replayed);
	free(big);
}

static void test_torn_tail_is_cut_and_appends_follow_it(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, 0, false);
	REQUIRE(wal);
	enum {
		COUNT = 20
	};
	uint64_t lsns[COUNT];
	REQUIRE(append_tags(wal, 0, COUNT, true, lsns));
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);

	/* A crash in the middle of writing the last record. */
	fixture_segment_truncate(dir, 8, lsns[COUNT - 1] - 8 + 21);
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(replayed.count, COUNT - 1);
	CHECK_EQ(next_lsn, lsns[COUNT - 1]);

	/* Reopen there: the torn bytes go, the next record takes the torn one's LSN. */
	wal = open_log(dir, next_lsn, 0, false);
	REQUIRE(wal);
	CHECK_EQ(fixture_segment_size(dir, 8), lsns[COUNT - 1] - 8);
	uint64_t lsn = 0;
	CHECK_EQ(fixture_append(wal, 100, true, &lsn), DBOS_OK);
	CHECK_EQ(lsn, lsns[COUNT - 1]);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK(replayed.count == COUNT && replayed.tags[COUNT - 1] == 100 && replayed.payloads_ok);

	/* A flipped bit anywhere in a record (payload, size, lsn, crc) ends the log before it. */
	uint64_t offsets[] = { 16 + 3, 4, 9, 0 };
	for (int k = 0; k < 4; k++) {
		fixture_segment_flip(dir, 8, lsns[10] - 8 + offsets[k], 0x10);
		CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
		CHECK_EQ(replayed.count, 10);
		CHECK_EQ(next_lsn, lsns[10]);
		fixture_segment_flip(dir, 8, lsns[10] - 8 + offsets[k], 0x10); /* repair */
	}
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(replayed.count, COUNT);
	fixture_replayed_free(&replayed);
}

static void test_damage_in_an_old_segment_ends_the_log_there(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, SMALL_SEGMENT_BYTES, false);
	REQUIRE(wal);
	enum {
		COUNT = 100
	};
	uint64_t lsns[COUNT];
	REQUIRE(append_tags(wal, 0, COUNT, false, lsns));
	uint64_t end = kv_wal_next_lsn(wal);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	uint64_t second = 8 + fixture_segment_size(dir, 8);
	uint64_t third = second + fixture_segment_size(dir, second);
	REQUIRE(third < end);
	int third_index = 0;
	while (lsns[third_index] != third)
		third_index++;

	fixture_segment_flip(dir, third, 20, 0xff);
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(replayed.count, third_index);
	CHECK_EQ(next_lsn, third);

	/* Reopening there drops the segments past the end; new records follow the last good one. */
	wal = open_log(dir, next_lsn, SMALL_SEGMENT_BYTES, false);
	REQUIRE(wal);
	CHECK_EQ(fixture_segment_size(dir, third), 0);
	for (int i = third_index + 1; i < COUNT; i++)
		CHECK(!fixture_segment_exists(dir, lsns[i])); /* no segment begins past the new end */
	CHECK(append_tags(wal, 1000, 3, true, NULL));
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(replayed.count, third_index + 3);
	CHECK(replayed.count == (uint64_t)third_index + 3 && replayed.tags[third_index] == 1000 &&
	      replayed.payloads_ok);
	fixture_replayed_free(&replayed);
}

static void test_missing_segment_is_the_end(void)
{
	char dir[300], path[512];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, SMALL_SEGMENT_BYTES, false);
	REQUIRE(wal);
	REQUIRE(append_tags(wal, 0, 60, false, NULL));
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	uint64_t second = 8 + fixture_segment_size(dir, 8);
	fixture_segment_path(path, sizeof path, dir, second);
	REQUIRE(unlink(path) == 0);
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(next_lsn, second);
	CHECK(replayed.count > 0 && replayed.count < 60);
	fixture_replayed_free(&replayed);
}

static void test_truncate_before_and_replay_from_the_oldest(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, SMALL_SEGMENT_BYTES, false);
	REQUIRE(wal);
	enum {
		COUNT = 200
	};
	uint64_t lsns[COUNT];
	REQUIRE(append_tags(wal, 0, COUNT, false, lsns));
	CHECK_EQ(kv_wal_sync(wal), DBOS_OK);
	CHECK_EQ(kv_wal_synced_lsn(wal), kv_wal_next_lsn(wal));
	CHECK_EQ(kv_wal_truncate_before(wal, lsns[150]), DBOS_OK);
	/* The segment holding lsns[150] stays, every one before it goes. */
	uint64_t oldest = lsns[150];
	while (oldest > 8 && !fixture_segment_exists(dir, oldest))
		oldest -= 8;
	CHECK(fixture_segment_exists(dir, oldest));
	CHECK(oldest > 8);
	CHECK(!fixture_segment_exists(dir, 8));
	int oldest_index = 0;
	while (lsns[oldest_index] != oldest)
		oldest_index++;
	for (uint64_t lsn = 8; lsn < oldest; lsn += 8)
		CHECK(!fixture_segment_exists(dir, lsn));

	/* Replay from before the oldest segment starts at it. */
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 8, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(replayed.count, COUNT - oldest_index);
	CHECK(replayed.count > 0 && replayed.lsns[0] == oldest);

	/* Truncating past the end keeps the segment being appended, and appending goes on. */
	uint64_t current = atomic_load(&wal->current_segment_lsn);
	CHECK_EQ(kv_wal_truncate_before(wal, UINT64_MAX), DBOS_OK);
	CHECK(fixture_segment_exists(dir, current));
	CHECK(append_tags(wal, 500, 2, true, NULL));
	uint64_t end = kv_wal_next_lsn(wal);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(next_lsn, end);
	CHECK(replayed.count >= 2 && replayed.tags[replayed.count - 1] == 501);
	fixture_replayed_free(&replayed);
}

static void test_replay_of_an_empty_directory(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(next_lsn, 8);
	CHECK_EQ(replayed.count, 0);
	/* A checkpoint at 4096 whose log is gone: the log goes on from there. */
	CHECK_EQ(fixture_replay(dir, 4096, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(next_lsn, 4096);
	struct kv_wal *wal = open_log(dir, next_lsn, 0, false);
	REQUIRE(wal);
	uint64_t lsn = 0;
	CHECK_EQ(fixture_append(wal, 7, false, &lsn), DBOS_OK);
	CHECK_EQ(lsn, 4096);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	CHECK(fixture_segment_exists(dir, 4096));
	CHECK_EQ(fixture_replay(dir, 4096, &replayed, &next_lsn), DBOS_OK);
	CHECK(replayed.count == 1 && replayed.lsns[0] == 4096);
	fixture_replayed_free(&replayed);
}

static dbos_status apply_refuses_third(void *context, uint64_t lsn, const void *payload, uint32_t size)
{
	uint32_t *calls = context;
	return ++*calls == 3 ? DBOS_ECORRUPT : DBOS_OK;
}

static void test_failing_apply_stops_replay(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, 0, false);
	REQUIRE(wal);
	REQUIRE(append_tags(wal, 0, 5, false, NULL));
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	uint32_t calls = 0;
	uint64_t next_lsn = 0, records = 0;
	CHECK_EQ(kv_wal_replay(dir, 0, NULL, apply_refuses_third, &calls, &next_lsn, &records), DBOS_ECORRUPT);
	CHECK_EQ(calls, 3);
}

static void test_log_that_ends_before_the_checkpoint_goes_on_from_it(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, 0, false);
	REQUIRE(wal);
	REQUIRE(append_tags(wal, 0, 3, true, NULL));
	uint64_t end = kv_wal_next_lsn(wal);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	/* A checkpoint at end + 4096 whose log tail was lost: replay says go on from the checkpoint. */
	uint64_t checkpoint = end + 4096;
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, checkpoint, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(replayed.count, 0);
	CHECK_EQ(next_lsn, checkpoint);
	wal = open_log(dir, next_lsn, 0, false);
	REQUIRE(wal);
	uint64_t lsn = 0;
	CHECK_EQ(fixture_append(wal, 50, true, &lsn), DBOS_OK);
	CHECK_EQ(lsn, checkpoint);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	CHECK_EQ(fixture_segment_size(dir, 8), end - 8); /* the old segment is left as it was */
	CHECK(fixture_segment_exists(dir, checkpoint));
	CHECK_EQ(fixture_replay(dir, checkpoint, &replayed, &next_lsn), DBOS_OK);
	CHECK(replayed.count == 1 && replayed.tags[0] == 50);
	fixture_replayed_free(&replayed);
}

static void test_bad_arguments(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = NULL;
	CHECK_EQ(kv_wal_open(dir, 0, NULL, &wal), DBOS_EINVAL);
	CHECK_EQ(kv_wal_open(dir, 12, NULL, &wal), DBOS_EINVAL); /* records start 8-aligned */
	CHECK_EQ(kv_wal_open(NULL, 8, NULL, &wal), DBOS_EINVAL);
	char missing[400];
	snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
	CHECK_EQ(kv_wal_open(missing, 8, NULL, &wal), DBOS_ENOENT);
	CHECK(wal == NULL);
	REQUIRE(kv_wal_open(dir, 8, NULL, &wal) == DBOS_OK);
	uint8_t byte = 0;
	CHECK_EQ(kv_wal_append(wal, &byte, KV_WAL_PAYLOAD_MAX + 1, false, NULL), DBOS_ELIMIT);
	CHECK_EQ(kv_wal_append(wal, NULL, 1, false, NULL), DBOS_EINVAL);
	CHECK_EQ(kv_wal_append(wal, NULL, 0, false, NULL), DBOS_OK); /* an empty payload is a record too */
	CHECK_EQ(kv_wal_next_lsn(wal), 8 + 16);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
}

/* ---- Listener and failures ---- */

struct listened {
	dbos_mutex lock;
	uint64_t calls;
	uint64_t written_lsn, synced_lsn;
	dbos_status status;
	bool monotonic;
};

static void listener_record(void *context, uint64_t written_lsn, uint64_t synced_lsn, dbos_status status)
{
	struct listened *listened = context;
	dbos_mutex_lock(&listened->lock);
	if (written_lsn < listened->written_lsn || synced_lsn < listened->synced_lsn || synced_lsn > written_lsn)
		listened->monotonic = false;
	listened->calls++;
	listened->written_lsn = written_lsn;
	listened->synced_lsn = synced_lsn;
	if (status != DBOS_OK && listened->status == DBOS_OK)
		listened->status = status;
	dbos_mutex_unlock(&listened->lock);
}

static void test_listener_sees_each_group_commit(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, 0, false);
	REQUIRE(wal);
	struct listened listened = { .monotonic = true };
	kv_wal_set_listener(wal, listener_record, &listened);
	uint64_t lsn = 0;
	for (int i = 0; i < 10; i++) {
		CHECK_EQ(fixture_append(wal, (uint64_t)i, i % 3 == 0, &lsn), DBOS_OK);
		CHECK_EQ(kv_wal_wait(wal, lsn, false), DBOS_OK);
	}
	CHECK_EQ(kv_wal_sync(wal), DBOS_OK);
	uint64_t end = kv_wal_next_lsn(wal);
	CHECK_EQ(kv_wal_synced_lsn(wal), end);
	struct kv_wal_stats stats;
	kv_wal_stats(wal, &stats);
	dbos_mutex_lock(&listened.lock);
	CHECK(listened.monotonic);
	CHECK_EQ(listened.calls, stats.group_commits);
	CHECK_EQ(listened.written_lsn, end);
	CHECK_EQ(listened.synced_lsn, end);
	CHECK_EQ(listened.status, DBOS_OK);
	dbos_mutex_unlock(&listened.lock);
	kv_wal_set_listener(wal, NULL, NULL);
	CHECK_EQ(fixture_append(wal, 99, true, &lsn), DBOS_OK);
	CHECK_EQ(kv_wal_wait(wal, lsn, true), DBOS_OK);
	CHECK_EQ(listened.written_lsn, end); /* removed: not called again */
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
}

/* Inject a failure into the write (or the sync) of the second batch. */
static void check_failure_poisons(int32_t write_errno, int32_t sync_errno, dbos_status expected)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, 0, false);
	REQUIRE(wal);
	struct listened listened = { .monotonic = true };
	kv_wal_set_listener(wal, listener_record, &listened);
	uint64_t good = 0, doomed = 0, lsn = 0;
	CHECK_EQ(fixture_append(wal, 1, true, &good), DBOS_OK);
	CHECK_EQ(kv_wal_wait(wal, good, true), DBOS_OK);
	uint64_t good_end = kv_wal_next_lsn(wal);
	kv_wal_test_inject(wal, write_errno, sync_errno);
	CHECK_EQ(fixture_append(wal, 2, true, &doomed), DBOS_OK); /* appends never wait for I/O */
	CHECK_EQ(kv_wal_wait(wal, doomed, true), expected);
	CHECK_EQ(fixture_append(wal, 3, false, &lsn), DBOS_EIO);
	CHECK_EQ(kv_wal_wait(wal, doomed, false), expected);
	CHECK_EQ(kv_wal_wait(wal, good, true), DBOS_OK); /* written before the failure */
	CHECK_EQ(kv_wal_written_lsn(wal), good_end);
	CHECK_EQ(kv_wal_sync(wal), expected);
	dbos_mutex_lock(&listened.lock);
	CHECK_EQ(listened.status, expected);
	dbos_mutex_unlock(&listened.lock);
	CHECK_EQ(kv_wal_close(wal), expected);

	/* The failed batch was cut off: its writer was told it failed, so it must not come back. */
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK(replayed.count == 1 && replayed.tags[0] == 1);
	CHECK_EQ(next_lsn, good_end);
	wal = open_log(dir, next_lsn, 0, false);
	REQUIRE(wal);
	CHECK_EQ(fixture_append(wal, 4, true, &lsn), DBOS_OK);
	CHECK_EQ(lsn, good_end);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	fixture_replayed_free(&replayed);
}

static void test_write_failure_poisons_the_log(void)
{
	check_failure_poisons(28 /* ENOSPC */, 0, DBOS_ENOSPC);
	check_failure_poisons(5 /* EIO */, 0, DBOS_EIO);
}

static void test_sync_failure_poisons_the_log(void)
{
	check_failure_poisons(0, 5 /* EIO */, DBOS_EIO);
}

static void test_threadless_log_commits_when_waited_for(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal *wal = open_log(dir, KV_WAL_FIRST_LSN, SMALL_SEGMENT_BYTES, true);
	REQUIRE(wal);
	enum {
		COUNT = 80
	};
	uint64_t lsns[COUNT];
	REQUIRE(append_tags(wal, 0, COUNT, false, lsns));
	CHECK_EQ(kv_wal_written_lsn(wal), 8); /* nobody has waited: nothing written */
	CHECK_EQ(kv_wal_wait(wal, lsns[40], false), DBOS_OK);
	CHECK(kv_wal_written_lsn(wal) > lsns[40]);
	CHECK_EQ(kv_wal_synced_lsn(wal) > lsns[40], true); /* segments rolled on the way are synced */
	CHECK_EQ(kv_wal_wait(wal, lsns[COUNT - 1], true), DBOS_OK);
	CHECK_EQ(kv_wal_synced_lsn(wal), kv_wal_next_lsn(wal));
	REQUIRE(append_tags(wal, COUNT, 5, true, NULL));
	uint64_t end = kv_wal_next_lsn(wal);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(replayed.count, COUNT + 5);
	CHECK(replayed.payloads_ok);
	CHECK_EQ(next_lsn, end);
	fixture_replayed_free(&replayed);
}

static void test_back_pressure_bounds_the_queue(void)
{
	/* Threadless, so that nothing else writes: only back-pressure can move written_lsn here. */
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal_options options = { .queue_bytes_max = 64u * 1024u, .threadless = true };
	struct kv_wal *wal = NULL;
	REQUIRE(kv_wal_open_with(dir, KV_WAL_FIRST_LSN, NULL, &options, &wal) == DBOS_OK);
	enum {
		COUNT = 400
	}; /* about 600 KiB of records */
	REQUIRE(append_tags(wal, 0, COUNT, false, NULL));
	uint64_t queued = kv_wal_next_lsn(wal) - kv_wal_written_lsn(wal);
	CHECK(kv_wal_written_lsn(wal) > 8);       /* appenders committed the full queue themselves */
	CHECK(queued <= options.queue_bytes_max); /* and never left more than the bound queued */
	for (int i = 0; i < 2; i++)
		CHECK(wal->buffers[i].capacity <= KV_WAL_BUFFER_BYTES_MIN);
	/* A record larger than the bound still goes through, alone. */
	uint32_t big_size = 200u * 1024u;
	uint8_t *big = calloc(1, big_size);
	REQUIRE(big);
	uint64_t big_lsn = 0;
	CHECK_EQ(kv_wal_append(wal, big, big_size, false, &big_lsn), DBOS_OK);
	CHECK_EQ(fixture_append(wal, COUNT, false, NULL), DBOS_OK);
	CHECK_EQ(kv_wal_written_lsn(wal), big_lsn + kv_wal_record_bytes(big_size)); /* pushed out by the next */
	free(big);
	uint64_t end = kv_wal_next_lsn(wal);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(kv_wal_replay(dir, 0, NULL, fixture_collect, &replayed, &next_lsn, NULL), DBOS_OK);
	CHECK_EQ(replayed.count, COUNT + 2);
	CHECK_EQ(next_lsn, end);
	fixture_replayed_free(&replayed);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(test_fresh_log_starts_at_lsn_8);
	RUN_TEST(test_round_trip_across_segments);
	RUN_TEST(test_record_bigger_than_a_segment_gets_its_own);
	RUN_TEST(test_torn_tail_is_cut_and_appends_follow_it);
	RUN_TEST(test_damage_in_an_old_segment_ends_the_log_there);
	RUN_TEST(test_missing_segment_is_the_end);
	RUN_TEST(test_truncate_before_and_replay_from_the_oldest);
	RUN_TEST(test_replay_of_an_empty_directory);
	RUN_TEST(test_failing_apply_stops_replay);
	RUN_TEST(test_log_that_ends_before_the_checkpoint_goes_on_from_it);
	RUN_TEST(test_bad_arguments);
	RUN_TEST(test_listener_sees_each_group_commit);
	RUN_TEST(test_write_failure_poisons_the_log);
	RUN_TEST(test_sync_failure_poisons_the_log);
	RUN_TEST(test_threadless_log_commits_when_waited_for);
	RUN_TEST(test_back_pressure_bounds_the_queue);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
