/*
 * test_bufferpool_crash.c - a writer killed (SIGKILL) in the middle of its
 * flushes; the file is then reopened and every page checked.
 *
 * The child rewrites all pages at generation g and flushes, for g = 1, 2, ...,
 * reporting each flush that returned through a pipe.  The parent kills it at
 * a random moment.  On reopen each page must be whole at some generation
 * between the last flush that returned and the last one started (a page
 * evicted early may be newer), or be reported DBOS_ECORRUPT naming it: never
 * a mix, never silently old data.  The fork happens before this process
 * starts any thread (the gateway's included), so sanitizers stay sound.
 */
#include <signal.h>
#include <sys/wait.h>

#include "bp_fixture.h"

#define PAGES 300u

static void child_writes_until_killed(const char *path, int report_fd)
{
	dbos_bp_config config = fixture_config(path, 1 * MiB); /* 256 pages: eviction writes some too */
	dbos_bp *bp = fixture_open(&config);
	if (!bp || !fixture_populate(bp, PAGES) || dbos_bp_flush(bp) != DBOS_OK)
		_exit(2);
	for (uint64_t generation = 1;; generation++) {
		for (uint64_t pid = 1; pid <= PAGES; pid++) {
			void *page;
			if (dbos_bp_fix_exclusive(bp, pid, &page) != DBOS_OK)
				_exit(3);
			fixture_fill(page, 4096, pid, generation);
			dbos_bp_unfix_exclusive(bp, pid, true);
		}
		if (dbos_bp_flush(bp) != DBOS_OK)
			_exit(4);
		if (write(report_fd, &generation, sizeof generation) != sizeof generation)
			_exit(5);
	}
}

static uint64_t generation_of(const void *page, uint64_t pid)
{
	uint64_t word0 = ((const uint64_t *)((const uint8_t *)page + DBOS_BP_PAGE_HEADER_SIZE))[0];
	return (word0 ^ fixture_word(pid, 0, 0)) >> 40;
}

static void killed_during_flush_reopens_clean(void)
{
	char path[300];
	fixture_path(path, sizeof path);
	int pipe_fds[2];
	REQUIRE(pipe(pipe_fds) == 0);
	fflush(stdout);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		close(pipe_fds[0]);
		child_writes_until_killed(path, pipe_fds[1]);
	}
	close(pipe_fds[1]);
	/* Wait for two completed flushes, then kill somewhere inside the next ones. */
	uint64_t flushed = 0, report;
	while (flushed < 2 && read(pipe_fds[0], &report, sizeof report) == sizeof report)
		flushed = report;
	REQUIRE(flushed >= 2);
	srand((unsigned)fixture_now_ns());
	usleep((useconds_t)(rand() % 40000));
	kill(child, SIGKILL);
	int status;
	REQUIRE(waitpid(child, &status, 0) == child);
	CHECK(WIFSIGNALED(status));
	while (read(pipe_fds[0], &report, sizeof report) == sizeof report)
		flushed = report;
	close(pipe_fds[0]);

	dbos_bp_config config = fixture_config(path, 1 * MiB);
	config.flags = 0;
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	CHECK_EQ(dbos_bp_page_count(bp), PAGES + 1);
	uint64_t newest = 0, corrupt = 0;
	for (uint64_t pid = 1; pid <= PAGES; pid++) {
		void *page;
		dbos_status fixed = dbos_bp_fix_shared(bp, pid, &page);
		if (fixed == DBOS_ECORRUPT) {
			dbos_bp_error error;
			dbos_bp_last_error(bp, &error);
			CHECK_EQ(error.pid, pid);
			corrupt++;
			continue;
		}
		REQUIRE(fixed == DBOS_OK);
		uint64_t generation = generation_of(page, pid);
		CHECK(generation >= flushed);     /* a flush that returned is on disk */
		CHECK(generation <= flushed + 1); /* at most the generation being written, never garbage */
		CHECK(fixture_verify(page, 4096, pid, generation)); /* whole */
		if (generation > newest)
			newest = generation;
		dbos_bp_unfix_shared(bp, pid);
	}
	printf("# killed after flush %llu returned: pages at generations %llu..%llu, %llu reported corrupt\n",
	       (unsigned long long)flushed, (unsigned long long)flushed, (unsigned long long)newest,
	       (unsigned long long)corrupt);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(killed_during_flush_reopens_clean);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
