/*
 * test_kv_checkpoint.c - checkpoint images written from an epoch: restore
 * rebuilds a page file the buffer pool opens with exactly the epoch's pages
 * and free chain; damaged images are skipped by find and refused by restore;
 * progress and cancel; pruning; the write rate (informational).
 */
#include "../../csrc/kv_checkpoint_format.h"
#include "test_kv_epoch_fixture.h"

#include <stdatomic.h>

static dbos_gateway *gateway(void)
{
	dbos_gateway *shared = NULL;
	DBOS_ASSERT(dbos_gateway_shared(&shared) == DBOS_OK);
	return shared;
}

/* A directory of its own for one case's checkpoints. */
static const char *case_dir(char *buffer, size_t size, const char *name)
{
	snprintf(buffer, size, "%s/%s", fixture_dir, name);
	DBOS_ASSERT(kv_fs_mkdir(buffer) == DBOS_OK);
	return buffer;
}

static bool file_exists(const char *dir, const char *name)
{
	uint64_t size;
	return kv_fs_size(dir, name, &size) == DBOS_OK;
}

static bool checkpoint_exists(const char *dir, uint64_t lsn, bool temporary)
{
	char name[KV_NAME_MAX + 1];
	kv_checkpoint_name(name, lsn, temporary);
	return file_exists(dir, name);
}

static dbos_bp *open_restored(const char *path, uint64_t pool_bytes)
{
	dbos_bp_config config = { .path = path, .pool_bytes = pool_bytes, .max_pages = 1u << 20 };
	dbos_bp *bp = NULL;
	dbos_bp_error error;
	dbos_status status = dbos_bp_open(&config, &bp, &error);
	if (status != DBOS_OK) {
		char text[200];
		dbos_bp_error_format(&error, text, sizeof text);
		fprintf(stderr, "dbos_bp_open(%s): %s: %s\n", path, dbos_status_name(status), text);
	}
	return bp;
}

/* Write checkpoint `lsn` of a pool's current state (an epoch begun and ended around it). */
static dbos_status checkpoint_now(struct fixture_pool *pool, const char *dir, uint64_t lsn)
{
	struct kv_epoch *epoch;
	dbos_status status = kv_epoch_begin(pool->epochs, &epoch);
	if (status != DBOS_OK)
		return status;
	status = kv_checkpoint_write(epoch, dir, lsn, gateway(), NULL, NULL);
	kv_epoch_end(epoch);
	return status;
}

/*
 * Changes made while the checkpoint's epoch is open do not reach it; the restored file opens
 * as a buffer pool with the epoch's page count, pages and free chain.
 */
static void write_then_restore_gives_the_epoch(void)
{
	char dir[300], restored[400];
	case_dir(dir, sizeof dir, "roundtrip");
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 1 * MiB));
	dbos_bp *bp = pool.bp;
	REQUIRE(fixture_populate(bp, 40));
	CHECK_EQ(dbos_bp_free(bp, 3), DBOS_OK);
	CHECK_EQ(dbos_bp_free(bp, 9), DBOS_OK); /* the chain: 9 -> 3 */
	REQUIRE(fixture_rewrite(bp, 5, 1));

	struct kv_epoch *epoch;
	REQUIRE(kv_epoch_begin(pool.epochs, &epoch) == DBOS_OK);
	REQUIRE(fixture_rewrite(bp, 5, 2));
	REQUIRE(fixture_rewrite(bp, 6, 2));
	CHECK_EQ(dbos_bp_free(bp, 7), DBOS_OK);
	REQUIRE(fixture_populate(bp, 3)); /* 7, 9, 3 from the chain: in the epoch they are as before */
	REQUIRE(fixture_populate(bp, 1)); /* 41: not in the epoch */
	CHECK_EQ(kv_checkpoint_write(epoch, dir, 0x1234, gateway(), NULL, NULL), DBOS_OK);
	kv_epoch_end(epoch);
	CHECK(!checkpoint_exists(dir, 0x1234, true));
	uint64_t size = 0;
	CHECK_EQ(kv_fs_size(dir, "checkpoint.0000000000001234", &size), DBOS_OK);
	CHECK_EQ(size, 4096 + 40 * 4096 + 32);
	fixture_pool_close(&pool);

	uint64_t lsn = 0;
	CHECK_EQ(kv_checkpoint_find(dir, gateway(), &lsn), DBOS_OK);
	CHECK_EQ(lsn, 0x1234);
	snprintf(restored, sizeof restored, "%s/pages.db", dir);
	REQUIRE(kv_checkpoint_restore(dir, lsn, restored, gateway()) == DBOS_OK);
	CHECK(!file_exists(dir, "pages.db.tmp"));

	bp = open_restored(restored, 1 * MiB);
	REQUIRE(bp);
	CHECK_EQ(dbos_bp_page_count(bp), 41);
	for (uint64_t pid = 1; pid <= 40; pid++) {
		if (pid == 3 || pid == 9)
			continue;
		CHECK(fixture_current_is(bp, pid, pid == 5 ? 1 : 0));
	}
	dbos_bp_file_header state;
	dbos_bp_file_state(bp, &state);
	CHECK_EQ(state.free_head, 9);
	CHECK_EQ(state.free_count, 2);
	/* The free chain works: the two freed pages come back, then the file grows. */
	uint64_t pids[3];
	for (int i = 0; i < 3; i++) {
		void *page;
		REQUIRE(dbos_bp_allocate(bp, &pids[i], &page) == DBOS_OK);
		CHECK_EQ(dbos_bp_unfix_exclusive(bp, pids[i], true), DBOS_OK);
	}
	CHECK_EQ(pids[0], 9);
	CHECK_EQ(pids[1], 3);
	CHECK_EQ(pids[2], 41);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

