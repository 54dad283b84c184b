/*
 * sched_bench.c - open-loop load generator for the scheduler benchmark.
 *
 *   sched_bench calibrate        {"iterationsPerUs":…}: the spin loop's speed, once per run
 *   sched_bench run KEY=VALUE…   one configuration; one JSON line on stdout
 *
 * Keys: system (fifo, linux-idle, linux-nice, cooperative, dbos, dbos-preemptible), scenario
 * (steady, bimodal), workers, quantum_us, load, short_rate, duration_ms,
 * short_us, scan_ms, long_fraction, iterations_per_unit, seed, drain (0/1).
 *
 * Scenarios:
 *   steady   short tasks arrive at `short_rate` per second (Poisson) while one
 *            scan per worker runs at all times: a scan that finishes submits
 *            its successor at once, from its own thread.
 *   bimodal  every arrival is a scan with probability `long_fraction`, else a
 *            short task; the Poisson rate makes `load` = rate x mean work /
 *            workers (load > 1 is the saturation run that measures
 *            throughput).
 *
 * The dispatcher is this program's main thread.  It computes the whole
 * schedule before starting (same seed: same schedule for every system), then
 * sleeps until each arrival and submits it, never waiting for completions.  It
 * runs SCHED_FIFO where permitted (same for every system) so that the load
 * generator is punctual on a machine with as many workers as cores; its
 * lateness is reported, and it counts against the system, since latency is
 * measured from the scheduled arrival.
 *
 * Throughput: the work finished inside the arrival window (units of every task,
 * scans counted as they go) per second of window, and the tasks that finished
 * inside it.  With drain=1 the run then waits for every short task before
 * stopping the scans, so a short task stuck behind a scan at the end still
 * reports its real latency.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

#define DRAIN_LIMIT_MS 20000

enum scenario {
	SCENARIO_STEADY,
	SCENARIO_BIMODAL,
};

struct options {
	const char *system;
	enum scenario scenario;
	uint32_t workers;
	uint64_t quantum_us;
	double load;
	double short_rate;
	uint64_t duration_ms;
	uint64_t short_us;
	uint64_t scan_ms;
	double long_fraction;
	uint64_t iterations_per_unit;
	uint64_t seed;
	bool drain;
};

static const struct bench_system *const systems[] = {
	&fifo_system,        &linux_idle_system, &linux_nice_system,
	&cooperative_system, &dbos_system,       &dbos_preemptible_system,
};

static struct options options = {
	.scenario = SCENARIO_BIMODAL,
	.workers = 2,
	.load = 0.5,
	.short_rate = 5000,
	.duration_ms = 2000,
	.short_us = 20,
	.scan_ms = 500,
	.long_fraction = 0.005,
	.seed = 1,
	.drain = true,
};

/* The run's task table: scheduled arrivals first, then the steady scenario's successor scans. */
static struct task *tasks;
static size_t scheduled_count;
static size_t spare_count;
static _Atomic size_t spares_used;
static _Atomic bool stopping;
static const struct bench_system *system_under_test;

bool bench_stopping(void)
{
	return atomic_load_explicit(&stopping, memory_order_relaxed);
}

void bench_task_finished(struct task *task)
{
	if (options.scenario != SCENARIO_STEADY || task->kind != TASK_SCAN || bench_stopping())
		return;
	size_t spare = atomic_fetch_add(&spares_used, 1);
	if (spare >= spare_count)
		return; /* reported: spares_used > spare_count */
	struct task *successor = &tasks[scheduled_count + spare];
	successor->arrival_ns = clock_ns();
	successor->submitted_ns = successor->arrival_ns;
	system_under_test->submit(successor);
}

static uint64_t random_state;

/* xorshift64*, uniform in (0, 1]. */
static double random_unit(void)
{
	random_state ^= random_state >> 12;
	random_state ^= random_state << 25;
	random_state ^= random_state >> 27;
	uint64_t x = random_state * 2685821657736338717u;
	return ((double)(x >> 11) + 1.0) / 9007199254740992.0;
}

