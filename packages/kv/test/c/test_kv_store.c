/*
 * test_kv_store.c - the store through dbos/kv.h: create, reopen, refusals,
 * writes and their validation, views, cursors, backup, read-only opens, and a
 * process that dies without closing.
 *
 * The cases that fork run first, before this process has started any thread.
 */
#include "kv_store_fixture.h"

/* ---- Cases that fork (no threads in this process yet) ------------------------------ */

/* flock locks belong to the open file description, so the holder must be another process. */
static void second_writer_is_refused_with_the_holders_pid(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	int ready[2], done[2];
	REQUIRE(pipe(ready) == 0 && pipe(done) == 0);
	fflush(stdout);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
		dbos_kv *kv = fixture_open(&config);
		char byte = kv ? 1 : 0;
		if (write(ready[1], &byte, 1) != 1 || !kv)
			_exit(2);
		if (read(done[0], &byte, 1) != 1) /* hold the store until the parent has tried */
			_exit(3);
		_exit(dbos_kv_close(kv) == DBOS_OK ? 0 : 4);
	}
	char byte = 0;
	REQUIRE(read(ready[0], &byte, 1) == 1);
	REQUIRE(byte == 1);

	dbos_kv_config config = fixture_config(dir, 0);
	config.wait_for_lock_ms = 50;
	dbos_kv *kv = NULL;
	uint64_t start_ns = fixture_now_ns();
	CHECK_EQ(dbos_kv_open(&config, &kv), DBOS_ELOCKED);
	CHECK(fixture_now_ns() - start_ns >= 40ull * 1000 * 1000); /* it waited before refusing */
	CHECK(kv == NULL);
	dbos_kv_error error;
	dbos_kv_last_error(&error);
	CHECK_EQ(error.status, DBOS_ELOCKED);
	CHECK_EQ(error.holder_pid, child);
	CHECK(strstr(error.message, "LOCK") != NULL);
	/* Read-only openers are refused too while a writer holds it. */
	config.flags = DBOS_KV_READ_ONLY;
	config.wait_for_lock_ms = 0;
	CHECK_EQ(dbos_kv_open(&config, &kv), DBOS_ELOCKED);

	CHECK(write(done[1], &byte, 1) == 1);
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]), close(ready[1]), close(done[0]), close(done[1]);
}

static char crashed_dir[300];
static uint64_t crashed_synced; /* writes the child saw synced */

/* A child writes (checkpointing once on the way), syncs, and dies without closing. */
static void process_dies_without_closing(void)
{
	fixture_dir(crashed_dir, sizeof crashed_dir);
	int report[2];
	REQUIRE(pipe(report) == 0);
	fflush(stdout);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		dbos_kv_config config = fixture_config(crashed_dir, DBOS_KV_CREATE);
		dbos_kv *kv = fixture_open(&config);
		if (!kv)
			_exit(2);
		uint64_t lsn = 0, n;
		for (n = 0; n < 300; n++) {
			char key[32];
			uint8_t value[100];
			fixture_value(value, sizeof value, n, 1);
			dbos_kv_op op = { .type = DBOS_KV_PUT,
					  .key_size = fixture_key(key, n),
					  .key = key,
					  .value = value,
					  .value_size = sizeof value };
			if (dbos_kv_write(kv, &op, 1, n == 299 ? DBOS_KV_SYNC : 0, &lsn) != DBOS_OK)
				_exit(3);
			if (n == 150 && dbos_kv_checkpoint(kv) != DBOS_OK)
				_exit(4);
			if (n % 50 == 0 && fixture_del(kv, n / 2) != DBOS_OK) /* some deletes too: n/2 < n */
				_exit(5);
		}
		if (dbos_kv_wait(kv, lsn, true) != DBOS_OK || dbos_kv_synced_lsn(kv) < lsn)
			_exit(6);
		if (write(report[1], &n, sizeof n) != sizeof n)
			_exit(7);
		_exit(0); /* no close: pages.db is whatever the pool had written */
	}
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	REQUIRE(read(report[0], &crashed_synced, sizeof crashed_synced) == sizeof crashed_synced);
	close(report[0]), close(report[1]);
	CHECK_EQ(crashed_synced, 300);
	CHECK(fixture_file_exists(crashed_dir, "STATE"));
}