/* 16 KiB pages: page 0 of the restored file is a whole page, the pages lie at pid * 16 KiB. */
static void restore_with_large_pages(void)
{
	char dir[300], restored[400];
	case_dir(dir, sizeof dir, "large");
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open_sized(&pool, 1 * MiB, 16384));
	REQUIRE(fixture_populate(pool.bp, 30));
	CHECK_EQ(dbos_bp_free(pool.bp, 12), DBOS_OK);
	REQUIRE(checkpoint_now(&pool, dir, 77) == DBOS_OK);
	fixture_pool_close(&pool);
	snprintf(restored, sizeof restored, "%s/pages.db", dir);
	REQUIRE(kv_checkpoint_restore(dir, 77, restored, gateway()) == DBOS_OK);
	struct stat st;
	CHECK(stat(restored, &st) == 0 && st.st_size == 31 * 16384);
	dbos_bp *bp = open_restored(restored, 1 * MiB);
	REQUIRE(bp);
	CHECK_EQ(dbos_bp_page_size(bp), 16384);
	CHECK_EQ(dbos_bp_page_count(bp), 31);
	for (uint64_t pid = 1; pid <= 30; pid++)
		if (pid != 12)
			CHECK(fixture_current_is(bp, pid, 0));
	uint64_t pid;
	void *page;
	REQUIRE(dbos_bp_allocate(bp, &pid, &page) == DBOS_OK);
	CHECK_EQ(pid, 12);
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, pid, true), DBOS_OK);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

/* ---- A checkpoint while a writer goes on ------------------------------------------------- */

#define BUSY_PAGES 2000u

struct busy_writer {
	dbos_bp *bp;
	_Atomic bool stop;
	_Atomic uint64_t writes; /* read by the checkpoint's progress callback */
	uint64_t errors;
};

static void busy_writer_run(void *argument)
{
	struct busy_writer *writer = argument;
	uint64_t state = 99;
	for (uint64_t generation = 1; !atomic_load(&writer->stop); generation++) {
		state = state * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t pid = 1 + (state >> 33) % BUSY_PAGES;
		writer->errors += !fixture_rewrite(writer->bp, pid, generation);
		writer->writes++;
	}
}

/* Progress that yields the CPU, so the writer runs between the checkpoint's buffers. */
static bool busy_progress(void *context, uint64_t done, uint64_t total)
{
	struct busy_writer *writer = context;
	uint64_t until = writer->writes + 200;
	uint64_t deadline = fixture_now_ns() + 20 * 1000 * 1000ull;
	while (writer->writes < until && fixture_now_ns() < deadline)
		dbos_platform_yield();
	return true;
}

