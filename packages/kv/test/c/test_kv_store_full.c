/*
 * test_kv_store_full.c - the disk fills up in the middle of writing.
 *
 * A child process writes batches (synced, each acknowledged through a pipe)
 * under RLIMIT_FSIZE: once pages.db or the log cannot grow, a write or its
 * sync fails.  From then on the store must refuse writes, and close must not
 * call it clean.  The parent reopens the store without the limit: every
 * acknowledged batch is there, the batch that failed is there completely or
 * not at all, and the check passes.  The fork happens before this process
 * starts any thread.
 */
#include <sys/resource.h>

#include "kv_store_fixture.h"

#define FULL_FILE_LIMIT (1u << 20) /* no file of the store may grow past 1 MiB */
#define FULL_VALUE_SIZE 20000u     /* overflow pages: pages.db grows quickly too */
#define FULL_KEYS_PER_BATCH 3u
#define FULL_BATCHES_MAX 1000u

/*
 * Two ways to fill the disk: new keys with large values (pages.db grows: a page
 * allocation fails while the batch is half applied), or the same keys rewritten
 * (pages.db stays small, the log grows: its append or sync fails).
 */
enum full_mode {
	FULL_PAGES = 0,
	FULL_LOG = 1,
};

static uint64_t full_key(enum full_mode mode, uint64_t batch, uint32_t j)
{
	return (mode == FULL_PAGES ? batch * FULL_KEYS_PER_BATCH : 0) + j;
}

static uint64_t full_value_size(enum full_mode mode)
{
	return mode == FULL_PAGES ? FULL_VALUE_SIZE : 1500;
}

struct full_report {
	uint64_t batch; /* acknowledged batch, or UINT64_MAX for the final line */
	int32_t failed; /* final line: the status of the first failure */
	int32_t after;  /* final line: what a write got after it */
	int32_t closed; /* final line: what close returned */
	uint32_t reserved;
};

/* Key j of batch b holds the value of (key, generation b). */
static dbos_status full_batch_write(enum full_mode mode, dbos_kv *kv, uint64_t batch, uint64_t *lsn_out)
{
	static uint8_t values[FULL_KEYS_PER_BATCH][FULL_VALUE_SIZE];
	char keys[FULL_KEYS_PER_BATCH][32];
	dbos_kv_op ops[FULL_KEYS_PER_BATCH];
	for (uint32_t j = 0; j < FULL_KEYS_PER_BATCH; j++) {
		uint64_t key = full_key(mode, batch, j);
		fixture_value(values[j], full_value_size(mode), key, batch);
		ops[j] = (dbos_kv_op){ .type = DBOS_KV_PUT,
				       .key_size = fixture_key(keys[j], key),
				       .key = keys[j],
				       .value = values[j],
				       .value_size = full_value_size(mode) };
	}
	return dbos_kv_write(kv, ops, FULL_KEYS_PER_BATCH, DBOS_KV_SYNC, lsn_out);
}

static _Noreturn void full_child(enum full_mode mode, const char *dir, int report_fd)
{
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	dbos_kv *kv = fixture_open(&config);
	if (!kv)
		_exit(2);
	signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead of killing us */
	struct rlimit limit = { FULL_FILE_LIMIT, FULL_FILE_LIMIT };
	if (setrlimit(RLIMIT_FSIZE, &limit) != 0)
		_exit(3);
	struct full_report report = { 0 };
	dbos_status status = DBOS_OK;
	for (uint64_t batch = 0; batch < FULL_BATCHES_MAX; batch++) {
		uint64_t lsn = 0;
		status = full_batch_write(mode, kv, batch, &lsn);
		if (status == DBOS_OK)
			status = dbos_kv_wait(kv, lsn, true);
		if (status != DBOS_OK)
			break;
		report.batch = batch;
		if (write(report_fd, &report, sizeof report) != sizeof report)
			_exit(4);
	}
	fixture_print_error("the write that filled the disk", status);
	report = (struct full_report){ .batch = UINT64_MAX, .failed = (int32_t)status };
	uint64_t lsn = 0;
	report.after = (int32_t)full_batch_write(mode, kv, FULL_BATCHES_MAX, &lsn);
	if (report.after == DBOS_OK)
		report.after = (int32_t)dbos_kv_wait(kv, lsn, true);
	report.closed = (int32_t)dbos_kv_close(kv);
	_exit(write(report_fd, &report, sizeof report) == sizeof report ? 0 : 5);
}

