/* platform_sync.c - host futex wait/wake and threads for dbos/platform.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dbos/host/platform.h"

dbos_status dbos_platform_wait(const uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
	struct timespec relative;
	struct timespec *timeout = NULL;
	if (timeout_ns != UINT64_MAX) {
		relative.tv_sec = (time_t)(timeout_ns / 1000000000u);
		relative.tv_nsec = (long)(timeout_ns % 1000000000u);
		timeout = &relative;
	}
	long rc = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, timeout, NULL, 0);
	if (rc == 0)
		return DBOS_OK;
	switch (errno) {
	case EAGAIN: /* the word had already changed */
	case EINTR: return DBOS_OK;
	case ETIMEDOUT: return DBOS_ETIMEDOUT;
	default: return dbos_host_status_from_errno(errno);
	}
}

void dbos_platform_wake(const uint32_t *word, uint32_t count)
{
	int waiters = count > (uint32_t)INT32_MAX ? INT32_MAX : (int)count;
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, waiters, NULL, NULL, 0);
}

struct dbos_thread {
	pthread_t handle;
	void (*entry)(void *argument);
	void *argument;
};

static void *thread_trampoline(void *opaque)
{
	struct dbos_thread *thread = opaque;
	thread->entry(thread->argument);
	return NULL;
}

dbos_status dbos_platform_thread_start(void (*entry)(void *argument), void *argument, dbos_thread **thread_out)
{
	if (!entry || !thread_out)
		return DBOS_EINVAL;
	struct dbos_thread *thread = calloc(1, sizeof(*thread));
	if (!thread)
		return DBOS_ENOMEM;
	thread->entry = entry;
	thread->argument = argument;
	int rc = pthread_create(&thread->handle, NULL, thread_trampoline, thread);
	if (rc != 0) {
		free(thread);
		return dbos_host_status_from_errno(rc);
	}
	*thread_out = thread;
	return DBOS_OK;
}

void dbos_platform_thread_join(dbos_thread *thread)
{
	if (!thread)
		return;
	pthread_join(thread->handle, NULL);
	free(thread);
}