/* Pages rewritten while the checkpoint streams out reach the image as they were at begin. */
static void checkpoint_while_writing(void)
{
	char dir[300], restored[400];
	case_dir(dir, sizeof dir, "busy");
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 2 * MiB)); /* smaller than the pages: eviction too */
	REQUIRE(fixture_populate(pool.bp, BUSY_PAGES));
	static struct busy_writer writer;
	writer = (struct busy_writer){ .bp = pool.bp };
	struct kv_epoch *epoch;
	REQUIRE(kv_epoch_begin(pool.epochs, &epoch) == DBOS_OK);
	dbos_thread *thread;
	REQUIRE(dbos_platform_thread_start(busy_writer_run, &writer, &thread) == DBOS_OK);
	dbos_status status = kv_checkpoint_write(epoch, dir, 5, gateway(), busy_progress, &writer);
	atomic_store(&writer.stop, true);
	dbos_platform_thread_join(thread);
	printf("# %llu writes during the checkpoint, %llu pages copied\n",
	       (unsigned long long)atomic_load(&writer.writes), (unsigned long long)kv_epoch_pages_copied(pool.epochs));
	kv_epoch_end(epoch);
	fixture_pool_close(&pool);
	CHECK_EQ(status, DBOS_OK);
	CHECK_EQ(writer.errors, 0);
	CHECK(writer.writes > 0);

	snprintf(restored, sizeof restored, "%s/pages.db", dir);
	REQUIRE(kv_checkpoint_restore(dir, 5, restored, gateway()) == DBOS_OK);
	dbos_bp *bp = open_restored(restored, 1 * MiB);
	REQUIRE(bp);
	uint64_t wrong = 0;
	for (uint64_t pid = 1; pid <= BUSY_PAGES; pid++)
		wrong += !fixture_current_is(bp, pid, 0);
	CHECK_EQ(wrong, 0);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

/* A pool with no page but the header: an image of no pages restores to an empty pool file. */
static void empty_pool_round_trip(void)
{
	char dir[300], restored[400];
	case_dir(dir, sizeof dir, "empty");
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 1 * MiB));
	REQUIRE(checkpoint_now(&pool, dir, 8) == DBOS_OK);
	fixture_pool_close(&pool);
	uint64_t lsn = 0;
	CHECK_EQ(kv_checkpoint_find(dir, gateway(), &lsn), DBOS_OK);
	CHECK_EQ(lsn, 8);
	snprintf(restored, sizeof restored, "%s/pages.db", dir);
	REQUIRE(kv_checkpoint_restore(dir, 8, restored, gateway()) == DBOS_OK);
	dbos_bp *bp = open_restored(restored, 1 * MiB);
	REQUIRE(bp);
	CHECK_EQ(dbos_bp_page_count(bp), 1);
	REQUIRE(fixture_populate(bp, 1));
	CHECK_EQ(dbos_bp_page_count(bp), 2);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
	char missing[400];
	snprintf(missing, sizeof missing, "%s/no-such-dir", fixture_dir);
	CHECK_EQ(kv_checkpoint_find(missing, gateway(), &lsn), DBOS_ENOENT);
}

static void flip_byte(const char *dir, uint64_t lsn, uint64_t offset)
{
	char name[KV_NAME_MAX + 1], path[400];
	kv_checkpoint_name(name, lsn, false);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDWR);
	DBOS_ASSERT(fd >= 0);
	uint8_t byte;
	DBOS_ASSERT(pread(fd, &byte, 1, (off_t)offset) == 1);
	byte ^= 0x40;
	DBOS_ASSERT(pwrite(fd, &byte, 1, (off_t)offset) == 1);
	close(fd);
}

static void cut_short(const char *dir, uint64_t lsn, uint64_t bytes)
{
	char name[KV_NAME_MAX + 1], path[400];
	kv_checkpoint_name(name, lsn, false);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct stat st;
	DBOS_ASSERT(stat(path, &st) == 0);
	DBOS_ASSERT(truncate(path, st.st_size - (off_t)bytes) == 0);
}

/*
 * Find passes over images whose header or trailer fail (bad header, truncated, a leftover
 * .tmp) to the newest complete one; restore checks every page and refuses a flipped byte
 * with DBOS_ECORRUPT, leaving the existing page file alone.
 */