/* ---- Cases in this process ------------------------------------------------------------ */

static void read_only_refuses_a_store_that_needs_recovery(void)
{
	REQUIRE(crashed_dir[0]);
	dbos_kv_config config = fixture_config(crashed_dir, DBOS_KV_READ_ONLY);
	dbos_kv *kv = NULL;
	CHECK_EQ(dbos_kv_open(&config, &kv), DBOS_EBUSY);
	dbos_kv_error error;
	dbos_kv_last_error(&error);
	CHECK(strstr(error.message, "open it writable once") != NULL);
}

static void reopen_after_crash_has_every_synced_write(void)
{
	REQUIRE(crashed_synced == 300);
	dbos_kv_config config = fixture_config(crashed_dir, 0);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	struct dbos_kv_stats stats = fixture_stats(kv);
	CHECK(stats.recovered_records > 0); /* the log after the checkpoint was replayed */
	CHECK(stats.checkpoint_lsn > 8);    /* the child's explicit checkpoint */
	uint64_t deleted = 0;
	for (uint64_t n = 0; n < 300; n++) {
		if (n % 25 == 0 && n <= 125) { /* the child deleted n / 2 after writing n, for n % 50 == 0 */
			CHECK(fixture_absent(kv, NULL, n));
			deleted++;
		} else {
			CHECK(fixture_has(kv, NULL, n, 100, 1));
		}
	}
	CHECK_EQ(stats.entries, 300 - deleted);
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
	/* Closed cleanly now: read-only opens work. */
	config.flags = DBOS_KV_READ_ONLY;
	kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK(fixture_has(kv, NULL, 299, 100, 1));
	dbos_kv_op put = { .type = DBOS_KV_PUT, .key_size = 1, .key = "k", .value = "v", .value_size = 1 };
	CHECK_EQ(dbos_kv_write(kv, &put, 1, 0, NULL), DBOS_EPERM);
	CHECK_EQ(dbos_kv_checkpoint(kv), DBOS_EPERM);
	/* Shared: a second read-only open at the same time. */
	dbos_kv *second = fixture_open(&config);
	CHECK(second != NULL);
	if (second)
		CHECK_EQ(dbos_kv_close(second), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

static void create_write_close_reopen(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK(fixture_file_exists(dir, "LOCK"));
	CHECK(fixture_file_exists(dir, "STATE"));
	CHECK(fixture_file_exists(dir, "checkpoint.0000000000000008")); /* the first checkpoint */
	for (uint64_t n = 0; n < 2000; n++)
		REQUIRE(fixture_put(kv, n, n % 300, 1, 0) == DBOS_OK);
	REQUIRE(fixture_put(kv, 5000, 100000, 1, DBOS_KV_SYNC) == DBOS_OK); /* overflow pages */
	CHECK(fixture_has(kv, NULL, 1234, 1234 % 300, 1));
	CHECK(fixture_has(kv, NULL, 5000, 100000, 1));
	CHECK_EQ(fixture_stats(kv).entries, 2001);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);

	config.flags = 0; /* opening an existing store needs no CREATE */
	kv = fixture_open(&config);
	REQUIRE(kv);
	struct dbos_kv_stats stats = fixture_stats(kv);
	CHECK_EQ(stats.recovered_records, 0); /* a clean close: pages.db was used as it is */
	CHECK_EQ(stats.entries, 2001);
	for (uint64_t n = 0; n < 2000; n += 7)
		CHECK(fixture_has(kv, NULL, n, n % 300, 1));
	CHECK(fixture_has(kv, NULL, 5000, 100000, 1));
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	/* The log goes on after the clean LSN: new writes get larger LSNs. */
	uint64_t before = dbos_kv_written_lsn(kv), lsn = 0;
	char key[32];
	dbos_kv_op op = { .type = DBOS_KV_DEL, .key_size = fixture_key(key, 3), .key = key };
	CHECK_EQ(dbos_kv_write(kv, &op, 1, DBOS_KV_SYNC, &lsn), DBOS_OK);
	CHECK(lsn >= before);
	CHECK_EQ(dbos_kv_wait(kv, lsn, true), DBOS_OK);
	CHECK(dbos_kv_synced_lsn(kv) > lsn);
	CHECK(fixture_absent(kv, NULL, 3));
	char mechanism[512];
	dbos_kv_mechanism(kv, mechanism, sizeof mechanism);
	CHECK(strstr(mechanism, "group commit") != NULL);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

static void bad_configs_are_refused(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv *kv = NULL;
	CHECK_EQ(dbos_kv_open(NULL, &kv), DBOS_EINVAL);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	CHECK_EQ(dbos_kv_open(&config, NULL), DBOS_EINVAL);
	struct {
		const char *what;
		dbos_kv_config config;
	} cases[] = {
		{ "no dir", { .flags = DBOS_KV_CREATE } },
		{ "empty dir", { .dir = "", .flags = DBOS_KV_CREATE } },
		{ "page size not a power of two", { .dir = dir, .flags = DBOS_KV_CREATE, .page_size = 5000 } },
		{ "page size too small", { .dir = dir, .flags = DBOS_KV_CREATE, .page_size = 2048 } },
		{ "page size too large", { .dir = dir, .flags = DBOS_KV_CREATE, .page_size = 131072 } },
		{ "unknown flag", { .dir = dir, .flags = DBOS_KV_CREATE | (1u << 9) } },
		{ "create and read-only", { .dir = dir, .flags = DBOS_KV_CREATE | DBOS_KV_READ_ONLY } },
		{ "cache too small", { .dir = dir, .flags = DBOS_KV_CREATE, .cache_bytes = 64 * 1024 } },
		{ "reserved set", { .dir = dir, .flags = DBOS_KV_CREATE, .reserved = 1 } },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		dbos_status status = dbos_kv_open(&cases[i].config, &kv);
		if (status != DBOS_EINVAL)
			fprintf(stderr, "%s: %s\n", cases[i].what, dbos_status_name(status));
		CHECK_EQ(status, DBOS_EINVAL);
		CHECK(kv == NULL);
		dbos_kv_error error;
		dbos_kv_last_error(&error);
		CHECK_EQ(error.status, DBOS_EINVAL);
		CHECK(error.message[0] != '\0');
	}
	CHECK(!fixture_file_exists(dir, "")); /* nothing was created */

	/* No store and no CREATE: DBOS_ENOENT, for a missing and for an empty directory. */
	config.flags = 0;
	CHECK_EQ(dbos_kv_open(&config, &kv), DBOS_ENOENT);
	REQUIRE(mkdir(dir, 0755) == 0);
	CHECK_EQ(dbos_kv_open(&config, &kv), DBOS_ENOENT);
	CHECK(!fixture_file_exists(dir, "LOCK"));

	/* A directory holding something else is not taken over. */
	char path[400];
	snprintf(path, sizeof path, "%s/notes.txt", dir);
	FILE *file = fopen(path, "w");
	REQUIRE(file);
	fputs("not a store\n", file);
	fclose(file);
	config.flags = DBOS_KV_CREATE;
	CHECK_EQ(dbos_kv_open(&config, &kv), DBOS_EINVAL);
	dbos_kv_error error;
	dbos_kv_last_error(&error);
	CHECK(strstr(error.message, "not a store") != NULL);
	CHECK(!fixture_file_exists(dir, "LOCK"));
	CHECK(!fixture_file_exists(dir, "pages.db"));

	/* The page size is the store's: another one is refused. */
	fixture_dir(dir, sizeof dir);
	config = fixture_config(dir, DBOS_KV_CREATE);
	config.page_size = 8192;
	kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK_EQ(fixture_stats(kv).page_size, 8192);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
	config.page_size = 4096;
	CHECK_EQ(dbos_kv_open(&config, &kv), DBOS_EINVAL);
	config.page_size = 0; /* 0: the store's */
	kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK_EQ(fixture_stats(kv).page_size, 8192);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

static void bad_operations_apply_nothing(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE); /* a 2 MiB cache */
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	char long_key[DBOS_KV_KEY_MAX + 1];
	memset(long_key, 'k', sizeof long_key);
	dbos_kv_op ops[2] = { { .type = DBOS_KV_PUT, .key_size = 1, .key = "a", .value = "1", .value_size = 1 } };
	struct {
		dbos_kv_op bad;
		dbos_status expected;
	} cases[] = {
		{ { .type = 7, .key_size = 1, .key = "b" }, DBOS_EINVAL },
		{ { .type = DBOS_KV_PUT, .key_size = 0, .key = "b" }, DBOS_ERANGE },
		{ { .type = DBOS_KV_PUT, .key_size = sizeof long_key, .key = long_key }, DBOS_ERANGE },
		{ { .type = DBOS_KV_DEL, .key_size = 1, .key = NULL }, DBOS_EINVAL },
		{ { .type = DBOS_KV_PUT,
		    .key_size = 1,
		    .key = "b",
		    .value = "x",
		    .value_size = DBOS_KV_VALUE_MAX + 1ull },
		  DBOS_ERANGE },
		{ { .type = DBOS_KV_PUT, .key_size = 1, .key = "b", .value = NULL, .value_size = 3 }, DBOS_EINVAL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ops[1] = cases[i].bad;
		uint64_t lsn = 99;
		CHECK_EQ(dbos_kv_write(kv, ops, 2, 0, &lsn), cases[i].expected);
		CHECK_EQ(lsn, 0);
		uint64_t size;
		CHECK_EQ(dbos_kv_get(kv, NULL, "a", 1, NULL, 0, &size), DBOS_ENOENT); /* op 0 not applied either */
	}
	CHECK_EQ(dbos_kv_write(kv, ops, 1, 1u << 5, NULL), DBOS_EINVAL); /* unknown flag */
	/* Three values of the largest size do not fit one log record: refused before any is read. */
	dbos_kv_op huge[3];
	for (int i = 0; i < 3; i++)
		huge[i] = (dbos_kv_op){
			.type = DBOS_KV_PUT, .key_size = 1, .key = "h", .value = "x", .value_size = DBOS_KV_VALUE_MAX
		};
	CHECK_EQ(dbos_kv_write(kv, huge, 3, 0, NULL), DBOS_ERANGE);
	/* A value above the shared record buffer's size (its record is encoded before the lock), and
	   larger than the cache: reading its chain evicts pages, never the latched leaf. */
	CHECK_EQ(fixture_put(kv, 77, 5u << 20, 3, DBOS_KV_SYNC), DBOS_OK);
	CHECK(fixture_has(kv, NULL, 77, 5u << 20, 3));
	dbos_kv_cursor *cursor = NULL;
	dbos_kv_range everything = { 0 };
	REQUIRE(dbos_kv_cursor_open(kv, NULL, &everything, &cursor) == DBOS_OK);
	size_t capacity = (6u << 20), used = 0;
	uint8_t *records = malloc(capacity);
	uint32_t count = 0;
	CHECK_EQ(dbos_kv_cursor_next(cursor, records, capacity, &count, &used), DBOS_OK);
	CHECK_EQ(count, 1);
	uint64_t scanned_size = 0;
	memcpy(&scanned_size, records + 8, sizeof scanned_size);
	CHECK_EQ(scanned_size, 5u << 20);
	free(records);
	dbos_kv_cursor_close(cursor);
	/* A key of exactly the largest size is fine; an empty batch is a no-op. */
	dbos_kv_op largest = {
		.type = DBOS_KV_PUT, .key_size = DBOS_KV_KEY_MAX, .key = long_key, .value = "v", .value_size = 1
	};
	CHECK_EQ(dbos_kv_write(kv, &largest, 1, 0, NULL), DBOS_OK);
	uint64_t lsn = 5;
	CHECK_EQ(dbos_kv_write(kv, ops, 0, 0, &lsn), DBOS_OK);
	CHECK_EQ(lsn, 0);
	/* Batches apply in order: put then delete of one key leaves it absent. */
	dbos_kv_op put_then_del[2] = {
		{ .type = DBOS_KV_PUT, .key_size = 1, .key = "z", .value = "1", .value_size = 1 },
		{ .type = DBOS_KV_DEL, .key_size = 1, .key = "z" }
	};
	CHECK_EQ(dbos_kv_write(kv, put_then_del, 2, 0, NULL), DBOS_OK);
	uint64_t size = 0;
	CHECK_EQ(dbos_kv_get(kv, NULL, "z", 1, NULL, 0, &size), DBOS_ENOENT);
	/* A get with a small buffer reports the full size. */
	CHECK_EQ(dbos_kv_get(kv, NULL, long_key, DBOS_KV_KEY_MAX, NULL, 0, &size), DBOS_OK);
	CHECK_EQ(size, 1);
	CHECK_EQ(dbos_kv_get(kv, NULL, long_key, 0, NULL, 0, &size), DBOS_ERANGE);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

static void views_are_stable_and_block_close(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	for (uint64_t n = 0; n < 500; n++)
		REQUIRE(fixture_put(kv, n, 40, 1, 0) == DBOS_OK);
	dbos_kv_view *view = NULL;
	REQUIRE(dbos_kv_view_open(kv, &view) == DBOS_OK);
	for (uint64_t n = 0; n < 500; n++) /* rewrite everything, delete some, add more */
		REQUIRE(fixture_put(kv, n, 60, 2, 0) == DBOS_OK);
	for (uint64_t n = 0; n < 500; n += 3)
		REQUIRE(fixture_del(kv, n) == DBOS_OK);
	for (uint64_t n = 500; n < 800; n++)
		REQUIRE(fixture_put(kv, n, 10, 2, 0) == DBOS_OK);
	for (uint64_t n = 0; n < 500; n++) {
		CHECK(fixture_has(kv, view, n, 40, 1));
		if (n % 3)
			CHECK(fixture_has(kv, NULL, n, 60, 2));
		else
			CHECK(fixture_absent(kv, NULL, n));
	}
	CHECK(fixture_absent(kv, view, 600));
	CHECK(fixture_has(kv, NULL, 600, 10, 2));

	/* A cursor over the view sees its 500 keys in order. */
	dbos_kv_cursor *cursor = NULL;
	REQUIRE(dbos_kv_cursor_open(kv, view, NULL, &cursor) == DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_EBUSY); /* view and cursor open: nothing closed */
	static uint8_t buffer[16384];
	uint64_t seen = 0;
	for (;;) {
		uint32_t count = 0;
		size_t used = 0;
		REQUIRE(dbos_kv_cursor_next(cursor, buffer, sizeof buffer, &count, &used) == DBOS_OK);
		if (count == 0)
			break;
		size_t at = 0;
		for (uint32_t i = 0; i < count; i++) {
			uint32_t key_size;
			uint64_t value_size;
			memcpy(&key_size, buffer + at, 4);
			memcpy(&value_size, buffer + at + 8, 8);
			char expected[32];
			fixture_key(expected, seen);
			CHECK(key_size == strlen(expected) && memcmp(buffer + at + 16, expected, key_size) == 0);
			CHECK_EQ(value_size, 40);
			at += (16 + key_size + value_size + 7) & ~(size_t)7;
			seen++;
		}
		CHECK_EQ(at, used);
	}
	CHECK_EQ(seen, 500);
	dbos_kv_cursor_close(cursor);
	CHECK_EQ(dbos_kv_close(kv), DBOS_EBUSY);
	dbos_kv_view_close(view);
	CHECK(fixture_stats(kv).epoch_pages_copied > 0);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

static void backup_is_a_store_as_of_the_call(void)
{
	char dir[300], dest[300];
	fixture_dir(dir, sizeof dir);
	fixture_dir(dest, sizeof dest);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	for (uint64_t n = 0; n < 300; n++)
		REQUIRE(fixture_put(kv, n, 50, 1, 0) == DBOS_OK);
	REQUIRE(dbos_kv_backup(kv, dest, NULL, NULL) == DBOS_OK);
	REQUIRE(fixture_put(kv, 1000, 50, 1, 0) == DBOS_OK); /* after the backup: not in it */
	CHECK_EQ(dbos_kv_backup(kv, dest, NULL, NULL), DBOS_EEXIST);
	CHECK_EQ(dbos_kv_backup(kv, dir, NULL, NULL), DBOS_EEXIST);
	CHECK_EQ(dbos_kv_checkpoint(kv), DBOS_OK);
	CHECK_EQ(fixture_stats(kv).checkpoints, 1);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);

	dbos_kv_config copy_config = fixture_config(dest, 0);
	dbos_kv *copy = fixture_open(&copy_config);
	REQUIRE(copy);
	for (uint64_t n = 0; n < 300; n++)
		CHECK(fixture_has(copy, NULL, n, 50, 1));
	CHECK(fixture_absent(copy, NULL, 1000));
	CHECK_EQ(fixture_stats(copy).entries, 300);
	CHECK_EQ(fixture_put(copy, 2000, 5, 1, DBOS_KV_SYNC), DBOS_OK); /* it takes writes */
	CHECK_EQ(dbos_kv_check(copy, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_kv_close(copy), DBOS_OK);
}

/* The background thread checkpoints once the log passes checkpoint_wal_bytes, and drops the old log. */
static void background_checkpoints_follow_the_log(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	config.checkpoint_wal_bytes = 64 * 1024;
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	for (uint64_t n = 0; n < 2000; n++)
		REQUIRE(fixture_put(kv, n, 200, 1, 0) == DBOS_OK);
	uint64_t deadline = fixture_now_ns() + 5ull * 1000 * 1000 * 1000;
	while (fixture_stats(kv).checkpoints == 0 && fixture_now_ns() < deadline)
		usleep(1000);
	struct dbos_kv_stats stats = fixture_stats(kv);
	CHECK(stats.checkpoints >= 1);
	CHECK(stats.checkpoint_lsn > 8);
	CHECK(!fixture_file_exists(dir, "checkpoint.0000000000000008")); /* pruned */
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

/*
 * A view's page copies are freed by the background thread once the view closes (freeing gigabytes
 * takes the kernel seconds, which the closing thread, an event loop, must not wait): the held
 * count falls to zero without another call.  A view closed just before the store is freed by close.
 */
static void closed_views_copies_are_freed_in_the_background(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE); /* checkpoints only on request */
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	for (uint64_t n = 0; n < 2000; n++)
		REQUIRE(fixture_put(kv, n, 200, 1, 0) == DBOS_OK);
	CHECK_EQ(fixture_stats(kv).epoch_pages_held, 0);
	for (int round = 0; round < 2; round++) {
		dbos_kv_view *view = NULL;
		REQUIRE(dbos_kv_view_open(kv, &view) == DBOS_OK);
		for (uint64_t n = 0; n < 2000; n++)
			REQUIRE(fixture_put(kv, n, 200, (uint64_t)round + 2, 0) == DBOS_OK);
		uint64_t held = fixture_stats(kv).epoch_pages_held;
		CHECK(held > 0);
		CHECK(fixture_has(kv, view, 1999, 200, (uint64_t)round + 1));
		dbos_kv_view_close(view);
		if (round == 1)
			break; /* closed at once: dbos_kv_close frees what the thread has not */
		uint64_t deadline = fixture_now_ns() + 5ull * 1000 * 1000 * 1000;
		while (fixture_stats(kv).epoch_pages_held != 0 && fixture_now_ns() < deadline)
			usleep(1000);
		CHECK_EQ(fixture_stats(kv).epoch_pages_held, 0);
	}
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

static void corrupt_byte(const char *dir, uint64_t offset)
{
	char path[400];
	snprintf(path, sizeof path, "%s/pages.db", dir);
	FILE *file = fopen(path, "r+b");
	DBOS_ASSERT(file);
	DBOS_ASSERT(fseek(file, (long)offset, SEEK_SET) == 0);
	int byte = fgetc(file);
	DBOS_ASSERT(fseek(file, (long)offset, SEEK_SET) == 0);
	fputc(byte ^ 0x5a, file);
	fclose(file);
}

/* A damaged page is found by check; a damaged file header sends open to recovery. */
static void damaged_pages_db(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	for (uint64_t n = 0; n < 400; n++)
		REQUIRE(fixture_put(kv, n, 100, 1, 0) == DBOS_OK);
	CHECK(fixture_stats(kv).pages > 4);
	REQUIRE(dbos_kv_close(kv) == DBOS_OK);

	corrupt_byte(dir, 3 * 4096 + 200);
	kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK_EQ(fixture_stats(kv).recovered_records, 0); /* the header is fine: opened as closed */
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_ECORRUPT);
	dbos_kv_error error;
	dbos_kv_last_error(&error);
	CHECK(strstr(error.message, "page 3") != NULL);
	if (!strstr(error.message, "page 3"))
		fprintf(stderr, "check said: %s\n", error.message);
	dbos_kv_close(kv); /* may fail: the damaged page is still damaged */

	/* The file header: pages.db cannot be opened, so it is rebuilt from the checkpoint and the log. */
	corrupt_byte(dir, 20);
	kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK(fixture_stats(kv).recovered_records > 0);
	for (uint64_t n = 0; n < 400; n++)
		CHECK(fixture_has(kv, NULL, n, 100, 1));
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

/* dbos_kv_prefetch reads a batch's pages in, so the lookups after it are all hits. */
#define ENTRIES 20000u
#define KEYS 64u
static void prefetch_brings_in_a_batchs_pages(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE); /* 2 MiB of cache: the tree is larger */
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	for (uint64_t n = 0; n < ENTRIES; n++)
		REQUIRE(fixture_put(kv, n, 100, 1, 0) == DBOS_OK);
	REQUIRE(dbos_kv_close(kv) == DBOS_OK);
	config.flags = 0;
	kv = fixture_open(&config); /* nothing resident */
	REQUIRE(kv);

	char names[KEYS][32];
	const void *keys[KEYS];
	uint32_t sizes[KEYS];
	for (uint32_t i = 0; i < KEYS; i++) {
		sizes[i] = fixture_key(names[i], (i * 311u) % ENTRIES);
		keys[i] = names[i];
	}
	uint64_t misses_before = fixture_stats(kv).cache_misses;
	CHECK_EQ(dbos_kv_prefetch(kv, keys, sizes, KEYS), DBOS_OK);
	uint64_t misses_prefetched = fixture_stats(kv).cache_misses;
	CHECK(misses_prefetched - misses_before >= KEYS / 2); /* leaves, besides the inner pages */
	for (uint32_t i = 0; i < KEYS; i++)
		CHECK(fixture_has(kv, NULL, (i * 311u) % ENTRIES, 100, 1));
	CHECK_EQ(fixture_stats(kv).cache_misses, misses_prefetched); /* every lookup from memory */

	/* A hint: keys that are not there, or not valid keys, are skipped; the lookups report them. */
	char absent[32];
	keys[0] = absent;
	sizes[0] = fixture_key(absent, ENTRIES + 5);
	keys[1] = NULL;
	sizes[2] = 0;
	sizes[3] = DBOS_KV_KEY_MAX + 1;
	CHECK_EQ(dbos_kv_prefetch(kv, keys, sizes, KEYS), DBOS_OK);
	CHECK_EQ(dbos_kv_prefetch(kv, NULL, NULL, 0), DBOS_OK);
	CHECK_EQ(dbos_kv_prefetch(kv, NULL, sizes, 3), DBOS_EINVAL);
	CHECK_EQ(dbos_kv_prefetch(NULL, keys, sizes, 3), DBOS_EINVAL);
	CHECK(fixture_absent(kv, NULL, ENTRIES + 5));
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}
#undef ENTRIES
#undef KEYS

int main(void)
{
	fixture_setup();
	RUN_TEST(second_writer_is_refused_with_the_holders_pid);
	RUN_TEST(process_dies_without_closing);
	RUN_TEST(read_only_refuses_a_store_that_needs_recovery);
	RUN_TEST(reopen_after_crash_has_every_synced_write);
	RUN_TEST(create_write_close_reopen);
	RUN_TEST(bad_configs_are_refused);
	RUN_TEST(bad_operations_apply_nothing);
	RUN_TEST(views_are_stable_and_block_close);
	RUN_TEST(backup_is_a_store_as_of_the_call);
	RUN_TEST(background_checkpoints_follow_the_log);
	RUN_TEST(closed_views_copies_are_freed_in_the_background);
	RUN_TEST(damaged_pages_db);
	RUN_TEST(prefetch_brings_in_a_batchs_pages);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