/* One child's run: where it stopped and what the store answered. */
struct full_run {
	char dir[300];
	uint64_t acknowledged_end; /* batches before this one were acknowledged */
	struct full_report final;
	bool done;
};

static struct full_run full_runs[2];

static void full_run_child(enum full_mode mode)
{
	struct full_run *run = &full_runs[mode];
	fixture_dir(run->dir, sizeof run->dir);
	int pipe_fds[2];
	REQUIRE(pipe(pipe_fds) == 0);
	fflush(stdout);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		close(pipe_fds[0]);
		full_child(mode, run->dir, pipe_fds[1]);
	}
	close(pipe_fds[1]);
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct full_report report;
	while (read(pipe_fds[0], &report, sizeof report) == sizeof report) {
		if (report.batch == UINT64_MAX)
			run->final = report;
		else
			run->acknowledged_end = report.batch + 1;
	}
	close(pipe_fds[0]);
	REQUIRE(run->final.batch == UINT64_MAX);
	printf("# %s: %llu batches acknowledged; then %s, a later write %s, close %s\n",
	       mode == FULL_PAGES ? "pages.db full" : "log full", (unsigned long long)run->acknowledged_end,
	       dbos_status_name(run->final.failed), dbos_status_name(run->final.after),
	       dbos_status_name(run->final.closed));
	CHECK(run->acknowledged_end > 0);
	CHECK(run->final.failed == DBOS_ENOSPC || run->final.failed == DBOS_EIO);
	CHECK(run->final.after != DBOS_OK); /* the store refuses writes once it failed */
	CHECK(run->final.closed != DBOS_OK);
	run->done = true;
}

/* Both children run before this process opens a store (and so starts threads). */
static void writers_fill_the_disk(void)
{
	full_run_child(FULL_PAGES);
	full_run_child(FULL_LOG);
}

static void reopen_after_a_full_disk(enum full_mode mode)
{
	struct full_run *run = &full_runs[mode];
	REQUIRE(run->done);
	dbos_kv_config config = fixture_config(run->dir, 0);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	/* Every acknowledged batch; the batch that failed all or nothing; nothing after it. */
	uint64_t size = full_value_size(mode), failed = run->acknowledged_end, present = 0, entries = 0;
	for (uint32_t j = 0; j < FULL_KEYS_PER_BATCH; j++)
		present += fixture_has(kv, NULL, full_key(mode, failed, j), size, failed);
	CHECK(present == 0 || present == FULL_KEYS_PER_BATCH);
	uint64_t last = present ? failed : failed - 1;
	for (uint64_t batch = 0; batch <= last; batch++)
		for (uint32_t j = 0; j < FULL_KEYS_PER_BATCH; j++) {
			if (mode == FULL_LOG && batch != last)
				continue; /* rewritten by the later batches */
			CHECK(fixture_has(kv, NULL, full_key(mode, batch, j), size, batch));
			entries++;
		}
	CHECK_EQ(fixture_stats(kv).entries, entries);
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	/* Recovered, it takes writes again. */
	CHECK_EQ(fixture_put(kv, 999999, 10, 1, DBOS_KV_SYNC), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

static void reopen_after_pages_db_filled(void)
{
	reopen_after_a_full_disk(FULL_PAGES);
}

static void reopen_after_log_filled(void)
{
	reopen_after_a_full_disk(FULL_LOG);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(writers_fill_the_disk);
	RUN_TEST(reopen_after_pages_db_filled);
	RUN_TEST(reopen_after_log_filled);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
