/*
 * system_dbos.c - the system under test: dbos/scheduler.h.  Short tasks are
 * submitted at DBOS_SCHED_LATENCY, scans at DBOS_SCHED_BACKGROUND (what the kv
 * store does with its scans, checkpoints and compaction).  Two ways a scan
 * lets itself be preempted:
 *   "dbos"              dbos_sched_safepoint() between units (every
 *                       WORK_UNIT_US of work): the timer's signal raises a
 *                       flag, the scan switches at its next safe point;
 *   "dbos-preemptible"  the scan's work runs in a preemptible section with no
 *                       safe point: the signal handler switches at once.
 * Both run with the scheduler's defaults otherwise (aging 100 ms, 256 KiB
 * stacks); workers and quantum come from the run.
 *
 * Built without SCHED_BENCH_WITH_DBOS (bench/run.ts does that only when the
 * scheduler's C sources do not link yet) both systems refuse to start and say
 * so: the run reports them as not run.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "bench.h"

#ifdef SCHED_BENCH_WITH_DBOS
#include "dbos/scheduler.h"

static dbos_sched *sched;
static bool scans_preemptible;

static void dbos_safe_point(void)
{
	dbos_sched_safepoint();
}

static void dbos_task_body(void *argument)
{
	struct task *task = argument;
	if (task->kind == TASK_SCAN && scans_preemptible) {
		dbos_sched_preemptible_begin();
		task_work(task, NULL);
		dbos_sched_preemptible_end();
		task_finish(task);
		return;
	}
	task_run(task, task->kind == TASK_SCAN ? dbos_safe_point : NULL);
}

static const char *dbos_start_with(const struct bench_config *config, bool preemptible)
{
	static char why[96];
	struct dbos_sched_config sched_config = {
		.worker_count = config->workers,
		.quantum_us = (uint32_t)config->quantum_us,
	};
	scans_preemptible = preemptible;
	dbos_status status = dbos_sched_create(&sched_config, &sched);
	if (status != DBOS_OK) {
		snprintf(why, sizeof(why), "dbos_sched_create failed: %s", dbos_status_name(status));
		return why;
	}
	return NULL;
}

static const char *dbos_start(const struct bench_config *config)
{
	return dbos_start_with(config, false);
}

static const char *dbos_preemptible_start(const struct bench_config *config)
{
	return dbos_start_with(config, true);
}

static void dbos_submit(struct task *task)
{
	struct dbos_task_options options = {
		.priority = task->kind == TASK_SHORT ? DBOS_SCHED_LATENCY : DBOS_SCHED_BACKGROUND,
	};
	dbos_status status = dbos_sched_submit(sched, dbos_task_body, task, &options, NULL);
	if (status != DBOS_OK) {
		fprintf(stderr, "sched_bench: dbos_sched_submit failed: %s\n", dbos_status_name(status));
		abort();
	}
}

static struct dbos_sched_stats final_stats;

/* The scans see bench_stopping() within one unit, so DRAIN ends quickly. */
static void dbos_drain(void)
{
	dbos_status status = dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_DRAIN, 30000000000u);
	if (status != DBOS_OK) {
		fprintf(stderr, "sched_bench: dbos_sched_shutdown: %s\n", dbos_status_name(status));
		abort();
	}
	dbos_sched_stats(sched, &final_stats);
	dbos_sched_destroy(sched);
}

static void dbos_report(FILE *out)
{
	char mechanism[512];
	dbos_sched_mechanism(mechanism, sizeof(mechanism));
	for (char *c = mechanism; *c; c++)
		if (*c == '"' || *c == '\\')
			*c = '\'';
	fprintf(out,
		",\"timerSignals\":%llu,\"preemptSafepoint\":%llu,\"preemptImmediate\":%llu,\"switches\":%llu,"
		"\"switchNs\":%llu,\"aged\":%llu,\"mechanism\":\"%s\"",
		(unsigned long long)final_stats.timer_signals, (unsigned long long)final_stats.preempt_safepoint,
		(unsigned long long)final_stats.preempt_immediate, (unsigned long long)final_stats.switches,
		(unsigned long long)final_stats.switch_ns, (unsigned long long)final_stats.aged, mechanism);
}

#else

static const char *dbos_start(const struct bench_config *config)
{
	return "the scheduler's C sources did not link into the benchmark";
}

#define dbos_preemptible_start dbos_start

static void dbos_submit(struct task *task)
{
	abort();
}

static void dbos_drain(void)
{}

static void dbos_report(FILE *out)
{}

#endif

const struct bench_system dbos_system = {
	.name = "dbos",
	.start = dbos_start,
	.submit = dbos_submit,
	.drain = dbos_drain,
	.report = dbos_report,
};

const struct bench_system dbos_preemptible_system = {
	.name = "dbos-preemptible",
	.start = dbos_preemptible_start,
	.submit = dbos_submit,
	.drain = dbos_drain,
	.report = dbos_report,
};
