/*
 * test_sched.c - the native scheduler on the host: priorities, preemption at
 * safe points and immediately, latch sections, aging, cancellation,
 * deadlines, parking, shutdown, many tasks, bad input.
 *
 * Time bounds here are generous (the machine is shared and runs sanitizers):
 * they check that something happens at all, never how fast.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dbos/platform.h"
#include "dbos/scheduler.h"
#include "dbos_test.h"

#define MS 1000000ull

static dbos_sched *sched_new(uint32_t workers, uint32_t quantum_us, uint32_t aging_us)
{
	struct dbos_sched_config config = { .worker_count = workers, .quantum_us = quantum_us, .aging_us = aging_us };
	dbos_sched *sched = NULL;
	dbos_status status = dbos_sched_create(&config, &sched);
	if (status != DBOS_OK) {
		fprintf(stderr, "dbos_sched_create: %s\n", dbos_status_name(status));
		return NULL;
	}
	return sched;
}

static struct dbos_sched_stats stats_of(dbos_sched *sched)
{
	struct dbos_sched_stats stats;
	DBOS_ASSERT(dbos_sched_stats(sched, &stats) == DBOS_OK);
	return stats;
}

/* Shut down (draining), check every stack went back, free. */
static void sched_done(dbos_sched *sched)
{
	CHECK_EQ(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_DRAIN, 20000 * MS), DBOS_OK);
	struct dbos_sched_stats stats = stats_of(sched);
	CHECK_EQ(stats.stacks_live, 0);
	CHECK_EQ(stats.running, 0);
	CHECK_EQ(stats.parked, 0);
	CHECK_EQ(stats.completed, stats.submitted);
	dbos_sched_destroy(sched);
}

static uint64_t now_ns(void)
{
	return dbos_platform_now_ns();
}

static void sleep_ms(unsigned ms)
{
	usleep(ms * 1000u);
}

static dbos_task *submit(dbos_sched *sched, void (*fn)(void *), void *arg, uint32_t priority)
{
	struct dbos_task_options options = { .priority = priority };
	dbos_task *task = NULL;
	dbos_status status = dbos_sched_submit(sched, fn, arg, &options, &task);
	if (status != DBOS_OK) {
		fprintf(stderr, "submit: %s\n", dbos_status_name(status));
		return NULL;
	}
	return task;
}

static dbos_status finish(dbos_task *task)
{
	dbos_status outcome = dbos_task_wait(task, 20000 * MS);
	dbos_task_release(task);
	return outcome;
}

/* ---- A gate: a task that holds its worker (no safe points) until opened ------------- */

static atomic_int gate_open;
static atomic_int gate_holding;

static void gate_task(void *arg)
{
	(void)arg;
	atomic_store(&gate_holding, 1);
	while (!atomic_load(&gate_open))
		dbos_platform_relax();
}

static dbos_task *gate_close(dbos_sched *sched)
{
	atomic_store(&gate_open, 0);
	atomic_store(&gate_holding, 0);
	dbos_task *gate = submit(sched, gate_task, NULL, DBOS_SCHED_LATENCY);
	while (!atomic_load(&gate_holding))
		sleep_ms(1);
	return gate;
}

/* Defined with the latch cases, used earlier too. */
static atomic_int other_ran;
static void other_task(void *arg);

/* ---- Bad input ---------------------------------------------------------------------- */

static void noop(void *arg)
{
	(void)arg;
}

static void test_errors_config(void)
{
	dbos_sched *sched = NULL;
	struct dbos_sched_config config = { .worker_count = 1 };
	CHECK_EQ(dbos_sched_create(NULL, &sched), DBOS_EINVAL);
	CHECK_EQ(dbos_sched_create(&config, NULL), DBOS_EINVAL);
	config.quantum_us = 49;
	CHECK_EQ(dbos_sched_create(&config, &sched), DBOS_ERANGE);
	config.quantum_us = 100001;
	CHECK_EQ(dbos_sched_create(&config, &sched), DBOS_ERANGE);
	config.quantum_us = 0;
	config.worker_count = DBOS_SCHED_WORKERS_MAX + 1;
	CHECK_EQ(dbos_sched_create(&config, &sched), DBOS_ERANGE);
	config.worker_count = 1;
	config.stack_bytes = 4096;
	CHECK_EQ(dbos_sched_create(&config, &sched), DBOS_ERANGE);
	config.stack_bytes = 0;
	config.aging_us = DBOS_SCHED_AGING_US_MAX + 1;
	CHECK_EQ(dbos_sched_create(&config, &sched), DBOS_ERANGE);
	config.aging_us = 0;
	config.flags = 0x80;
	CHECK_EQ(dbos_sched_create(&config, &sched), DBOS_EINVAL);
	config.flags = 0;
	config.stack_pool = DBOS_SCHED_STACK_POOL_MAX + 1;
	CHECK_EQ(dbos_sched_create(&config, &sched), DBOS_ERANGE);
	CHECK(sched == NULL);
	/* The edges of the quantum range are accepted. */
	config = (struct dbos_sched_config){ .worker_count = 1, .quantum_us = DBOS_SCHED_QUANTUM_US_MIN };
	REQUIRE(dbos_sched_create(&config, &sched) == DBOS_OK);
	CHECK_EQ(stats_of(sched).quantum_us, 50);
	sched_done(sched);
	config.quantum_us = DBOS_SCHED_QUANTUM_US_MAX;
	REQUIRE(dbos_sched_create(&config, &sched) == DBOS_OK);
	sched_done(sched);
}