static void task_init(struct task *task, enum task_kind kind, uint64_t arrival_ns)
{
	memset(task, 0, sizeof(*task));
	task->kind = kind;
	task->arrival_ns = arrival_ns;
	uint64_t work_us = kind == TASK_SHORT ? options.short_us : options.scan_ms * 1000;
	task->units = (uint32_t)((work_us + WORK_UNIT_US - 1) / WORK_UNIT_US);
}

/* Arrival times relative to the start; the dispatcher adds the start time. */
static void schedule_build(void)
{
	double window_ns = (double)options.duration_ms * 1e6;
	double rate_per_ns;
	if (options.scenario == SCENARIO_STEADY) {
		rate_per_ns = options.short_rate / 1e9;
	} else {
		double mean_us = (1 - options.long_fraction) * (double)options.short_us +
				 options.long_fraction * (double)options.scan_ms * 1000;
		rate_per_ns = options.load * options.workers / (mean_us * 1000);
	}
	size_t capacity = (size_t)(window_ns * rate_per_ns * 1.5) + 64 + options.workers;
	/* Successor scans: each takes scan_ms of CPU at least, over the window and the longest drain. */
	spare_count = options.scenario == SCENARIO_STEADY
			      ? options.workers * ((options.duration_ms + DRAIN_LIMIT_MS) / options.scan_ms + 2)
			      : 0;
	tasks = aligned_alloc(64, (capacity + spare_count) * sizeof(struct task));
	if (!tasks)
		abort();
	random_state = options.seed * 0x9e3779b97f4a7c15u + 1;
	size_t count = 0;
	if (options.scenario == SCENARIO_STEADY)
		for (uint32_t i = 0; i < options.workers; i++)
			task_init(&tasks[count++], TASK_SCAN, 0);
	double at_ns = 0;
	for (;;) {
		at_ns += -log(random_unit()) / rate_per_ns;
		if (at_ns >= window_ns || count == capacity)
			break;
		enum task_kind kind = TASK_SHORT;
		if (options.scenario == SCENARIO_BIMODAL && random_unit() < options.long_fraction)
			kind = TASK_SCAN;
		task_init(&tasks[count++], kind, (uint64_t)at_ns);
	}
	scheduled_count = count;
	for (size_t i = 0; i < spare_count; i++)
		task_init(&tasks[count + i], TASK_SCAN, 0);
}

