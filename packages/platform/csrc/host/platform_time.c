/* platform_time.c - host clock, CPU identity and per-thread preemption state for dbos/platform.h. */
#define _GNU_SOURCE
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "dbos/host/platform.h"

uint64_t dbos_platform_now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

uint32_t dbos_platform_cpu_id(void)
{
	int cpu = sched_getcpu();
	return cpu < 0 ? 0 : (uint32_t)cpu;
}

uint32_t dbos_platform_cpu_count(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int count = CPU_COUNT(&set);
		if (count > 0)
			return (uint32_t)count;
	}
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	return online > 0 ? (uint32_t)online : 1;
}

void dbos_platform_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

void dbos_platform_yield(void)
{
	sched_yield();
}

/* Per thread; initial-exec so the scheduler's signal handler reads it without a TLS lookup call. */
static __thread struct dbos_preempt preempt_state __attribute__((tls_model("initial-exec")));

struct dbos_preempt *dbos_platform_preempt(void)
{
	return &preempt_state;
}