static dbos_status shutdown_from_task_status;
static dbos_sched *shutdown_from_task_sched;

static void shutdown_from_task(void *arg)
{
	(void)arg;
	shutdown_from_task_status = dbos_sched_shutdown(shutdown_from_task_sched, DBOS_SCHED_SHUTDOWN_DRAIN, 0);
	dbos_sched_destroy(shutdown_from_task_sched); /* refused (logged): the scheduler lives on */
}

static void test_errors_calls(void)
{
	dbos_sched *sched = sched_new(1, 0, 0);
	REQUIRE(sched);
	dbos_task *task = NULL;
	struct dbos_task_options options = { .priority = DBOS_SCHED_PRIORITY_COUNT };
	CHECK_EQ(dbos_sched_submit(NULL, noop, NULL, NULL, &task), DBOS_EINVAL);
	CHECK_EQ(dbos_sched_submit(sched, NULL, NULL, NULL, &task), DBOS_EINVAL);
	CHECK_EQ(dbos_sched_submit(sched, noop, NULL, &options, &task), DBOS_EINVAL);
	options.priority = 0xffffffffu;
	CHECK_EQ(dbos_sched_submit(sched, noop, NULL, &options, &task), DBOS_EINVAL);
	options = (struct dbos_task_options){ .priority = DBOS_SCHED_NORMAL, .reserved = 1 };
	CHECK_EQ(dbos_sched_submit(sched, noop, NULL, &options, &task), DBOS_EINVAL);
	CHECK(task == NULL);
	CHECK_EQ(dbos_task_wait(NULL, 0), DBOS_EINVAL);
	CHECK(!dbos_task_done(NULL, NULL));
	dbos_task_cancel(NULL);
	dbos_task_release(NULL);
	CHECK_EQ(dbos_sched_stats(NULL, NULL), DBOS_EINVAL);
	struct dbos_sched_stats stats;
	CHECK_EQ(dbos_sched_stats(NULL, &stats), DBOS_EINVAL);
	CHECK_EQ(dbos_sched_stats(sched, NULL), DBOS_EINVAL);
	uint32_t words[2] = { 0, 0 };
	CHECK_EQ(dbos_sched_wait_word(NULL, 0, 0), DBOS_EINVAL);
	CHECK_EQ(dbos_sched_wait_word((const uint32_t *)((char *)words + 1), 0, 0), DBOS_EINVAL);
	CHECK_EQ(dbos_sched_wait_word(words, 1, 0), DBOS_OK); /* differs: at once */
	CHECK_EQ(dbos_sched_wait_word(words, 0, 1 * MS), DBOS_ETIMEDOUT);
	dbos_sched_wake_word(NULL, 1);
	CHECK_EQ(dbos_sched_shutdown(NULL, DBOS_SCHED_SHUTDOWN_DRAIN, 0), DBOS_EINVAL);
	CHECK_EQ(dbos_sched_shutdown(sched, (enum dbos_sched_shutdown_mode)7, 0), DBOS_EINVAL);
	/* Outside a task the in-task calls do nothing. */
	dbos_sched_safepoint();
	dbos_sched_yield();
	dbos_sched_preemptible_begin();
	dbos_sched_preemptible_end();
	CHECK(!dbos_sched_cancelled());
	CHECK(!dbos_sched_in_task());
	/* Shutdown from one of the scheduler's own tasks would wait for itself. */
	shutdown_from_task_sched = sched;
	task = submit(sched, shutdown_from_task, NULL, DBOS_SCHED_NORMAL);
	REQUIRE(task);
	CHECK_EQ(finish(task), DBOS_OK);
	CHECK_EQ(shutdown_from_task_status, DBOS_EBUSY);
	/* After shutdown: a stable code, never a crash. */
	CHECK_EQ(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_DRAIN, UINT64_MAX), DBOS_OK);
	CHECK_EQ(dbos_sched_submit(sched, noop, NULL, NULL, &task), DBOS_ECLOSED);
	CHECK_EQ(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_CANCEL, UINT64_MAX), DBOS_OK); /* again: fine */
	sched_done(sched);
}

/* ---- Priorities ------------------------------------------------------------------------ */

static atomic_int order_log[16];
static atomic_int order_count;

static void log_task(void *arg)
{
	int slot = atomic_fetch_add(&order_count, 1);
	if (slot < 16)
		atomic_store(&order_log[slot], (int)(intptr_t)arg);
}

