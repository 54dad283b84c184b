/*
 * gateway_threads.c - the thread-pool backend of the gateway: a fixed set of
 * worker threads takes ops from the backlog and makes the plain system call.
 *
 * Used where io_uring cannot run (kernel.io_uring_disabled = 2, a seccomp or
 * LSM refusal, a kernel without it).  A thread that waits for its batch
 * does not sleep while ops are queued: it runs them itself, so a small
 * synchronous batch costs its system calls and no thread switch.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "gateway_host.h"

struct gateway_threads {
	pthread_cond_t work_ready; /* with the gateway's backlog_lock */
	bool stop;                 /* backlog_lock held */
	uint32_t idle_count;       /* workers waiting on work_ready; backlog_lock held */
	uint32_t count;
	pthread_t workers[DBOS_GATEWAY_THREAD_COUNT_MAX];
};

/*
 * An op slower than this blocked in the kernel (disk, not page cache): a
 * helping waiter then wakes the workers to run the rest in parallel.
 */
#define THREADS_SLOW_OP_NS 20000ull

/* Take one op and run it here.  False when the backlog was empty. */
bool gateway_threads_help(struct dbos_gateway *gateway)
{
	dbos_io_batch *batch;
	uint32_t index;
	pthread_mutex_lock(&gateway->backlog_lock);
	bool taken = gateway_backlog_take(gateway, &batch, &index);
	bool more = gateway->backlog_head != NULL;
	pthread_mutex_unlock(&gateway->backlog_lock);
	if (!taken)
		return false;
	uint64_t start_ns = dbos_platform_now_ns();
	int64_t result = gateway_syscall_run(&batch->ops[index]);
	if (more && dbos_platform_now_ns() - start_ns > THREADS_SLOW_OP_NS)
		gateway_threads_kick(gateway, DBOS_GATEWAY_THREAD_COUNT_MAX, false);
	gateway_complete(gateway, batch, index, result);
	return true;
}

static void *threads_worker_main(void *opaque)
{
	struct dbos_gateway *gateway = opaque;
	struct gateway_threads *threads = gateway->threads;
	pthread_mutex_lock(&gateway->backlog_lock);
	while (!threads->stop) {
		dbos_io_batch *batch;
		uint32_t index;
		if (!gateway_backlog_take(gateway, &batch, &index)) {
			threads->idle_count++;
			pthread_cond_wait(&threads->work_ready, &gateway->backlog_lock);
			threads->idle_count--;
			continue;
		}
		pthread_mutex_unlock(&gateway->backlog_lock);
		gateway_complete(gateway, batch, index, gateway_syscall_run(&batch->ops[index]));
		pthread_mutex_lock(&gateway->backlog_lock);
	}
	pthread_mutex_unlock(&gateway->backlog_lock);
	return NULL;
}

void gateway_threads_kick(struct dbos_gateway *gateway, uint32_t count, bool caller_helps)
{
	struct gateway_threads *threads = gateway->threads;
	/*
	 * Wake one idle worker per op.  A caller that waits and helps wakes
	 * nobody at first: page-cache I/O runs fastest as a plain loop of system
	 * calls on the caller's thread (a wake-up costs more than a cached read),
	 * and gateway_threads_help wakes the workers once an op proves slow.
	 * Busy workers take the next op without a signal.
	 */
	uint32_t wanted = caller_helps ? 0 : count;
	pthread_mutex_lock(&gateway->backlog_lock);
	uint32_t wake = wanted < threads->idle_count ? wanted : threads->idle_count;
	for (uint32_t i = 0; i < wake; i++)
		pthread_cond_signal(&threads->work_ready);
	pthread_mutex_unlock(&gateway->backlog_lock);
}

dbos_status gateway_threads_start(struct dbos_gateway *gateway)
{
	struct gateway_threads *threads = calloc(1, sizeof(*threads));
	if (!threads)
		return DBOS_ENOMEM;
	pthread_cond_init(&threads->work_ready, NULL);
	gateway->threads = threads;
	DBOS_ASSERT(gateway->thread_count >= 1 && gateway->thread_count <= DBOS_GATEWAY_THREAD_COUNT_MAX);
	for (uint32_t i = 0; i < gateway->thread_count; i++) {
		if (pthread_create(&threads->workers[i], NULL, threads_worker_main, gateway) != 0) {
			gateway_threads_stop(gateway);
			return DBOS_ENOMEM;
		}
		threads->count++;
	}
	return DBOS_OK;
}

void gateway_threads_stop(struct dbos_gateway *gateway)
{
	struct gateway_threads *threads = gateway->threads;
	pthread_mutex_lock(&gateway->backlog_lock);
	threads->stop = true;
	pthread_cond_broadcast(&threads->work_ready);
	pthread_mutex_unlock(&gateway->backlog_lock);
	for (uint32_t i = 0; i < threads->count; i++)
		pthread_join(threads->workers[i], NULL);
	pthread_cond_destroy(&threads->work_ready);
	gateway->threads = NULL;
	free(threads);
}
