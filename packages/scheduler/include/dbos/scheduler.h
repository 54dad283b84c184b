/*
 * dbos/scheduler.h - preemptive priority scheduling of native tasks.
 *
 * A scheduler owns worker threads (default: one per CPU).  Each task runs as a
 * fiber on its own stack (guard page below it), so a worker can set a task
 * aside in the middle and run another: when its time quantum ends, when it
 * yields, or when it waits for a word or for gateway I/O: those waits park
 * the fiber, not the worker.  (A task that makes a blocking system call of
 * its own, or sleeps in dbos_platform_wait, does block its worker: wait with
 * dbos_sched_wait_word and do I/O with dbos_sched_io.)
 *
 *   struct dbos_sched_config config = { .quantum_us = 1000 };
 *   dbos_sched *sched;
 *   dbos_sched_create(&config, &sched);
 *   struct dbos_task_options options = { .priority = DBOS_SCHED_BACKGROUND };
 *   dbos_task *task;
 *   dbos_sched_submit(sched, scan, &scan_args, &options, &task);
 *   ...
 *   dbos_task_wait(task, UINT64_MAX);   returns the task's outcome
 *   dbos_task_release(task);
 *   dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_DRAIN, UINT64_MAX);
 *   dbos_sched_destroy(sched);
 *
 * Priority classes: LATENCY runs before NORMAL before BACKGROUND; within a
 * class, first come first served.  Aging: a queued task that has waited
 * longer than aging_us runs next whatever its class, so no class starves.
 *
 * Preemption: a per-worker timer expires at the end of each quantum.  Its
 * signal handler never switches on its own authority except in a preemptible
 * section; elsewhere it raises the worker's preempt flag and the task switches
 * at its next safe point (dbos_sched_safepoint(), one thread-local load when
 * nothing is due).  Inside a preemptible section (dbos_sched_preemptible_begin
 * / _end) the switch is immediate: the handler redirects the interrupted task
 * into the switch, which saves every register.  Inside a latch section
 * (dbos_preempt_disable/enable of dbos/platform.h, depth > 0) no switch ever
 * happens: the handler records it as pending and the enable that closes the
 * outermost section switches.
 *
 * Tasks are plain C functions.  A task that never reaches a safe point or a
 * preemptible section cannot be preempted (the price of not interrupting
 * arbitrary code: locks inside libc, the allocator, other cores' latches).
 * Submitting a task more urgent than one a busy worker runs raises that
 * worker's flag at once (and signals it, for preemptible sections), so
 * urgent work waits for a safe point, not for the end of a quantum.
 *
 * A task may resume on another worker after any switch: it must not keep
 * thread-local addresses (errno's included) across safe points, yields and
 * waits.
 *
 * Threads: every function may be called from any thread, inside a task or
 * not, except where noted.  dbos_sched_safepoint/yield/cancelled and the
 * preemptible section calls do nothing (or return false) outside a task.
 *
 * Runtimes: the host runtime (Linux) has it all.  Where the runtime has no
 * threads of its own (the guest kernel), dbos_sched_create returns
 * DBOS_ENOTSUP.
 */
#ifndef DBOS_SCHEDULER_H
#define DBOS_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dbos_sched dbos_sched;
typedef struct dbos_task dbos_task;
/* From dbos/hypercall.h (@dbos/hypercall); only pointers to them appear here. */
typedef struct dbos_gateway dbos_gateway;
typedef struct dbos_io_batch dbos_io_batch;

/* ---- Limits and defaults ------------------------------------------------- */

#define DBOS_SCHED_QUANTUM_US_DEFAULT 1000u
#define DBOS_SCHED_QUANTUM_US_MIN 50u
#define DBOS_SCHED_QUANTUM_US_MAX 100000u
#define DBOS_SCHED_WORKERS_MAX 256u
#define DBOS_SCHED_STACK_BYTES_DEFAULT (256u * 1024u)
#define DBOS_SCHED_STACK_BYTES_MIN (16u * 1024u)
#define DBOS_SCHED_STACK_BYTES_MAX (64u * 1024u * 1024u)
#define DBOS_SCHED_AGING_US_DEFAULT 100000u /* 100 ms */
#define DBOS_SCHED_AGING_US_MAX 60000000u   /* 60 s */
#define DBOS_SCHED_STACK_POOL_DEFAULT 64u   /* idle stacks kept for reuse */
#define DBOS_SCHED_STACK_POOL_MAX 65536u

/* ---- Configuration ------------------------------------------------------- */

struct dbos_sched_config {
	uint32_t worker_count; /* 0: one per CPU; at most DBOS_SCHED_WORKERS_MAX */
	uint32_t quantum_us;   /* 0: default 1000; else 50..100000 (DBOS_ERANGE outside) */
	uint32_t stack_bytes;  /* per task; 0: default 256 KiB; 16 KiB..64 MiB, rounded up to pages */
	uint32_t aging_us;     /* 0: default 100 ms; at most 60 s */
	uint32_t stack_pool;   /* idle stacks kept for reuse; 0: default 64 */
	uint32_t flags;        /* DBOS_SCHED_* below; unknown bits are DBOS_EINVAL */
};

