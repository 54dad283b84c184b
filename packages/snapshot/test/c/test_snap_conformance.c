/*
 * test_snap_conformance.c - the conformance cases (test/conformance/snap_cases.h)
 * on the host runtime: one "ok NAME" / "FAIL NAME" line per case, the line of
 * the failed check on stderr.  writers_race_snapshots runs its writers on
 * pthreads.  The same cases run in the guest through test/guest/snap_conformance.c.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "../conformance/snap_cases.h"

static int report(const char *name, int64_t line)
{
	if (line != 0)
		fprintf(stderr, "%s: check at test/conformance/snap_cases.h:%" PRId64 " failed\n", name, line);
	printf("%s %s\n", line == 0 ? "ok" : "FAIL", name);
	fflush(stdout);
	return line == 0 ? 0 : 1;
}

struct race_writer {
	pthread_t thread;
	uint64_t index;
	int64_t line;
};

static void *race_writer_main(void *argument)
{
	struct race_writer *writer = argument;
	writer->line = snap_race_writer(writer->index);
	return NULL;
}

/* The phases of writers_race_snapshots: the writers on threads, the taker on this one. */
static int64_t race_run(void)
{
	int64_t line = snap_race_setup();
	struct race_writer writers[SNAP_RACE_WRITERS];
	uint32_t started = 0;
	for (; line == 0 && started < SNAP_RACE_WRITERS; started++) {
		writers[started] = (struct race_writer){ .index = started };
		if (pthread_create(&writers[started].thread, NULL, race_writer_main, &writers[started]) != 0)
			line = -1;
	}
	int64_t taker = line == 0 ? snap_race_taker() : (atomic_store(&snap_race_state.stop, 1), 0);
	for (uint32_t i = 0; i < started; i++) {
		pthread_join(writers[i].thread, NULL);
		if (line == 0)
			line = writers[i].line;
	}
	if (line == 0)
		line = taker;
	int64_t finish = snap_race_finish();
	return line != 0 ? line : finish;
}

int main(void)
{
	int failures = 0;
	for (uint64_t index = 0; index < SNAP_CASE_COUNT; index++)
		failures += report(snap_cases[index].name, snap_case_run(index));
	failures += report(SNAP_RACE_NAME, race_run());
	return failures == 0 ? 0 : 1;
}