static void test_priority_order(void)
{
	dbos_sched *sched = sched_new(1, 1000, DBOS_SCHED_AGING_US_MAX);
	REQUIRE(sched);
	atomic_store(&order_count, 0);
	dbos_task *gate = gate_close(sched);
	/* id = 10 * class + sequence: submitted interleaved, must run class by class, FIFO inside. */
	int ids[] = { 20, 10, 0, 21, 11, 1, 22, 12, 2 };
	dbos_task *tasks[9];
	for (int i = 0; i < 9; i++)
		tasks[i] = submit(sched, log_task, (void *)(intptr_t)ids[i], (uint32_t)(ids[i] / 10));
	struct dbos_sched_stats stats = stats_of(sched);
	CHECK_EQ(stats.queued[DBOS_SCHED_LATENCY], 3);
	CHECK_EQ(stats.queued[DBOS_SCHED_NORMAL], 3);
	CHECK_EQ(stats.queued[DBOS_SCHED_BACKGROUND], 3);
	CHECK_EQ(stats.running, 1);
	atomic_store(&gate_open, 1);
	CHECK_EQ(finish(gate), DBOS_OK);
	for (int i = 0; i < 9; i++)
		CHECK_EQ(finish(tasks[i]), DBOS_OK);
	int expected[] = { 0, 1, 2, 10, 11, 12, 20, 21, 22 };
	CHECK_EQ(atomic_load(&order_count), 9);
	for (int i = 0; i < 9; i++)
		CHECK_EQ(atomic_load(&order_log[i]), expected[i]);
	sched_done(sched);
}

/* ---- Preemption at safe points ------------------------------------------------------------ */

static atomic_int spin_stop;
static atomic_int spinners_started;

static void spin_safepoints(void *arg)
{
	atomic_ullong *iterations = arg;
	atomic_fetch_add(&spinners_started, 1);
	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed)) {
		if (iterations)
			atomic_fetch_add_explicit(iterations, 1, memory_order_relaxed);
		dbos_sched_safepoint();
	}
}

static atomic_ullong latency_started_ns;

static void latency_task(void *arg)
{
	(void)arg;
	atomic_store(&latency_started_ns, now_ns());
}

/* Every worker spins on a background task; a latency task still starts quickly. */
static void test_preempt_safepoint_latency(void)
{
	dbos_sched *sched = sched_new(0, 1000, 0);
	REQUIRE(sched);
	uint32_t workers = stats_of(sched).worker_count;
	atomic_store(&spin_stop, 0);
	atomic_store(&spinners_started, 0);
	dbos_task *spinners[DBOS_SCHED_WORKERS_MAX];
	for (uint32_t i = 0; i < workers; i++)
		spinners[i] = submit(sched, spin_safepoints, NULL, DBOS_SCHED_BACKGROUND);
	while (atomic_load(&spinners_started) < (int)workers)
		sleep_ms(1);
	for (int round = 0; round < 5; round++) {
		atomic_store(&latency_started_ns, 0);
		uint64_t submitted = now_ns();
		dbos_task *task = submit(sched, latency_task, NULL, DBOS_SCHED_LATENCY);
		CHECK_EQ(finish(task), DBOS_OK);
		uint64_t waited = atomic_load(&latency_started_ns) - submitted;
		if (waited > 100 * MS)
			fprintf(stderr, "latency task waited %llu us behind spinners\n",
				(unsigned long long)(waited / 1000));
		CHECK(waited <= 100 * MS);
		sleep_ms(3);
	}
	atomic_store(&spin_stop, 1);
	for (uint32_t i = 0; i < workers; i++)
		CHECK_EQ(finish(spinners[i]), DBOS_OK);
	CHECK(stats_of(sched).preempt_safepoint > 0);
	sched_done(sched);
}

/* Two spinners of one class on one worker both make progress: the quantum takes turns. */
static void test_preempt_round_robin(void)
{
	dbos_sched *sched = sched_new(1, 1000, 0);
	REQUIRE(sched);
	atomic_store(&spin_stop, 0);
	atomic_store(&spinners_started, 0);
	atomic_ullong a = 0, b = 0;
	dbos_task *ta = submit(sched, spin_safepoints, &a, DBOS_SCHED_NORMAL);
	dbos_task *tb = submit(sched, spin_safepoints, &b, DBOS_SCHED_NORMAL);
	uint64_t start = now_ns();
	while ((atomic_load(&a) == 0 || atomic_load(&b) == 0) && now_ns() - start < 5000 * MS)
		sleep_ms(2);
	CHECK(atomic_load(&a) > 0 && atomic_load(&b) > 0);
	atomic_store(&spin_stop, 1);
	CHECK_EQ(finish(ta), DBOS_OK);
	CHECK_EQ(finish(tb), DBOS_OK);
	struct dbos_sched_stats stats = stats_of(sched);
	CHECK(stats.timer_signals > 0);
	CHECK(stats.preempt_safepoint > 0);
	sched_done(sched);
}

/* ---- Immediate preemption ----------------------------------------------------------------- */

static atomic_int released;

/*
 * Spins in a preemptible section with no safe point, computing in vector
 * registers: only the handler can switch it out, and the result proves the
 * switch kept every register.
 */
static void preemptible_spinner(void *arg)
{
	double *result = arg;
	double sum = 0.0, step = 0.5;
	uint64_t rounds = 0;
	dbos_sched_preemptible_begin();
	while (!atomic_load_explicit(&released, memory_order_relaxed)) {
		sum += step;
		rounds++;
	}
	dbos_sched_preemptible_end();
	*result = sum - step * (double)rounds; /* 0 exactly: sums of halves are exact below 2^53 */
}