/* Never switch from the signal handler, even in preemptible sections (safe points only). */
#define DBOS_SCHED_NO_IMMEDIATE 0x1u
#define DBOS_SCHED_FLAGS_ALL DBOS_SCHED_NO_IMMEDIATE

/*
 * Start the workers.  DBOS_EINVAL: config or sched_out NULL, unknown flags;
 * DBOS_ERANGE: a field outside its range; DBOS_ENOTSUP: the runtime has no
 * threads or no timers; DBOS_ENOMEM.
 */
dbos_status dbos_sched_create(const struct dbos_sched_config *config, dbos_sched **sched_out);

/* ---- Tasks --------------------------------------------------------------- */

enum dbos_sched_priority {
	DBOS_SCHED_LATENCY = 0,    /* short requests: run first */
	DBOS_SCHED_NORMAL = 1,     /* the default */
	DBOS_SCHED_BACKGROUND = 2, /* scans, checkpoints, compaction */
	DBOS_SCHED_PRIORITY_COUNT
};

struct dbos_task_options {
	uint32_t priority; /* enum dbos_sched_priority; DBOS_EINVAL outside */
	uint32_t reserved; /* must be 0 */
	/*
	 * Absolute dbos_platform_now_ns() time after which the task is late; 0:
	 * none.  A task still queued at its deadline never runs (outcome
	 * DBOS_ETIMEDOUT); a running one sees dbos_sched_cancelled() true.
	 */
	uint64_t deadline_ns;
};

/*
 * Queue fn(arg).  options NULL: NORMAL, no deadline.  task_out (may be NULL)
 * receives a reference the caller must give back with dbos_task_release.
 * DBOS_EINVAL: sched or fn NULL, bad options; DBOS_ECLOSED: shutdown began;
 * DBOS_ENOMEM.
 */
dbos_status dbos_sched_submit(dbos_sched *sched, void (*fn)(void *arg), void *arg,
			      const struct dbos_task_options *options, dbos_task **task_out);

/*
 * Wait until the task finished, at most timeout_ns (UINT64_MAX: forever).
 * Inside a task the waiting fiber parks; elsewhere the thread sleeps.
 * Returns the task's outcome once it finished, DBOS_ETIMEDOUT if it has not
 * (a task's own outcome may be DBOS_ETIMEDOUT too: dbos_task_done tells them
 * apart), DBOS_EINVAL on NULL.  Outcomes:
 *   DBOS_OK         fn returned without a cancel request
 *   DBOS_ECLOSED    cancelled (dbos_task_cancel or shutdown CANCEL) before
 *                   fn returned; if it had started, fn saw dbos_sched_cancelled()
 *   DBOS_ETIMEDOUT  its deadline passed while it was still queued
 *   DBOS_ENOMEM     no stack could be had for it
 */
dbos_status dbos_task_wait(dbos_task *task, uint64_t timeout_ns);

/* True once the task finished (with whatever outcome); *outcome_out (may be NULL) gets it. */
bool dbos_task_done(dbos_task *task, dbos_status *outcome_out);

/*
 * Ask the task to stop.  A queued task is finished at once without running
 * (outcome DBOS_ECLOSED); a running or parked one sees dbos_sched_cancelled()
 * true, and its waits return DBOS_ECLOSED.  Idempotent; no effect once done.
 */
void dbos_task_cancel(dbos_task *task);

/* Give back the reference from dbos_sched_submit.  The task itself runs on. */
void dbos_task_release(dbos_task *task);

/* ---- Inside a task --------------------------------------------------------- */

/*
 * Per thread: nonzero when the running task's quantum is over (or a more
 * urgent task is waiting).  Written by the worker's timer signal and by
 * submitters; read by dbos_sched_safepoint.  Not for direct use.
 */
extern __thread uint32_t dbos_sched_preempt_flag __attribute__((tls_model("initial-exec")));

void dbos_sched_safepoint_slow(void);

/*
 * A safe point: switch to another task if this one's quantum is over.  One
 * thread-local load when nothing is due; put it in loops.  Inside a latch
 * section it does nothing (the switch happens at the outermost enable).
 */
static inline void dbos_sched_safepoint(void)
{
	if (__builtin_expect(__atomic_load_n(&dbos_sched_preempt_flag, __ATOMIC_RELAXED) != 0, 0))
		dbos_sched_safepoint_slow();
}

/* Go to the back of the task's class queue now (no effect outside a task or in a latch section). */
void dbos_sched_yield(void);

/* True when the running task was cancelled or its deadline passed.  False outside a task. */
bool dbos_sched_cancelled(void);

/* True when the caller runs as a task (on one of some scheduler's fibers). */
bool dbos_sched_in_task(void);

/*
 * Preemptible sections: between begin and end, the timer may switch the task
 * out at any instruction, from the signal handler, without waiting for a safe
 * point.  Code inside must therefore be interruptible anywhere: no locks
 * (not even malloc's), no latch sections, nothing thread-local kept across
 * instructions.  Pure computation over memory the task owns is the use.
 * Sections nest; they end with the task.  No effect outside a task.
 */
