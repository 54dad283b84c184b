/*
 * test_sched_stress.c - many tasks doing everything at once on two schedulers: yields, safe-point
 * spins, preemptible sections, waits on shared words with and without timeouts, wakes across
 * schedulers, child tasks waited for from tasks, cancellation from outside, all racing.  What it
 * checks is the bookkeeping: every task finishes exactly once with an outcome it may have, the
 * counters agree, no stack is left, and (under the sanitizers) nothing races or leaks.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <unistd.h>

#include "dbos/platform.h"
#include "dbos/scheduler.h"
#include "dbos_test.h"

#define MS 1000000ull
#define WORDS 8
#define TASKS 1500

static uint32_t words[WORDS];
static atomic_uint finished_runs;
static dbos_sched *scheds[2];

static uint32_t next_random(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static void child(void *arg)
{
	(void)arg;
	dbos_sched_yield();
}

static void busy(void *arg)
{
	uint32_t seed = (uint32_t)(uintptr_t)arg;
	for (int step = 0; step < 6 && !dbos_sched_cancelled(); step++) {
		uint32_t *word = &words[next_random(&seed) % WORDS];
		switch (next_random(&seed) % 7) {
		case 0: dbos_sched_yield(); break;
		case 1: {
			uint64_t start = dbos_platform_now_ns();
			while (dbos_platform_now_ns() - start < 50000)
				dbos_sched_safepoint();
			break;
		}
		case 2: {
			dbos_sched_preemptible_begin();
			volatile uint64_t sum = 0;
			for (int i = 0; i < 20000; i++)
				sum += (uint64_t)i;
			dbos_sched_preemptible_end();
			break;
		}
		case 3: dbos_sched_wait_word(word, __atomic_load_n(word, __ATOMIC_ACQUIRE), 1 * MS); break;
		case 4:
			__atomic_fetch_add(word, 1, __ATOMIC_RELEASE);
			dbos_sched_wake_word(word, 1 + next_random(&seed) % 3);
			break;
		case 5: {
			dbos_task *task = NULL;
			dbos_sched *sched = scheds[next_random(&seed) % 2];
			if (dbos_sched_submit(sched, child, NULL, NULL, &task) == DBOS_OK) {
				dbos_task_wait(task, 5 * MS);
				dbos_task_release(task);
			}
			break;
		}
		case 6:
			dbos_preempt_disable();
			dbos_sched_safepoint();
			dbos_preempt_enable();
			break;
		}
	}
	atomic_fetch_add(&finished_runs, 1);
}

static void test_stress(void)
{
	for (int i = 0; i < 2; i++) {
		struct dbos_sched_config config = { .worker_count = 2,
						    .quantum_us = 50 + 150 * (uint32_t)i,
						    .aging_us = 2000 };
		REQUIRE(dbos_sched_create(&config, &scheds[i]) == DBOS_OK);
	}
	static dbos_task *tasks[TASKS];
	/* A fixed mix by default; DBOS_STRESS_SEED explores others. */
	uint32_t seed = getenv("DBOS_STRESS_SEED") ? (uint32_t)strtoul(getenv("DBOS_STRESS_SEED"), NULL, 10) : 99;
	for (int i = 0; i < TASKS; i++) {
		struct dbos_task_options options = { .priority = next_random(&seed) % DBOS_SCHED_PRIORITY_COUNT };
		if (next_random(&seed) % 10 == 0)
			options.deadline_ns = dbos_platform_now_ns() + (next_random(&seed) % 5) * MS;
		REQUIRE(dbos_sched_submit(scheds[i % 2], busy, (void *)(uintptr_t)(i + 1), &options, &tasks[i]) ==
			DBOS_OK);
		if (i % 7 == 3)
			dbos_task_cancel(tasks[next_random(&seed) % (uint32_t)(i + 1)]);
	}
	/* Keep waking every word so no wait without a timeout... all have one, but wake anyway. */
	int outcomes[5] = { 0 };
	for (int i = 0; i < TASKS; i++) {
		dbos_status outcome = dbos_task_wait(tasks[i], 30000 * MS);
		CHECK(outcome == DBOS_OK || outcome == DBOS_ECLOSED || outcome == DBOS_ETIMEDOUT);
		CHECK(dbos_task_done(tasks[i], NULL));
		outcomes[outcome == DBOS_OK ? 0 : outcome == DBOS_ECLOSED ? 1 : 2]++;
		dbos_task_release(tasks[i]);
	}
	uint64_t completed = 0, submitted = 0, cancelled = 0, expired = 0;
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(dbos_sched_shutdown(scheds[i], DBOS_SCHED_SHUTDOWN_DRAIN, 30000 * MS), DBOS_OK);
		struct dbos_sched_stats stats;
		REQUIRE(dbos_sched_stats(scheds[i], &stats) == DBOS_OK);
		CHECK_EQ(stats.stacks_live, 0);
		CHECK_EQ(stats.running + stats.parked + stats.queued[0] + stats.queued[1] + stats.queued[2], 0);
		completed += stats.completed;
		submitted += stats.submitted;
		cancelled += stats.cancelled;
		expired += stats.expired;
		dbos_sched_destroy(scheds[i]);
	}
	CHECK_EQ(completed, submitted);
	CHECK(submitted >= TASKS);
	/* Every busy task that was not retired unrun ran to its end exactly once. */
	printf("# outcomes: %d ok, %d cancelled, %d late; %llu tasks in all\n", outcomes[0], outcomes[1], outcomes[2],
	       (unsigned long long)submitted);
	CHECK(outcomes[0] > 0 && outcomes[1] > 0);
	CHECK(atomic_load(&finished_runs) >= (unsigned)outcomes[0]);
	CHECK(cancelled >= (uint64_t)outcomes[1]);
	CHECK(expired >= (uint64_t)outcomes[2]);
}

int main(void)
{
	RUN_TEST(test_stress);
	return TEST_EXIT_STATUS();
}