static void releaser(void *arg)
{
	/* Dirty the vector registers the spinner uses. */
	volatile double noise = 3.25;
	for (int i = 0; i < 1000; i++)
		noise = noise * 1.0001 + 0.5;
	(void)noise;
	atomic_store(&released, 1);
}

static void test_preempt_immediate(void)
{
	char mechanism[512];
	dbos_sched_mechanism(mechanism, sizeof(mechanism));
	if (!strstr(mechanism, "switch immediately"))
		SKIP("immediate preemption is off in this build (see the mechanism line)");
	dbos_sched *sched = sched_new(1, 1000, 0);
	REQUIRE(sched);
	atomic_store(&released, 0);
	double result = -1.0;
	dbos_task *spinner = submit(sched, preemptible_spinner, &result, DBOS_SCHED_NORMAL);
	sleep_ms(2);
	dbos_task *release = submit(sched, releaser, NULL, DBOS_SCHED_NORMAL);
	CHECK_EQ(dbos_task_wait(release, 10000 * MS), DBOS_OK);
	CHECK_EQ(finish(spinner), DBOS_OK);
	dbos_task_release(release);
	CHECK(result == 0.0);
	CHECK(stats_of(sched).preempt_immediate > 0);
	sched_done(sched);
}

/* With DBOS_SCHED_NO_IMMEDIATE the same spinner is never switched: nothing it runs is a safe point. */
static void test_no_immediate_flag(void)
{
	struct dbos_sched_config config = { .worker_count = 1, .quantum_us = 1000, .flags = DBOS_SCHED_NO_IMMEDIATE };
	dbos_sched *sched = NULL;
	REQUIRE(dbos_sched_create(&config, &sched) == DBOS_OK);
	atomic_store(&released, 0);
	atomic_store(&other_ran, 0);
	double result = -1.0;
	dbos_task *spinner = submit(sched, preemptible_spinner, &result, DBOS_SCHED_BACKGROUND);
	while (stats_of(sched).running == 0)
		sleep_ms(1);
	dbos_task *other = submit(sched, other_task, NULL, DBOS_SCHED_LATENCY);
	sleep_ms(30); /* thirty quanta */
	CHECK_EQ(atomic_load(&other_ran), 0);
	atomic_store(&released, 1);
	CHECK_EQ(finish(spinner), DBOS_OK);
	CHECK_EQ(finish(other), DBOS_OK);
	CHECK(result == 0.0);
	CHECK_EQ(stats_of(sched).preempt_immediate, 0);
	sched_done(sched);
}

/* A latency task submitted while a background task spins in a preemptible section gets the
 * worker from the submitter's kick, long before the (100 ms) quantum would have ended. */
static atomic_ullong timer_signals_seen;
static dbos_sched *kick_sched;

static void latency_reads_stats(void *arg)
{
	(void)arg;
	struct dbos_sched_stats stats;
	DBOS_ASSERT(dbos_sched_stats(kick_sched, &stats) == DBOS_OK);
	atomic_store(&timer_signals_seen, stats.timer_signals);
	atomic_store(&released, 1);
}

static void test_preempt_kick(void)
{
	char mechanism[512];
	dbos_sched_mechanism(mechanism, sizeof(mechanism));
	if (!strstr(mechanism, "switch immediately"))
		SKIP("immediate preemption is off in this build (see the mechanism line)");
	dbos_sched *sched = sched_new(1, DBOS_SCHED_QUANTUM_US_MAX, 0);
	REQUIRE(sched);
	kick_sched = sched;
	atomic_store(&released, 0);
	atomic_store(&timer_signals_seen, UINT64_MAX);
	double result = -1.0;
	dbos_task *spinner = submit(sched, preemptible_spinner, &result, DBOS_SCHED_BACKGROUND);
	while (stats_of(sched).running == 0)
		sleep_ms(1);
	dbos_task *urgent = submit(sched, latency_reads_stats, NULL, DBOS_SCHED_LATENCY);
	CHECK_EQ(finish(urgent), DBOS_OK);
	CHECK_EQ(finish(spinner), DBOS_OK);
	CHECK(result == 0.0);
	/* Switched by the kick, not by a quantum's end. */
	CHECK_EQ(atomic_load(&timer_signals_seen), 0);
	CHECK(stats_of(sched).preempt_immediate > 0);
	sched_done(sched);
}

/* ---- Latch sections --------------------------------------------------------------------------- */

static atomic_int other_ran;
static atomic_int ran_inside_latch;
static atomic_int ran_after_enable;

static void other_task(void *arg)
{
	(void)arg;
	atomic_store(&other_ran, 1);
}

static atomic_int other_submitted;

static void latch_holder(void *arg)
{
	(void)arg;
	dbos_preempt_disable();
	/* Safe points and a preemptible section for ten quanta after the other task queued: none may switch. */
	dbos_sched_preemptible_begin();
	while (!atomic_load(&other_submitted))
		dbos_sched_safepoint();
	uint64_t start = now_ns();
	while (now_ns() - start < 10 * MS)
		dbos_sched_safepoint();
	dbos_sched_preemptible_end();
	dbos_sched_yield();
	atomic_store(&ran_inside_latch, atomic_load(&other_ran));
	dbos_preempt_enable(); /* the pending preemption switches here */
	atomic_store(&ran_after_enable, atomic_load(&other_ran));
}

