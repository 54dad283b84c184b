/*
 * test_kv_wal_threads.c - many appenders at once: every record gets a distinct
 * LSN in the order it was appended, comes back from replay exactly once, and
 * waits (written and synced) return only once the record is there; group
 * commit batches the syncs (never more syncs than commits, segment rolls aside).
 */
#include <pthread.h>

#include "test_kv_wal_fixture.h"

#define THREADS 6u
#define PER_THREAD 400u
#define TAG(thread, index) ((uint64_t)(thread) << 32 | (index))

struct appender {
	struct kv_wal *wal;
	uint32_t thread;
	bool sync_some;        /* every 7th record asks for fdatasync, every 25th is waited for synced */
	uint64_t *lsns;        /* lsns[index] of this thread's records */
	_Atomic uint32_t *bad; /* a wait that returned too early or failed */
};

static void *appender_run(void *argument)
{
	struct appender *appender = argument;
	for (uint32_t i = 0; i < PER_THREAD; i++) {
		bool sync = appender->sync_some && i % 7 == 0;
		uint64_t lsn = 0;
		if (fixture_append(appender->wal, TAG(appender->thread, i), sync, &lsn) != DBOS_OK) {
			atomic_fetch_add(appender->bad, 1);
			return NULL;
		}
		appender->lsns[i] = lsn;
		if (i % 25 == 0) {
			bool synced = appender->sync_some;
			if (kv_wal_wait(appender->wal, lsn, synced) != DBOS_OK ||
			    (synced ? kv_wal_synced_lsn(appender->wal) : kv_wal_written_lsn(appender->wal)) <= lsn)
				atomic_fetch_add(appender->bad, 1);
		}
	}
	return NULL;
}

struct monitor {
	_Atomic uint64_t calls;
	_Atomic uint64_t last_written;
	_Atomic uint32_t regressions; /* written or synced went backwards, or synced passed written */
	uint64_t last_synced;         /* the commit thread alone touches it */
};

static void monitor_listen(void *context, uint64_t written_lsn, uint64_t synced_lsn, dbos_status status)
{
	struct monitor *monitor = context;
	if (status != DBOS_OK || written_lsn < atomic_load(&monitor->last_written) ||
	    synced_lsn < monitor->last_synced || synced_lsn > written_lsn)
		atomic_fetch_add(&monitor->regressions, 1);
	atomic_store(&monitor->last_written, written_lsn);
	monitor->last_synced = synced_lsn;
	atomic_fetch_add(&monitor->calls, 1);
}

