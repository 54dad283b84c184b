/*
 * peer_cooperative.c - peer (c): cooperative yielding every quantum, no
 * timers.  The pool keeps short tasks and scans in two queues and an idle
 * worker takes a short task first.  A scan reads the clock at each of its safe
 * points (every WORK_UNIT_US of work); once a quantum has passed since its
 * slice began and short tasks are waiting, it runs them on its own stack, then
 * starts a new slice.  This is what a user can write without a scheduler: it
 * needs every long task to be written with the checks, and a short task can
 * still wait for a whole quantum (plus the shorts queued ahead of it).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>

#include "bench.h"

#define COOPERATIVE_WORKERS_MAX 64

static pthread_mutex_t cooperative_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cooperative_ready = PTHREAD_COND_INITIALIZER;
static struct task_queue short_queue;
static struct task_queue scan_queue;
static _Atomic uint32_t shorts_waiting; /* read without the lock at every safe point */
static bool cooperative_closing;
static pthread_t cooperative_threads[COOPERATIVE_WORKERS_MAX];
static uint32_t cooperative_thread_count;
static uint64_t quantum_ns;
static _Atomic uint64_t yields; /* slices that ended with short tasks run inline */
static __thread uint64_t slice_start_ns;

static struct task *cooperative_take_short(void)
{
	pthread_mutex_lock(&cooperative_lock);
	struct task *task = task_queue_pop(&short_queue);
	if (task)
		atomic_fetch_sub_explicit(&shorts_waiting, 1, memory_order_relaxed);
	pthread_mutex_unlock(&cooperative_lock);
	return task;
}

static void cooperative_safe_point(void)
{
	uint64_t now_ns = clock_ns();
	if (now_ns - slice_start_ns < quantum_ns)
		return;
	if (atomic_load_explicit(&shorts_waiting, memory_order_relaxed) > 0) {
		struct task *task;
		atomic_fetch_add_explicit(&yields, 1, memory_order_relaxed);
		while ((task = cooperative_take_short()))
			task_run(task, NULL);
		now_ns = clock_ns();
	}
	slice_start_ns = now_ns;
}

static void *cooperative_worker(void *unused)
{
	for (;;) {
		pthread_mutex_lock(&cooperative_lock);
		struct task *task;
		for (;;) {
			task = task_queue_pop(&short_queue);
			if (task) {
				atomic_fetch_sub_explicit(&shorts_waiting, 1, memory_order_relaxed);
				break;
			}
			task = task_queue_pop(&scan_queue);
			if (task || cooperative_closing)
				break;
			pthread_cond_wait(&cooperative_ready, &cooperative_lock);
		}
		pthread_mutex_unlock(&cooperative_lock);
		if (!task)
			return NULL;
		slice_start_ns = clock_ns();
		task_run(task, task->kind == TASK_SCAN ? cooperative_safe_point : NULL);
	}
}

static const char *cooperative_start(const struct bench_config *config)
{
	if (config->workers == 0 || config->workers > COOPERATIVE_WORKERS_MAX)
		return "worker count out of range";
	if (config->quantum_us == 0)
		return "the cooperative pool needs a quantum";
	quantum_ns = config->quantum_us * 1000;
	for (cooperative_thread_count = 0; cooperative_thread_count < config->workers; cooperative_thread_count++)
		if (pthread_create(&cooperative_threads[cooperative_thread_count], NULL, cooperative_worker, NULL) != 0)
			abort();
	return NULL;
}

static void cooperative_submit(struct task *task)
{
	pthread_mutex_lock(&cooperative_lock);
	if (task->kind == TASK_SHORT) {
		task_queue_push(&short_queue, task);
		atomic_fetch_add_explicit(&shorts_waiting, 1, memory_order_relaxed);
	} else {
		task_queue_push(&scan_queue, task);
	}
	pthread_cond_signal(&cooperative_ready);
	pthread_mutex_unlock(&cooperative_lock);
}

static void cooperative_drain(void)
{
	pthread_mutex_lock(&cooperative_lock);
	cooperative_closing = true;
	pthread_cond_broadcast(&cooperative_ready);
	pthread_mutex_unlock(&cooperative_lock);
	for (uint32_t i = 0; i < cooperative_thread_count; i++)
		pthread_join(cooperative_threads[i], NULL);
}

static void cooperative_report(FILE *out)
{
	fprintf(out, ",\"yields\":%llu", (unsigned long long)atomic_load(&yields));
}

const struct bench_system cooperative_system = {
	.name = "cooperative",
	.start = cooperative_start,
	.submit = cooperative_submit,
	.drain = cooperative_drain,
	.report = cooperative_report,
};
