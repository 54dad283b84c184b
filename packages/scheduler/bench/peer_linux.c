/*
 * peer_linux.c - peer (b): the Linux scheduler itself.  Every task is its own
 * thread; a short task raises itself to nice -20 and a scan lowers itself to
 * SCHED_IDLE (system "linux-idle") or nice 19 ("linux-nice") before it works,
 * and the kernel's scheduler decides who runs.  Threads are created with an
 * explicit SCHED_OTHER policy so none inherits the dispatcher's real-time one.
 *
 * Raising a thread's priority needs CAP_SYS_NICE: start() proves that both
 * changes are allowed on a probe thread and refuses to run otherwise, so the
 * peer is never measured without its priorities.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define SHORT_NICE -20
#define SCAN_NICE 19

static bool scans_idle;                    /* SCHED_IDLE, else nice 19 */
static _Atomic uint32_t threads_live;      /* task threads not yet finished */
static _Atomic uint32_t priority_failures; /* a task thread could not take its priority */
static _Atomic uint32_t create_failures;   /* pthread_create refused: the task ran nowhere */
static pthread_attr_t task_attributes;

/* 0, or the errno of the first priority change that failed. */
static int take_priority(enum task_kind kind)
{
	if (kind == TASK_SHORT)
		return setpriority(PRIO_PROCESS, (id_t)gettid(), SHORT_NICE) == 0 ? 0 : errno;
	if (scans_idle) {
		struct sched_param parameters = { .sched_priority = 0 };
		return sched_setscheduler(0, SCHED_IDLE, &parameters) == 0 ? 0 : errno;
	}
	return setpriority(PRIO_PROCESS, (id_t)gettid(), SCAN_NICE) == 0 ? 0 : errno;
}

static void *task_thread(void *argument)
{
	struct task *task = argument;
	if (take_priority(task->kind) != 0)
		atomic_fetch_add(&priority_failures, 1);
	task_run(task, NULL);
	atomic_fetch_sub(&threads_live, 1);
	return NULL;
}

static int probe_error; /* written by the probe thread, read after joining it */

static void *probe_thread(void *unused)
{
	probe_error = take_priority(TASK_SHORT);
	if (probe_error == 0)
		probe_error = take_priority(TASK_SCAN);
	return NULL;
}

static const char *linux_start(const struct bench_config *config)
{
	static char why[160];
	pthread_attr_init(&task_attributes);
	pthread_attr_setdetachstate(&task_attributes, PTHREAD_CREATE_DETACHED);
	pthread_attr_setinheritsched(&task_attributes, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&task_attributes, SCHED_OTHER);
	struct sched_param parameters = { .sched_priority = 0 };
	pthread_attr_setschedparam(&task_attributes, &parameters);

	/* The probe is joinable (the task threads are not): same policy, we wait for its answer. */
	pthread_attr_t probe_attributes;
	pthread_attr_init(&probe_attributes);
	pthread_attr_setinheritsched(&probe_attributes, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&probe_attributes, SCHED_OTHER);
	pthread_attr_setschedparam(&probe_attributes, &parameters);
	pthread_t probe;
	int created = pthread_create(&probe, &probe_attributes, probe_thread, NULL);
	pthread_attr_destroy(&probe_attributes);
	if (created != 0)
		return "pthread_create failed for the probe thread";
	pthread_join(probe, NULL);
	if (probe_error != 0) {
		snprintf(why, sizeof(why), "%s refused: %s (needs CAP_SYS_NICE)",
			 scans_idle ? "nice -20 / SCHED_IDLE" : "nice -20 / nice 19", strerror(probe_error));
		return why;
	}
	return NULL;
}

static const char *linux_idle_start(const struct bench_config *config)
{
	scans_idle = true;
	return linux_start(config);
}

static const char *linux_nice_start(const struct bench_config *config)
{
	scans_idle = false;
	return linux_start(config);
}

static void linux_submit(struct task *task)
{
	pthread_t thread;
	atomic_fetch_add(&threads_live, 1);
	if (pthread_create(&thread, &task_attributes, task_thread, task) != 0) {
		atomic_fetch_sub(&threads_live, 1);
		atomic_fetch_add(&create_failures, 1);
	}
}

static void linux_drain(void)
{
	struct timespec pause = { .tv_nsec = 200000 };
	while (atomic_load(&threads_live) != 0)
		nanosleep(&pause, NULL);
}

static void linux_report(FILE *out)
{
	fprintf(out, ",\"priorityFailures\":%u,\"createFailures\":%u", atomic_load(&priority_failures),
		atomic_load(&create_failures));
}

const struct bench_system linux_idle_system = {
	.name = "linux-idle",
	.start = linux_idle_start,
	.submit = linux_submit,
	.drain = linux_drain,
	.report = linux_report,
};

const struct bench_system linux_nice_system = {
	.name = "linux-nice",
	.start = linux_nice_start,
	.submit = linux_submit,
	.drain = linux_drain,
	.report = linux_report,
};
