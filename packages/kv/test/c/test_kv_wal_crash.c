/*
 * test_kv_wal_crash.c - a process killed while it appends: every record it saw
 * written comes back from replay, in order, each once, and the log reopens
 * after the last valid record.
 *
 * Children do all the log work (appending, and checking after the kill), so
 * the parent never starts a thread (the gateway's included): a fork from a
 * threaded process would leave the sanitizers' and the allocator's locks in
 * an unknown state.
 */
#include <signal.h>
#include <sys/wait.h>

#include "test_kv_wal_fixture.h"

#define ROUNDS 3
#define REPORT_EVERY 5

struct report {
	uint64_t tag;
	uint64_t lsn;
};

/* The child: append for ever, reporting every REPORT_EVERY-th record once it is written. */
static void child_append(const char *dir, int report_fd)
{
	struct kv_wal_options options = { .segment_bytes = 64u * 1024u };
	struct kv_wal *wal = NULL;
	uint64_t next_lsn = 0;
	struct fixture_replayed replayed = { 0 };
	if (fixture_replay(dir, 0, &replayed, &next_lsn) != DBOS_OK ||
	    kv_wal_open_with(dir, next_lsn, NULL, &options, &wal) != DBOS_OK)
		_exit(2);
	uint64_t tag = replayed.count; /* continue the numbering of earlier rounds */
	for (;; tag++) {
		uint64_t lsn = 0;
		if (fixture_append(wal, tag, tag % 3 == 0, &lsn) != DBOS_OK)
			_exit(3);
		if (tag % REPORT_EVERY == 0) {
			if (kv_wal_wait(wal, lsn, tag % 2 == 0) != DBOS_OK)
				_exit(4);
			struct report report = { tag, lsn };
			if (write(report_fd, &report, sizeof report) != sizeof report)
				_exit(5);
		}
	}
}

/* Run one child, kill it after `reports` reports; the last report it made. */
static struct report run_and_kill(const char *dir, uint32_t reports)
{
	int pipe_fds[2];
	DBOS_ASSERT(pipe(pipe_fds) == 0);
	fflush(NULL);
	pid_t pid = fork();
	DBOS_ASSERT(pid >= 0);
	if (pid == 0) {
		close(pipe_fds[0]);
		child_append(dir, pipe_fds[1]);
		_exit(0);
	}
	close(pipe_fds[1]);
	struct report last = { 0, 0 };
	for (uint32_t i = 0; i < reports; i++)
		if (read(pipe_fds[0], &last, sizeof last) != sizeof last)
			break;
	kill(pid, SIGKILL);
	int wstatus = 0;
	waitpid(pid, &wstatus, 0);
	close(pipe_fds[0]);
	DBOS_ASSERT(WIFSIGNALED(wstatus)); /* it was still appending, not failed */
	return last;
}

/* In a child too (it starts the gateway's threads): what the log holds after the kill. */
static void verify_log(const char *dir, struct report last)
{
	struct fixture_replayed replayed = { 0 };
	uint64_t next_lsn = 0;
	CHECK_EQ(fixture_replay(dir, 0, &replayed, &next_lsn), DBOS_OK);
	CHECK(replayed.payloads_ok);
	CHECK(replayed.count > last.tag);
	for (uint64_t r = 0; r < replayed.count; r++)
		CHECK_EQ(replayed.tags[r], r); /* in order, each once, none missing */
	if (replayed.count > last.tag)
		CHECK_EQ(replayed.lsns[last.tag], last.lsn);
	uint64_t last_index = replayed.count - 1;
	if (replayed.count)
		CHECK_EQ(next_lsn, replayed.lsns[last_index] + kv_wal_record_bytes(replayed.sizes[last_index]));
	fixture_replayed_free(&replayed);
}

static int run_verifier(const char *dir, struct report last)
{
	fflush(NULL);
	pid_t pid = fork();
	DBOS_ASSERT(pid >= 0);
	if (pid == 0) {
		verify_log(dir, last);
		fflush(NULL);
		_exit(dbos_test_failures_case ? 1 : 0);
	}
	int wstatus = 0;
	waitpid(pid, &wstatus, 0);
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

static void test_killed_appender_loses_nothing_it_saw_written(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	for (int round = 0; round < ROUNDS; round++) {
		struct report last = run_and_kill(dir, 40 + 30 * (uint32_t)round);
		REQUIRE(last.lsn >= 8);
		CHECK_EQ(run_verifier(dir, last), 0); /* the next round reopens after the torn tail, if any */
	}
}

int main(void)
{
	fixture_setup();
	RUN_TEST(test_killed_appender_loses_nothing_it_saw_written);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
