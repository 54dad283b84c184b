/*
 * peer_fifo.c - peer (a): the thread pool a competent user writes first.
 * One mutex-protected queue, one condition variable, a fixed set of worker
 * threads; a task runs to completion on the worker that took it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>

#include "bench.h"

#define FIFO_WORKERS_MAX 64

static pthread_mutex_t fifo_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fifo_ready = PTHREAD_COND_INITIALIZER;
static struct task_queue fifo_queue;
static bool fifo_closing;
static pthread_t fifo_threads[FIFO_WORKERS_MAX];
static uint32_t fifo_thread_count;

static void *fifo_worker(void *unused)
{
	for (;;) {
		pthread_mutex_lock(&fifo_lock);
		struct task *task;
		while (!(task = task_queue_pop(&fifo_queue)) && !fifo_closing)
			pthread_cond_wait(&fifo_ready, &fifo_lock);
		pthread_mutex_unlock(&fifo_lock);
		if (!task)
			return NULL;
		task_run(task, NULL);
	}
}

static const char *fifo_start(const struct bench_config *config)
{
	if (config->workers == 0 || config->workers > FIFO_WORKERS_MAX)
		return "worker count out of range";
	for (fifo_thread_count = 0; fifo_thread_count < config->workers; fifo_thread_count++)
		if (pthread_create(&fifo_threads[fifo_thread_count], NULL, fifo_worker, NULL) != 0)
			abort();
	return NULL;
}

static void fifo_submit(struct task *task)
{
	pthread_mutex_lock(&fifo_lock);
	task_queue_push(&fifo_queue, task);
	pthread_cond_signal(&fifo_ready);
	pthread_mutex_unlock(&fifo_lock);
}

/* Queued scans still run, but see bench_stopping() after one unit: the queue empties quickly. */
static void fifo_drain(void)
{
	pthread_mutex_lock(&fifo_lock);
	fifo_closing = true;
	pthread_cond_broadcast(&fifo_ready);
	pthread_mutex_unlock(&fifo_lock);
	for (uint32_t i = 0; i < fifo_thread_count; i++)
		pthread_join(fifo_threads[i], NULL);
}

static void fifo_report(FILE *out)
{
	(void)out;
}

const struct bench_system fifo_system = {
	.name = "fifo",
	.start = fifo_start,
	.submit = fifo_submit,
	.drain = fifo_drain,
	.report = fifo_report,
};