static void damaged_checkpoints_are_skipped_or_refused(void)
{
	char dir[300], restored[400];
	case_dir(dir, sizeof dir, "damaged");
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 1 * MiB));
	REQUIRE(fixture_populate(pool.bp, 20));
	for (uint64_t lsn = 10; lsn <= 60; lsn += 10) {
		REQUIRE(fixture_rewrite(pool.bp, 1, lsn));
		REQUIRE(checkpoint_now(&pool, dir, lsn) == DBOS_OK);
	}
	fixture_pool_close(&pool);
	flip_byte(dir, 60, 4096 + 20 * 4096 + 26); /* the trailer's pages CRC */
	flip_byte(dir, 50, 20);                    /* the header's page count */
	cut_short(dir, 40, 4096);                  /* a page short */
	flip_byte(dir, 30, 4096 + 2 * 4096 + 100); /* inside page 3 */
	cut_short(dir, 20, 1);                     /* the trailer torn */
	snprintf(restored, sizeof restored, "%s/checkpoint.0000000000000070.tmp", dir);
	int fd = open(restored, O_CREAT | O_WRONLY, 0644); /* a crash mid-write: never a candidate */
	DBOS_ASSERT(fd >= 0);
	close(fd);

	uint64_t lsn = 0;
	CHECK_EQ(kv_checkpoint_find(dir, gateway(), &lsn), DBOS_OK);
	CHECK_EQ(lsn, 30); /* a damaged page shows only at restore */
	snprintf(restored, sizeof restored, "%s/pages.db", dir);
	fd = open(restored, O_CREAT | O_WRONLY, 0644);
	DBOS_ASSERT(fd >= 0 && write(fd, "old", 3) == 3);
	close(fd);
	CHECK_EQ(kv_checkpoint_restore(dir, 30, restored, gateway()), DBOS_ECORRUPT);
	CHECK_EQ(kv_checkpoint_restore(dir, 40, restored, gateway()), DBOS_ECORRUPT);
	CHECK_EQ(kv_checkpoint_restore(dir, 50, restored, gateway()), DBOS_ECORRUPT);
	CHECK_EQ(kv_checkpoint_restore(dir, 60, restored, gateway()), DBOS_ECORRUPT);
	CHECK_EQ(kv_checkpoint_restore(dir, 0x70, restored, gateway()), DBOS_ENOENT); /* only its .tmp exists */
	CHECK(!file_exists(dir, "pages.db.tmp"));
	uint64_t size = 0;
	CHECK_EQ(kv_fs_size(dir, "pages.db", &size), DBOS_OK);
	CHECK_EQ(size, 3); /* untouched */

	char name[KV_NAME_MAX + 1];
	kv_checkpoint_name(name, 30, false);
	CHECK_EQ(kv_fs_unlink(dir, name), DBOS_OK);
	CHECK_EQ(kv_checkpoint_find(dir, gateway(), &lsn), DBOS_OK);
	CHECK_EQ(lsn, 10);
	REQUIRE(kv_checkpoint_restore(dir, 10, restored, gateway()) == DBOS_OK);
	dbos_bp *bp = open_restored(restored, 1 * MiB);
	REQUIRE(bp);
	CHECK(fixture_current_is(bp, 1, 10));
	CHECK(fixture_current_is(bp, 2, 0));
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	kv_checkpoint_name(name, 10, false);
	CHECK_EQ(kv_fs_unlink(dir, name), DBOS_OK);
	CHECK_EQ(kv_checkpoint_find(dir, gateway(), &lsn), DBOS_ENOENT);
}

struct progress_log {
	uint64_t calls;
	uint64_t last_done;
	uint64_t total;
	bool monotonic;
	uint64_t cancel_at_call; /* 0: never */
};

static bool progress_record(void *context, uint64_t done, uint64_t total)
{
	struct progress_log *log = context;
	log->calls++;
	log->monotonic &= done > log->last_done && done <= total;
	log->last_done = done;
	log->total = total;
	return log->calls != log->cancel_at_call;
}