static void test_latch_section(void)
{
	dbos_sched *sched = sched_new(1, 1000, 0);
	REQUIRE(sched);
	atomic_store(&other_ran, 0);
	atomic_store(&ran_inside_latch, -1);
	atomic_store(&ran_after_enable, -1);
	atomic_store(&other_submitted, 0);
	dbos_task *holder = submit(sched, latch_holder, NULL, DBOS_SCHED_NORMAL);
	sleep_ms(2);
	dbos_task *other = submit(sched, other_task, NULL, DBOS_SCHED_NORMAL);
	atomic_store(&other_submitted, 1);
	CHECK_EQ(finish(holder), DBOS_OK);
	CHECK_EQ(finish(other), DBOS_OK);
	CHECK_EQ(atomic_load(&ran_inside_latch), 0);
	CHECK_EQ(atomic_load(&ran_after_enable), 1);
	CHECK(stats_of(sched).preempt_deferred > 0);
	sched_done(sched);
}

/* ---- Aging ------------------------------------------------------------------------------------ */

static atomic_int background_ran;
static atomic_int chain_length;
static dbos_sched *chain_sched;

/* A latency task that keeps the worker busy for a quantum, then submits the next one. */
static void latency_chain(void *arg)
{
	(void)arg;
	uint64_t start = now_ns();
	while (now_ns() - start < 1 * MS)
		dbos_sched_safepoint();
	atomic_fetch_add(&chain_length, 1);
	if (!atomic_load(&background_ran) && atomic_load(&chain_length) < 3000)
		DBOS_ASSERT(dbos_sched_submit(chain_sched, latency_chain, NULL,
					      &(struct dbos_task_options){ .priority = DBOS_SCHED_LATENCY },
					      NULL) == DBOS_OK);
}

static void background_task(void *arg)
{
	(void)arg;
	atomic_store(&background_ran, 1);
}

static void test_aging(void)
{
	dbos_sched *sched = sched_new(1, 1000, 20000); /* 20 ms */
	REQUIRE(sched);
	chain_sched = sched;
	atomic_store(&background_ran, 0);
	atomic_store(&chain_length, 0);
	dbos_task *first = submit(sched, latency_chain, NULL, DBOS_SCHED_LATENCY);
	dbos_task *background = submit(sched, background_task, NULL, DBOS_SCHED_BACKGROUND);
	CHECK_EQ(finish(background), DBOS_OK);
	CHECK_EQ(finish(first), DBOS_OK);
	/* It ran while latency work was still arriving, not after the chain gave up. */
	CHECK(atomic_load(&chain_length) < 3000);
	CHECK(stats_of(sched).aged > 0);
	sched_done(sched);
}

/* ---- Cancellation and deadlines ------------------------------------------------------------------ */

static atomic_int should_not_run;

static void must_not_run(void *arg)
{
	(void)arg;
	atomic_store(&should_not_run, 1);
}

static atomic_int saw_cancel;

static void run_until_cancelled(void *arg)
{
	(void)arg;
	atomic_fetch_add(&spinners_started, 1);
	while (!dbos_sched_cancelled())
		dbos_sched_safepoint();
	atomic_fetch_add(&saw_cancel, 1);
}

static uint32_t never_changes;
static atomic_int park_status;

static void park_forever(void *arg)
{
	(void)arg;
	atomic_fetch_add(&spinners_started, 1);
	atomic_store(&park_status, dbos_sched_wait_word(&never_changes, 0, UINT64_MAX));
}

static void test_cancel(void)
{
	dbos_sched *sched = sched_new(1, 1000, 0);
	REQUIRE(sched);
	/* Queued: finished at once, never runs. */
	atomic_store(&should_not_run, 0);
	dbos_task *gate = gate_close(sched);
	dbos_task *queued = submit(sched, must_not_run, NULL, DBOS_SCHED_NORMAL);
	dbos_task_cancel(queued);
	dbos_status outcome = DBOS_OK;
	CHECK(dbos_task_done(queued, &outcome));
	CHECK_EQ(outcome, DBOS_ECLOSED);
	atomic_store(&gate_open, 1);
	CHECK_EQ(finish(gate), DBOS_OK);
	CHECK_EQ(finish(queued), DBOS_ECLOSED);
	CHECK_EQ(atomic_load(&should_not_run), 0);

	/* Running: sees dbos_sched_cancelled(). */
	atomic_store(&spinners_started, 0);
	atomic_store(&saw_cancel, 0);
	dbos_task *running = submit(sched, run_until_cancelled, NULL, DBOS_SCHED_NORMAL);
	while (!atomic_load(&spinners_started))
		sleep_ms(1);
	CHECK_EQ(dbos_task_wait(running, 5 * MS), DBOS_ETIMEDOUT);
	dbos_task_cancel(running);
	CHECK_EQ(finish(running), DBOS_ECLOSED);
	CHECK_EQ(atomic_load(&saw_cancel), 1);

	/* Parked: its wait returns DBOS_ECLOSED. */
	atomic_store(&spinners_started, 0);
	atomic_store(&park_status, -1);
	dbos_task *parked = submit(sched, park_forever, NULL, DBOS_SCHED_NORMAL);
	while (!atomic_load(&spinners_started) || stats_of(sched).parked == 0)
		sleep_ms(1);
	dbos_task_cancel(parked);
	dbos_task_cancel(parked); /* idempotent */
	CHECK_EQ(finish(parked), DBOS_ECLOSED);
	CHECK_EQ(atomic_load(&park_status), DBOS_ECLOSED);
	CHECK_EQ(stats_of(sched).cancelled, 3);
	sched_done(sched);
}