static void sleep_until(uint64_t deadline_ns)
{
	struct timespec at = { .tv_sec = (time_t)(deadline_ns / 1000000000u),
			       .tv_nsec = (long)(deadline_ns % 1000000000u) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
		;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The p-th percentile (0 < p <= 100) of sorted `values`: the smallest value with p % at or below it. */
static uint64_t percentile(const uint64_t *values, size_t count, double p)
{
	if (count == 0)
		return 0;
	size_t rank = (size_t)ceil(p / 100.0 * (double)count);
	return values[rank == 0 ? 0 : rank - 1];
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static double rusage_ms(struct timeval tv)
{
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

static void report(uint64_t start_ns, uint64_t window_units, size_t window_completed, bool drained,
		   const char *dispatcher_policy, const struct rusage *before, const struct rusage *after)
{
	size_t total = scheduled_count + spare_count;
	uint64_t *latencies = malloc((total + 1) * sizeof(uint64_t));
	uint64_t *lateness = malloc((scheduled_count + 1) * sizeof(uint64_t));
	if (!latencies || !lateness)
		abort();
	size_t shorts = 0, finished = 0, scans_finished = 0;
	double latency_sum_ns = 0;
	for (size_t i = 0; i < total; i++) {
		struct task *task = &tasks[i];
		uint64_t done_ns = atomic_load(&task->done_ns);
		if (i < scheduled_count)
			lateness[i] = task->submitted_ns - task->arrival_ns;
		if (task->kind == TASK_SCAN) {
			scans_finished += done_ns && atomic_load(&task->units_done) == task->units;
			continue;
		}
		shorts++;
		if (!done_ns)
			continue;
		latencies[finished] = done_ns - task->arrival_ns;
		latency_sum_ns += (double)latencies[finished];
		finished++;
	}
	qsort(latencies, finished, sizeof(uint64_t), compare_u64);
	qsort(lateness, scheduled_count, sizeof(uint64_t), compare_u64);
	double window_s = (double)options.duration_ms / 1000.0;
	printf("{\"system\":\"%s\",\"scenario\":\"%s\",\"workers\":%u,\"quantumUs\":%llu,\"load\":%.3f,"
	       "\"shortRate\":%.1f,\"durationMs\":%llu,\"shortUs\":%llu,\"scanMs\":%llu,",
	       system_under_test->name, options.scenario == SCENARIO_STEADY ? "steady" : "bimodal", options.workers,
	       (unsigned long long)options.quantum_us, options.load, options.short_rate,
	       (unsigned long long)options.duration_ms, (unsigned long long)options.short_us,
	       (unsigned long long)options.scan_ms);
	printf("\"arrivals\":%zu,\"shorts\":%zu,\"shortsUnfinished\":%zu,\"drained\":%s,\"p50Us\":%.1f,\"p99Us\":%.1f,"
	       "\"p999Us\":%.1f,\"maxUs\":%.1f,\"meanUs\":%.1f,",
	       scheduled_count, shorts, shorts - finished, drained ? "true" : "false",
	       us(percentile(latencies, finished, 50)), us(percentile(latencies, finished, 99)),
	       us(percentile(latencies, finished, 99.9)), us(finished ? latencies[finished - 1] : 0),
	       finished ? latency_sum_ns / (double)finished / 1000.0 : 0.0);
	printf("\"scansFinished\":%zu,\"sparesUsed\":%zu,\"spares\":%zu,\"tasksPerSecond\":%.1f,\"workMsPerSecond\":%."
	       "2f,",
	       scans_finished, (size_t)atomic_load(&spares_used), spare_count, (double)window_completed / window_s,
	       (double)window_units * WORK_UNIT_US / 1000.0 / window_s);
	printf("\"dispatcherPolicy\":\"%s\",\"dispatcherLateP99Us\":%.1f,\"dispatcherLateMaxUs\":%.1f,",
	       dispatcher_policy, us(percentile(lateness, scheduled_count, 99)),
	       us(scheduled_count ? lateness[scheduled_count - 1] : 0));
	printf("\"cpuUserMs\":%.1f,\"cpuSystemMs\":%.1f,\"voluntarySwitches\":%ld,\"involuntarySwitches\":%ld",
	       rusage_ms(after->ru_utime) - rusage_ms(before->ru_utime),
	       rusage_ms(after->ru_stime) - rusage_ms(before->ru_stime), after->ru_nvcsw - before->ru_nvcsw,
	       after->ru_nivcsw - before->ru_nivcsw);
	system_under_test->report(stdout);
	(void)start_ns;
	printf("}\n");
	free(latencies);
	free(lateness);
}

/* Raise the dispatcher (only it: the systems' threads already exist or use explicit attributes). */
static const char *dispatcher_raise(void)
{
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	struct sched_param parameters = { .sched_priority = 10 };
	if (sched_setscheduler(0, SCHED_FIFO, &parameters) == 0)
		return "SCHED_FIFO";
	if (setpriority(PRIO_PROCESS, 0, -20) == 0)
		return "nice -20";
	return "SCHED_OTHER";
}

static int run(void)
{
	struct bench_config config = { .workers = options.workers, .quantum_us = options.quantum_us };
	work_set_iterations_per_unit(options.iterations_per_unit);
	schedule_build();
	const char *refused = system_under_test->start(&config);
	if (refused) {
		printf("{\"system\":\"%s\",\"notRun\":\"%s\"}\n", system_under_test->name, refused);
		return 0;
	}
	const char *dispatcher_policy = dispatcher_raise();
	struct rusage before, after;
	getrusage(RUSAGE_SELF, &before);

	uint64_t start_ns = clock_ns() + 2000000;
	for (size_t i = 0; i < scheduled_count; i++) {
		struct task *task = &tasks[i];
		task->arrival_ns += start_ns;
		uint64_t now_ns = clock_ns();
		if (now_ns < task->arrival_ns)
			sleep_until(task->arrival_ns);
		task->submitted_ns = clock_ns();
		system_under_test->submit(task);
	}
	uint64_t window_end_ns = start_ns + options.duration_ms * 1000000;
	sleep_until(window_end_ns);
	uint64_t window_units = 0;
	size_t window_completed = 0;
	for (size_t i = 0; i < scheduled_count + spare_count; i++) {
		uint64_t done_ns = atomic_load(&tasks[i].done_ns);
		uint32_t units = atomic_load(&tasks[i].units_done);
		window_units += units;
		window_completed += done_ns && done_ns <= window_end_ns && units == tasks[i].units;
	}

	bool drained = true;
	if (options.drain) {
		uint64_t limit_ns = clock_ns() + (uint64_t)DRAIN_LIMIT_MS * 1000000;
		for (size_t i = 0; i < scheduled_count; i++) {
			if (tasks[i].kind != TASK_SHORT)
				continue;
			while (!atomic_load(&tasks[i].done_ns) && clock_ns() < limit_ns) {
				struct timespec pause = { .tv_nsec = 500000 };
				nanosleep(&pause, NULL);
			}
		}
		drained = clock_ns() < limit_ns;
	}
	atomic_store(&stopping, true);
	getrusage(RUSAGE_SELF, &after);
	system_under_test->drain();
	report(start_ns, window_units, window_completed, drained, dispatcher_policy, &before, &after);
	return 0;
}

static bool parse_option(const char *argument)
{
	const char *equals = strchr(argument, '=');
	if (!equals)
		return false;
	size_t key_length = (size_t)(equals - argument);
	const char *value = equals + 1;
#define KEY(name) (key_length == strlen(name) && strncmp(argument, name, key_length) == 0)
	if (KEY("system")) {
		for (size_t i = 0; i < sizeof(systems) / sizeof(systems[0]); i++)
			if (strcmp(systems[i]->name, value) == 0)
				system_under_test = systems[i];
		return system_under_test != NULL;
	}
	if (KEY("scenario")) {
		if (strcmp(value, "steady") == 0)
			options.scenario = SCENARIO_STEADY;
		else if (strcmp(value, "bimodal") == 0)
			options.scenario = SCENARIO_BIMODAL;
		else
			return false;
		return true;
	}
	char *end;
	double number = strtod(value, &end);
	if (*end || end == value || !(number >= 0))
		return false;
	if (KEY("workers"))
		options.workers = (uint32_t)number;
	else if (KEY("quantum_us"))
		options.quantum_us = (uint64_t)number;
	else if (KEY("load"))
		options.load = number;
	else if (KEY("short_rate"))
		options.short_rate = number;
	else if (KEY("duration_ms"))
		options.duration_ms = (uint64_t)number;
	else if (KEY("short_us"))
		options.short_us = (uint64_t)number;
	else if (KEY("scan_ms"))
		options.scan_ms = (uint64_t)number;
	else if (KEY("long_fraction"))
		options.long_fraction = number;
	else if (KEY("iterations_per_unit"))
		options.iterations_per_unit = (uint64_t)number;
	else if (KEY("seed"))
		options.seed = (uint64_t)number;
	else if (KEY("drain"))
		options.drain = number != 0;
	else
		return false;
	return true;
#undef KEY
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "calibrate") == 0) {
		printf("{\"iterationsPerUs\":%.3f,\"unitUs\":%d}\n", work_calibrate(), WORK_UNIT_US);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "usage: sched_bench calibrate | run KEY=VALUE...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!parse_option(argv[i])) {
			fprintf(stderr, "sched_bench: bad option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!system_under_test || options.iterations_per_unit == 0 || options.workers == 0 ||
	    options.duration_ms == 0 || options.scan_ms == 0 || options.short_us == 0) {
		fprintf(stderr, "sched_bench: system= and iterations_per_unit= are required; sizes must be positive\n");
		return 2;
	}
	return run();
}
