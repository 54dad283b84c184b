/*
 * sched_runtime.h - what a runtime provides to the scheduler core: a quantum
 * timer per worker and a way to interrupt a worker now.
 *
 *   csrc/host/   Linux: timer_create(CLOCK_MONOTONIC, SIGEV_THREAD_ID) per
 *                worker, a real-time signal handled on an alternate stack,
 *                tgkill for kicks (sched_timer.c)
 *   guest        not yet: dbos_sched_create returns DBOS_ENOTSUP there
 *
 * The runtime's signal handler calls sched_interrupt() (sched_internal.h), the
 * core's async-signal-safe half, and applies what it answers.
 *
 * The hooks are weak references: a build with no runtime for the scheduler
 * (a guest image today) links, and the core answers DBOS_ENOTSUP when
 * sched_rt_init is absent (sched_rt_present).
 */
#ifndef DBOS_SCHED_RUNTIME_H
#define DBOS_SCHED_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/status.h"

struct sched_worker;

#define SCHED_RT_HOOK __attribute__((weak))

/* Process-wide setup (the signal handler); idempotent.  DBOS_ENOTSUP without timers. */
SCHED_RT_HOOK dbos_status sched_rt_init(void);

/* On the worker thread, before its first task: its timer and alternate signal stack. */
SCHED_RT_HOOK dbos_status sched_rt_worker_start(struct sched_worker *worker);

/* On the worker thread, after its last task: delete the timer, drop the alternate stack. */
SCHED_RT_HOOK void sched_rt_worker_stop(struct sched_worker *worker);

/*
 * Arm the calling worker's one-shot timer to fire at the absolute
 * dbos_platform_now_ns() time `at_ns`.  Async-signal-safe (the handler re-arms).
 */
SCHED_RT_HOOK void sched_rt_arm(struct sched_worker *worker, uint64_t at_ns);

/* Interrupt `worker` (another thread) now, so a task in a preemptible section switches at once. */
SCHED_RT_HOOK void sched_rt_kick(struct sched_worker *worker);

/* Whether the handler may switch a task immediately (not under TSan, not if refused). */
SCHED_RT_HOOK bool sched_rt_immediate_supported(void);

/* "timer_create per worker (SIGEV_THREAD_ID), signal 61 on an alternate stack ...". */
SCHED_RT_HOOK void sched_rt_mechanism(char *text, size_t size);

/* Whether this build has a runtime for the scheduler at all. */
static inline bool sched_rt_present(void)
{
	return sched_rt_init != NULL;
}

#endif /* DBOS_SCHED_RUNTIME_H */