static void test_deadline(void)
{
	dbos_sched *sched = sched_new(1, 1000, 0);
	REQUIRE(sched);
	/* Late in the queue: never runs, outcome DBOS_ETIMEDOUT. */
	atomic_store(&should_not_run, 0);
	dbos_task *gate = gate_close(sched);
	struct dbos_task_options options = { .priority = DBOS_SCHED_NORMAL, .deadline_ns = now_ns() + 1 * MS };
	dbos_task *late = NULL;
	REQUIRE(dbos_sched_submit(sched, must_not_run, NULL, &options, &late) == DBOS_OK);
	sleep_ms(5);
	atomic_store(&gate_open, 1);
	CHECK_EQ(finish(gate), DBOS_OK);
	CHECK_EQ(finish(late), DBOS_ETIMEDOUT);
	CHECK_EQ(atomic_load(&should_not_run), 0);
	CHECK_EQ(stats_of(sched).expired, 1);

	/* Running past it: dbos_sched_cancelled() turns true; fn returning is a normal end. */
	atomic_store(&saw_cancel, 0);
	options.deadline_ns = now_ns() + 300 * MS; /* time to start even on a loaded machine */
	dbos_task *running = NULL;
	REQUIRE(dbos_sched_submit(sched, run_until_cancelled, NULL, &options, &running) == DBOS_OK);
	CHECK_EQ(finish(running), DBOS_OK);
	CHECK_EQ(atomic_load(&saw_cancel), 1);
	CHECK(now_ns() >= options.deadline_ns);
	sched_done(sched);
}

/* ---- Parking on words ------------------------------------------------------------------------------ */

static uint32_t word;
static atomic_int waiter_status;

static void word_waiter(void *arg)
{
	(void)arg;
	dbos_status status;
	do
		status = dbos_sched_wait_word(&word, 0, UINT64_MAX);
	while (status == DBOS_OK && __atomic_load_n(&word, __ATOMIC_ACQUIRE) == 0);
	atomic_store(&waiter_status, status);
}

static void word_setter(void *arg)
{
	(void)arg;
	__atomic_store_n(&word, 1, __ATOMIC_RELEASE);
	dbos_sched_wake_word(&word, UINT32_MAX);
}

static atomic_int timed_status;

static void timed_waiter(void *arg)
{
	uint32_t *local = arg;
	uint64_t start = now_ns();
	atomic_store(&timed_status, dbos_sched_wait_word(local, 0, 20 * MS));
	if (now_ns() - start < 20 * MS)
		atomic_store(&timed_status, -2);
}

/* The child's handle, waited for from inside a task: the parent parks, the one worker runs the child. */
static void parent_task(void *arg)
{
	dbos_sched *sched = arg;
	dbos_task *child = NULL;
	DBOS_ASSERT(dbos_sched_submit(sched, other_task, NULL, NULL, &child) == DBOS_OK);
	atomic_store(&waiter_status, dbos_task_wait(child, UINT64_MAX));
	dbos_task_release(child);
}

static void test_wait_word(void)
{
	dbos_sched *sched = sched_new(1, 1000, 0);
	REQUIRE(sched);
	/* One worker: the waiter must park its fiber, or the setter could never run. */
	word = 0;
	atomic_store(&waiter_status, -1);
	dbos_task *waiter = submit(sched, word_waiter, NULL, DBOS_SCHED_NORMAL);
	while (stats_of(sched).parked == 0)
		sleep_ms(1);
	dbos_task *setter = submit(sched, word_setter, NULL, DBOS_SCHED_NORMAL);
	CHECK_EQ(finish(setter), DBOS_OK);
	CHECK_EQ(finish(waiter), DBOS_OK);
	CHECK_EQ(atomic_load(&waiter_status), DBOS_OK);
	CHECK(stats_of(sched).waits > 0);

	/* A timeout ends a parked wait. */
	uint32_t local = 0;
	atomic_store(&timed_status, -1);
	dbos_task *timed = submit(sched, timed_waiter, &local, DBOS_SCHED_NORMAL);
	CHECK_EQ(finish(timed), DBOS_OK);
	CHECK_EQ(atomic_load(&timed_status), DBOS_ETIMEDOUT);

	/* A thread outside the scheduler is woken by a task. */
	word = 0;
	dbos_task *setter2 = submit(sched, word_setter, NULL, DBOS_SCHED_NORMAL);
	while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) == 0)
		CHECK(dbos_sched_wait_word(&word, 0, 5000 * MS) == DBOS_OK);
	CHECK_EQ(finish(setter2), DBOS_OK);

	/* A task waits for another task's handle. */
	atomic_store(&other_ran, 0);
	atomic_store(&waiter_status, -1);
	dbos_task *parent = submit(sched, parent_task, sched, DBOS_SCHED_NORMAL);
	CHECK_EQ(finish(parent), DBOS_OK);
	CHECK_EQ(atomic_load(&waiter_status), DBOS_OK);
	CHECK_EQ(atomic_load(&other_ran), 1);
	sched_done(sched);
}