/* Progress counts page bytes up to the total; a false return cancels and leaves no file. */
static void progress_counts_and_cancels(void)
{
	char dir[300];
	case_dir(dir, sizeof dir, "progress");
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 2 * MiB));
	REQUIRE(fixture_populate(pool.bp, 2500)); /* about 10 MiB: three buffers' worth */
	struct kv_epoch *epoch;
	REQUIRE(kv_epoch_begin(pool.epochs, &epoch) == DBOS_OK);
	struct progress_log log = { .monotonic = true };
	CHECK_EQ(kv_checkpoint_write(epoch, dir, 1, gateway(), progress_record, &log), DBOS_OK);
	CHECK(log.calls >= 3);
	CHECK(log.monotonic);
	CHECK_EQ(log.total, 2500 * 4096);
	CHECK_EQ(log.last_done, 2500 * 4096);

	log = (struct progress_log){ .monotonic = true, .cancel_at_call = 2 };
	CHECK_EQ(kv_checkpoint_write(epoch, dir, 2, gateway(), progress_record, &log), DBOS_ECANCELED);
	CHECK_EQ(log.calls, 2);
	CHECK(!checkpoint_exists(dir, 2, false));
	CHECK(!checkpoint_exists(dir, 2, true));
	log = (struct progress_log){ .monotonic = true, .cancel_at_call = 1 }; /* with the next buffer in flight */
	CHECK_EQ(kv_checkpoint_write(epoch, dir, 3, gateway(), progress_record, &log), DBOS_ECANCELED);
	CHECK(!checkpoint_exists(dir, 3, false));
	CHECK(!checkpoint_exists(dir, 3, true));
	kv_epoch_end(epoch);
	uint64_t lsn = 0;
	CHECK_EQ(kv_checkpoint_find(dir, gateway(), &lsn), DBOS_OK);
	CHECK_EQ(lsn, 1);
	fixture_pool_close(&pool);
}

/* Prune keeps the named checkpoint, newer ones and a newer .tmp (maybe being written); others go. */
static void prune_deletes_older_checkpoints(void)
{
	char dir[300];
	case_dir(dir, sizeof dir, "prune");
	const char *names[] = { "checkpoint.0000000000000010",
				"checkpoint.0000000000000020",
				"checkpoint.0000000000000030",
				"checkpoint.0000000000000040",
				"checkpoint.0000000000000005.tmp",
				"checkpoint.0000000000000050.tmp",
				"wal.0000000000000008",
				"checkpoint.notes" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[400];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		int fd = open(path, O_CREAT | O_WRONLY, 0644);
		DBOS_ASSERT(fd >= 0);
		close(fd);
	}
	kv_checkpoint_prune(dir, 0x30);
	bool expected[] = { false, false, true, true, false, true, true, true };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (file_exists(dir, names[i]) != expected[i]) {
			fprintf(stderr, "%s: %s\n", names[i], expected[i] ? "deleted" : "kept");
			CHECK(false);
		}
}

/* 64 MiB of resident pages to a checkpoint: the rate is printed, not asserted. */
static void write_rate(void)
{
	char dir[300];
	case_dir(dir, sizeof dir, "rate");
	struct fixture_pool pool;
	REQUIRE(fixture_pool_open(&pool, 72 * MiB));
	uint64_t pages = KV_TSAN_SCALE(64, 16) * MiB / 4096; /* a rate, printed: a quarter under ThreadSanitizer */
	REQUIRE(fixture_populate(pool.bp, pages));
	struct kv_epoch *epoch;
	REQUIRE(kv_epoch_begin(pool.epochs, &epoch) == DBOS_OK);
	uint64_t start = fixture_now_ns();
	CHECK_EQ(kv_checkpoint_write(epoch, dir, 64, gateway(), NULL, NULL), DBOS_OK);
	uint64_t elapsed = fixture_now_ns() - start;
	kv_epoch_end(epoch);
	printf("# checkpoint write: %llu MiB of pages in %.1f ms = %.0f MB/s (fdatasync included)\n",
	       (unsigned long long)(pages * 4096 / MiB), elapsed / 1e6, (double)pages * 4096 / (elapsed / 1e9) / 1e6);
	fixture_pool_close(&pool);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(write_then_restore_gives_the_epoch);
	RUN_TEST(restore_with_large_pages);
	RUN_TEST(empty_pool_round_trip);
	RUN_TEST(checkpoint_while_writing);
	RUN_TEST(damaged_checkpoints_are_skipped_or_refused);
	RUN_TEST(progress_counts_and_cancels);
	RUN_TEST(prune_deletes_older_checkpoints);
	RUN_TEST(write_rate);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