void dbos_sched_preemptible_begin(void);
void dbos_sched_preemptible_end(void);

/*
 * Park until *word != expected, a wake on word, the timeout (UINT64_MAX:
 * none) or cancellation: inside a task the fiber parks and the worker runs
 * other tasks; elsewhere the thread sleeps (dbos_platform_wait).  DBOS_OK
 * (woken, or the word differed; spurious wake-ups happen: re-check),
 * DBOS_ETIMEDOUT, DBOS_ECLOSED (the task was cancelled), DBOS_EINVAL (word
 * NULL or not 4-byte aligned).
 */
dbos_status dbos_sched_wait_word(const uint32_t *word, uint32_t expected, uint64_t timeout_ns);

/* Wake up to count waiters on word (UINT32_MAX: all), tasks and threads alike. */
void dbos_sched_wake_word(const uint32_t *word, uint32_t count);

/*
 * Submit a batch to a gateway (dbos/hypercall.h) and wait for it to complete:
 * inside a task the fiber parks, elsewhere the thread waits on the gateway.
 * The scheduler uses the batch's on_complete and context: they must be NULL
 * (DBOS_EINVAL otherwise).  Returns the submit's status (results are in the
 * batch) or DBOS_OK.  A cancelled task still waits for its batch (the
 * buffers must outlive the I/O).
 */
dbos_status dbos_sched_io(dbos_gateway *gateway, dbos_io_batch *batch);

/* ---- Statistics ------------------------------------------------------------ */

struct dbos_sched_stats {
	uint32_t worker_count;
	uint32_t quantum_us;
	uint64_t queued[DBOS_SCHED_PRIORITY_COUNT]; /* tasks waiting to run (new and preempted) */
	uint64_t running;                           /* tasks on a worker now */
	uint64_t parked;                            /* tasks waiting on a word or I/O */
	uint64_t submitted;
	uint64_t completed;         /* finished with any outcome */
	uint64_t cancelled;         /* outcome DBOS_ECLOSED */
	uint64_t expired;           /* outcome DBOS_ETIMEDOUT (deadline passed in the queue) */
	uint64_t aged;              /* dispatches decided by aging */
	uint64_t timer_signals;     /* quantum expiries delivered to workers */
	uint64_t preempt_safepoint; /* switches at a safe point after the flag */
	uint64_t preempt_immediate; /* switches from the signal handler (preemptible section) */
	uint64_t preempt_deferred;  /* expiries inside a latch section, switched at enable */
	uint64_t yields;            /* dbos_sched_yield calls that switched */
	uint64_t waits;             /* parks on words (dbos_sched_wait_word, task waits) */
	uint64_t io_waits;          /* parks on gateway batches */
	uint64_t switches;          /* fiber switches (into a task and back count as one) */
	uint64_t switch_ns;         /* measured cost of one context switch, at create */
	uint64_t stacks_live;       /* task stacks mapped now (in use + pooled) */
	uint64_t stacks_pooled;     /* of which idle, kept for reuse */
	uint64_t stacks_peak;
};

/* A snapshot (counters read without stopping the workers).  DBOS_EINVAL on NULL. */
dbos_status dbos_sched_stats(dbos_sched *sched, struct dbos_sched_stats *stats_out);

/* ---- Shutdown -------------------------------------------------------------- */

enum dbos_sched_shutdown_mode {
	DBOS_SCHED_SHUTDOWN_DRAIN = 0,  /* run every queued task to the end */
	DBOS_SCHED_SHUTDOWN_CANCEL = 1, /* finish queued tasks unrun, cancel running ones */
};

/*
 * Refuse new tasks (DBOS_ECLOSED), then finish them as `mode` says and stop
 * the workers, waiting at most timeout_ns.  DBOS_OK: workers stopped, every
 * stack freed.  DBOS_ETIMEDOUT: tasks still run (one that ignores
 * cancellation); call again.  A second call may switch DRAIN to CANCEL.
 * DBOS_EINVAL: bad mode; DBOS_EBUSY: called from one of this scheduler's tasks.
 */
dbos_status dbos_sched_shutdown(dbos_sched *sched, enum dbos_sched_shutdown_mode mode, uint64_t timeout_ns);

/*
 * Free the scheduler.  Shuts down first (CANCEL, waiting as long as it takes)
 * if that has not completed.  Task references still held stay valid until
 * released.  Called from one of the scheduler's own tasks it logs an error
 * and does nothing.  No other call on the scheduler may run concurrently.
 */
void dbos_sched_destroy(dbos_sched *sched);

/*
 * One line for probe(): the context switch, the timer and the signal, and
 * whether immediate preemption is on, e.g. "fibers: hand-written x86-64
 * switch; quantum: timer_create per worker (SIGEV_THREAD_ID) signal 60 on an
 * alternate stack; preemptible sections switch immediately".
 */
void dbos_sched_mechanism(char *text, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_SCHEDULER_H */