/* ---- Many tasks ---------------------------------------------------------------------------------------- */

static atomic_ullong counted;

static void count_task(void *arg)
{
	atomic_fetch_add_explicit(&counted, (uintptr_t)arg, memory_order_relaxed);
}

static void test_many_tasks(void)
{
	dbos_sched *sched = sched_new(0, 1000, 0);
	REQUIRE(sched);
	atomic_store(&counted, 0);
	const uint32_t count = 100000;
	for (uint32_t i = 0; i < count; i++) {
		struct dbos_task_options options = { .priority = i % DBOS_SCHED_PRIORITY_COUNT };
		REQUIRE(dbos_sched_submit(sched, count_task, (void *)(uintptr_t)1, &options, NULL) == DBOS_OK);
	}
	CHECK_EQ(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_DRAIN, 60000 * MS), DBOS_OK);
	CHECK_EQ(atomic_load(&counted), count);
	struct dbos_sched_stats stats = stats_of(sched);
	CHECK_EQ(stats.submitted, count);
	CHECK_EQ(stats.completed, count);
	CHECK(stats.stacks_peak <= DBOS_SCHED_STACK_POOL_DEFAULT + stats.worker_count);
	sched_done(sched);
}

/* ---- Shutdown with tasks running ------------------------------------------------------------------------ */

static void yield_a_while(void *arg)
{
	(void)arg;
	uint64_t start = now_ns();
	while (now_ns() - start < 2 * MS)
		dbos_sched_yield();
	atomic_fetch_add(&counted, 1);
}

static void test_shutdown_drain(void)
{
	dbos_sched *sched = sched_new(2, 200, 0);
	REQUIRE(sched);
	atomic_store(&counted, 0);
	dbos_task *tasks[64];
	for (int i = 0; i < 64; i++)
		tasks[i] = submit(sched, yield_a_while, NULL, (uint32_t)(i % 3));
	CHECK_EQ(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_DRAIN, 30000 * MS), DBOS_OK);
	CHECK_EQ(atomic_load(&counted), 64);
	for (int i = 0; i < 64; i++)
		CHECK_EQ(finish(tasks[i]), DBOS_OK);
	CHECK_EQ(stats_of(sched).stacks_live, 0);
	sched_done(sched);
}

static atomic_int stubborn_release;

static void stubborn_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&spinners_started, 1);
	while (!atomic_load(&stubborn_release))
		dbos_sched_safepoint();
}

static void test_shutdown_cancel(void)
{
	dbos_sched *sched = sched_new(2, 1000, DBOS_SCHED_AGING_US_MAX); /* the background tasks must not age in */
	REQUIRE(sched);
	atomic_store(&spinners_started, 0);
	atomic_store(&saw_cancel, 0);
	atomic_store(&should_not_run, 0);
	never_changes = 0;
	atomic_store(&park_status, -1);
	dbos_task *spinners[2], *parked, *queued[8];
	spinners[0] = submit(sched, run_until_cancelled, NULL, DBOS_SCHED_LATENCY);
	spinners[1] = submit(sched, run_until_cancelled, NULL, DBOS_SCHED_LATENCY);
	while (atomic_load(&spinners_started) < 2)
		sleep_ms(1);
	parked = submit(sched, park_forever, NULL, DBOS_SCHED_LATENCY);
	for (int i = 0; i < 8; i++)
		queued[i] = submit(sched, must_not_run, NULL, DBOS_SCHED_BACKGROUND);
	/* The parked task needs a turn: spinners yield to it at their next quantum. */
	while (stats_of(sched).parked == 0)
		sleep_ms(1);
	CHECK(stats_of(sched).stacks_live >= 3);
	CHECK_EQ(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_CANCEL, 20000 * MS), DBOS_OK);
	CHECK_EQ(finish(spinners[0]), DBOS_ECLOSED);
	CHECK_EQ(finish(spinners[1]), DBOS_ECLOSED);
	CHECK_EQ(finish(parked), DBOS_ECLOSED);
	CHECK_EQ(atomic_load(&park_status), DBOS_ECLOSED);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(finish(queued[i]), DBOS_ECLOSED);
	CHECK_EQ(atomic_load(&should_not_run), 0);
	CHECK_EQ(atomic_load(&saw_cancel), 2);
	struct dbos_sched_stats stats = stats_of(sched);
	CHECK_EQ(stats.stacks_live, 0);
	CHECK_EQ(stats.cancelled, 11);
	sched_done(sched);
}