static void run_appenders(bool sync_some, uint64_t segment_bytes, uint64_t queue_bytes_max)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal_options options = { .segment_bytes = segment_bytes, .queue_bytes_max = queue_bytes_max };
	struct kv_wal *wal = NULL;
	REQUIRE(kv_wal_open_with(dir, KV_WAL_FIRST_LSN, NULL, &options, &wal) == DBOS_OK);
	struct monitor monitor = { 0 };
	kv_wal_set_listener(wal, monitor_listen, &monitor);
	_Atomic uint32_t bad = 0;
	static uint64_t lsns[THREADS][PER_THREAD];
	struct appender appenders[THREADS];
	pthread_t threads[THREADS];
	for (uint32_t t = 0; t < THREADS; t++) {
		appenders[t] = (struct appender){
			.wal = wal, .thread = t, .sync_some = sync_some, .lsns = lsns[t], .bad = &bad
		};
		REQUIRE(pthread_create(&threads[t], NULL, appender_run, &appenders[t]) == 0);
	}
	for (uint32_t t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);
	CHECK_EQ(atomic_load(&bad), 0);
	if (queue_bytes_max) /* back-pressure kept every buffer at its first size */
		for (int i = 0; i < 2; i++)
			CHECK(wal->buffers[i].capacity <= KV_WAL_BUFFER_BYTES_MIN);
	uint64_t end = kv_wal_next_lsn(wal);
	CHECK_EQ(kv_wal_sync(wal), DBOS_OK);
	struct kv_wal_stats stats;
	kv_wal_stats(wal, &stats);
	/* Each group commit syncs at most once; each segment roll syncs the segment it leaves. */
	struct kv_wal_segments segments;
	REQUIRE(kv_wal_segments_list(dir, &segments) == DBOS_OK);
	uint64_t rolls = segments.count - 1;
	kv_wal_segments_free(&segments);
	CHECK(stats.syncs <= stats.group_commits + rolls);
	CHECK(segment_bytes || rolls == 0);
	CHECK(stats.group_commits <= THREADS * PER_THREAD + 1);
	CHECK_EQ(stats.bytes, end - 8);
	CHECK_EQ(kv_wal_close(wal), DBOS_OK);
	CHECK_EQ(atomic_load(&monitor.regressions), 0);
	CHECK_EQ(atomic_load(&monitor.last_written), end);
	CHECK_EQ(monitor.last_synced, end);
	fprintf(stderr, "%s: %u records, %" PRIu64 " group commits, %" PRIu64 " syncs, %" PRIu64 " rolls\n",
		sync_some ? "sync" : "no sync", THREADS * PER_THREAD, stats.group_commits, stats.syncs, rolls);

	/* Replay: LSNs ascending, each record once, each thread's records in its own order, at their LSNs. */
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK_EQ(next_lsn, end);
	REQUIRE(replayed.count == THREADS * PER_THREAD);
	CHECK(replayed.payloads_ok);
	uint32_t next_index[THREADS] = { 0 };
	for (uint64_t r = 0; r < replayed.count; r++) {
		uint32_t thread = (uint32_t)(replayed.tags[r] >> 32), index = (uint32_t)replayed.tags[r];
		REQUIRE(thread < THREADS);
		CHECK_EQ(index, next_index[thread]); /* in order, none twice, none skipped */
		CHECK_EQ(replayed.lsns[r], lsns[thread][index]);
		if (r > 0)
			CHECK(replayed.lsns[r] > replayed.lsns[r - 1]);
		next_index[thread] = index + 1;
	}
	fixture_replayed_free(&replayed);
}

static void test_concurrent_appenders_without_sync(void)
{
	run_appenders(false, 0, 0);
}

static void test_concurrent_appenders_with_sync(void)
{
	run_appenders(true, 0, 0);
}

static void test_concurrent_appenders_rolling_segments(void)
{
	run_appenders(true, 64u * 1024u, 0);
}

static void test_concurrent_appenders_under_back_pressure(void)
{
	run_appenders(false, 0, 32u * 1024u);
}

/* Waiters on other threads see a failure instead of sleeping for ever. */
struct failing_waiter {
	struct kv_wal *wal;
	uint64_t lsn;
	dbos_status status;
};

static void *failing_waiter_run(void *argument)
{
	struct failing_waiter *waiter = argument;
	waiter->status = kv_wal_wait(waiter->wal, waiter->lsn, true);
	return NULL;
}

static void test_waiters_on_other_threads_learn_of_a_failure(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	struct kv_wal_options options = { .threadless = false };
	struct kv_wal *wal = NULL;
	REQUIRE(kv_wal_open_with(dir, KV_WAL_FIRST_LSN, NULL, &options, &wal) == DBOS_OK);
	kv_wal_test_inject(wal, 0, 5 /* EIO */);
	struct failing_waiter waiters[4];
	pthread_t threads[4];
	/* Appended without sync: written fine; the sync the waiters ask for is the one that fails. */
	for (int i = 0; i < 4; i++) {
		uint64_t lsn = 0;
		CHECK_EQ(fixture_append(wal, (uint64_t)i, false, &lsn), DBOS_OK);
		waiters[i] = (struct failing_waiter){ .wal = wal, .lsn = lsn, .status = DBOS_OK };
	}
	for (int i = 0; i < 4; i++)
		DBOS_ASSERT(pthread_create(&threads[i], NULL, failing_waiter_run, &waiters[i]) == 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		CHECK_EQ(waiters[i].status, DBOS_EIO);
	}
	CHECK_EQ(kv_wal_close(wal), DBOS_EIO);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(test_concurrent_appenders_without_sync);
	RUN_TEST(test_concurrent_appenders_with_sync);
	RUN_TEST(test_concurrent_appenders_rolling_segments);
	RUN_TEST(test_concurrent_appenders_under_back_pressure);
	RUN_TEST(test_waiters_on_other_threads_learn_of_a_failure);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