/* A task that ignores cancellation: shutdown times out, the scheduler stays usable, a retry finishes. */
static void test_shutdown_timeout(void)
{
	dbos_sched *sched = sched_new(1, 1000, 0);
	REQUIRE(sched);
	atomic_store(&stubborn_release, 0);
	atomic_store(&spinners_started, 0);
	dbos_task *task = submit(sched, stubborn_task, NULL, DBOS_SCHED_NORMAL);
	while (!atomic_load(&spinners_started))
		sleep_ms(1);
	CHECK_EQ(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_CANCEL, 10 * MS), DBOS_ETIMEDOUT);
	CHECK_EQ(dbos_sched_submit(sched, noop, NULL, NULL, NULL), DBOS_ECLOSED);
	CHECK_EQ(stats_of(sched).running, 1);
	atomic_store(&stubborn_release, 1);
	CHECK_EQ(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_CANCEL, 20000 * MS), DBOS_OK);
	CHECK_EQ(finish(task), DBOS_ECLOSED);
	sched_done(sched);
}

/* Destroy without shutdown cancels and frees everything; handles stay valid. */
static void test_destroy_with_tasks(void)
{
	dbos_sched *sched = sched_new(1, 1000, 0);
	REQUIRE(sched);
	atomic_store(&spinners_started, 0);
	dbos_task *task = submit(sched, run_until_cancelled, NULL, DBOS_SCHED_NORMAL);
	while (!atomic_load(&spinners_started))
		sleep_ms(1);
	dbos_sched_destroy(sched);
	dbos_status outcome = DBOS_OK;
	CHECK(dbos_task_done(task, &outcome));
	CHECK_EQ(outcome, DBOS_ECLOSED);
	CHECK_EQ(dbos_task_wait(task, 0), DBOS_ECLOSED);
	dbos_task_cancel(task); /* done: no effect, no scheduler touched */
	dbos_task_release(task);
}

/* ---- Stack guard ---------------------------------------------------------------------------------------------- */

static int recurse(int depth)
{
	volatile char frame[1024];
	frame[0] = (char)depth;
	return depth > 1000000 ? frame[0] : recurse(depth + 1) + frame[0];
}

static void overflow_task(void *arg)
{
	int *pipe_write = arg;
	DBOS_ASSERT(write(*pipe_write, "r", 1) == 1);
	printf("%d\n", recurse(0)); /* never: the guard page stops it */
}

/* A task that overflows its stack dies on the guard page instead of writing past it. */
static void test_stack_guard(void)
{
	int fds[2];
	REQUIRE(pipe(fds) == 0);
	fflush(stdout);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		close(fds[0]);
		/* The death is expected: keep a sanitizer's report of it out of the test's output. */
		int null_fd = open("/dev/null", O_WRONLY);
		if (null_fd >= 0)
			dup2(null_fd, 2);
		struct dbos_sched_config config = { .worker_count = 1, .stack_bytes = 64 * 1024 };
		dbos_sched *sched = NULL;
		if (dbos_sched_create(&config, &sched) != DBOS_OK)
			_exit(3);
		dbos_task *task = NULL;
		dbos_sched_submit(sched, overflow_task, &fds[1], NULL, &task);
		dbos_task_wait(task, UINT64_MAX);
		_exit(0);
	}
	close(fds[1]);
	char byte = 0;
	CHECK_EQ(read(fds[0], &byte, 1), 1); /* the task started */
	close(fds[0]);
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	/* Killed by SIGSEGV (or, under a sanitizer, its stack-overflow report and exit code). */
	CHECK(WIFSIGNALED(status) ? WTERMSIG(status) == SIGSEGV : WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3);
}

/* ---- The switch ----------------------------------------------------------------------------------------------- */

static void test_switch_cost(void)
{
	dbos_sched *sched = sched_new(1, 0, 0);
	REQUIRE(sched);
	struct dbos_sched_stats stats = stats_of(sched);
	CHECK(stats.switch_ns > 0 || stats.switch_ns == 0); /* printed, not judged: timing is the benchmark's */
	printf("# context switch: %llu ns (one direction, calibrated at create)\n",
	       (unsigned long long)stats.switch_ns);
	char mechanism[512];
	dbos_sched_mechanism(mechanism, sizeof(mechanism));
	printf("# mechanism: %s\n", mechanism);
	CHECK(strstr(mechanism, "x86-64") != NULL);
	CHECK(strstr(mechanism, "SIGEV_THREAD_ID") != NULL);
	sched_done(sched);
}

int main(void)
{
	RUN_TEST(test_errors_config);
	RUN_TEST(test_errors_calls);
	RUN_TEST(test_switch_cost);
	RUN_TEST(test_priority_order);
	RUN_TEST(test_preempt_safepoint_latency);
	RUN_TEST(test_preempt_round_robin);
	RUN_TEST(test_preempt_immediate);
	RUN_TEST(test_preempt_kick);
	RUN_TEST(test_no_immediate_flag);
	RUN_TEST(test_latch_section);
	RUN_TEST(test_aging);
	RUN_TEST(test_cancel);
	RUN_TEST(test_deadline);
	RUN_TEST(test_wait_word);
	RUN_TEST(test_many_tasks);
	RUN_TEST(test_shutdown_drain);
	RUN_TEST(test_shutdown_cancel);
	RUN_TEST(test_shutdown_timeout);
	RUN_TEST(test_destroy_with_tasks);
	RUN_TEST(test_stack_guard);
	return TEST_EXIT_STATUS();
}
