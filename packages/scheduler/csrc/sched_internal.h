/*
 * sched_internal.h - the scheduler core's shared structures.
 *
 * Locks, in the order they may nest:
 *   wait bucket lock (sched_wait.c)  ->  sched->lock  ->  sched->stack_lock
 * sched->lock guards the run queues, the timed-wait list, the list of live
 * tasks, task->state and the counters that are not per worker.  No lock is
 * held across a context switch except one wait bucket's, which a parking
 * fiber hands to its worker to release after the switch (sched_worker.after).
 *
 * Switching: a task always switches to its worker's own context (the worker
 * thread's stack), never directly to another task; the worker then requeues,
 * parks or finishes the task it came back from and picks the next.  So no
 * task is ever made runnable before its registers are saved.
 */
#ifndef DBOS_SCHED_INTERNAL_H
#define DBOS_SCHED_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/platform.h"
#include "dbos/scheduler.h"

#define SCHED_HIDDEN __attribute__((visibility("hidden")))

/* ---- Sanitizers ------------------------------------------------------------ */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCHED_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define SCHED_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(SCHED_ASAN)
#define SCHED_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(SCHED_TSAN)
#define SCHED_TSAN 1
#endif

/* ---- A small lock over dbos_platform_wait ----------------------------------- */

/* 0 free, 1 held, 2 held and someone may sleep on it. */
struct sched_lock {
	uint32_t word;
};

static inline void sched_lock_acquire(struct sched_lock *lock)
{
	uint32_t expected = 0;
	if (__atomic_compare_exchange_n(&lock->word, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	for (int spin = 0; spin < 100; spin++) {
		dbos_platform_relax();
		expected = 0;
		if (__atomic_load_n(&lock->word, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&lock->word, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
	}
	while (__atomic_exchange_n(&lock->word, 2, __ATOMIC_ACQUIRE) != 0)
		dbos_platform_wait(&lock->word, 2, UINT64_MAX);
}

static inline void sched_lock_release(struct sched_lock *lock)
{
	if (__atomic_exchange_n(&lock->word, 0, __ATOMIC_RELEASE) == 2)
		dbos_platform_wake(&lock->word, 1);
}

/* ---- Contexts and stacks ------------------------------------------------------ */

/* Saved state of a fiber or of a worker's own context: callee-saved registers live on its stack. */
struct sched_context {
	void *sp;
#ifdef SCHED_ASAN
	void *asan_fake_stack;
	const void *stack_bottom;
	size_t stack_size;
	const void *resumer_bottom; /* the stack of whoever switched to us last */
	size_t resumer_size;
#endif
#ifdef SCHED_TSAN
	void *tsan_fiber;
#endif
};

/*
 * One fiber: a stack (a reservation whose lowest page stays inaccessible, the
 * guard) and the context of the loop that runs tasks on it.  A fiber outlives
 * its tasks: a finished task's fiber waits in the pool, suspended in its
 * loop, and runs the next task it is given, so frames always balance (the
 * sanitizers' shadow stacks stay bounded) and reuse costs nothing.
 */
struct sched_stack {
	void *base;                   /* the reservation, guard page first */
	size_t total_bytes;           /* guard + usable */
	struct sched_context context; /* sp NULL: never started */
	struct dbos_task *task;       /* what the loop runs next */
	struct sched_stack *next_free;
	void *tsan_fiber; /* TSan builds: the fiber state stays with the stack (creating one costs ~1 MiB of memset) */
};

/* Usable stack: [low, high) with the header at high. */
static inline uintptr_t sched_stack_low(const struct sched_stack *stack)
{
	return (uintptr_t)stack->base + DBOS_PAGE_SIZE;
}

static inline uintptr_t sched_stack_high(const struct sched_stack *stack)
{
	return (uintptr_t)stack;
}

/* ---- Tasks ------------------------------------------------------------------------ */

enum sched_task_state {
	SCHED_TASK_QUEUED = 1,  /* in a run queue (new, preempted or woken) */
	SCHED_TASK_RUNNING = 2, /* on a worker */
	SCHED_TASK_PARKED = 3,  /* waiting on a word or a batch */
	SCHED_TASK_DONE = 4,
};

/* task->wait_state while parked: who ends the wait, decided by one compare-and-swap. */
enum sched_wait_state {
	SCHED_WAIT_NONE = 0,
	SCHED_WAIT_WAITING = 1,
	SCHED_WAIT_WOKEN = 2,
	SCHED_WAIT_TIMEDOUT = 3,
	SCHED_WAIT_CANCELLED = 4,
};

struct dbos_task {
	struct dbos_sched *sched;
	void (*fn)(void *arg);
	void *arg;
	uint32_t priority;
	uint32_t refs;           /* atomic: the scheduler's (until done) + the submitter's handle */
	uint32_t done;           /* atomic futex word: 1 once finished */
	uint32_t thread_waiters; /* atomic: threads (not tasks) asleep on done; only then a futex wake */
	dbos_status outcome;
	uint32_t cancel; /* atomic: cancel requested */
	uint32_t state;  /* enum sched_task_state, under sched->lock */
	uint64_t deadline_ns;
	uint64_t queued_ns; /* when it entered its run queue (aging) */

	struct dbos_task *queue_next, *queue_prev; /* run queue */
	struct dbos_task *live_next, *live_prev;   /* sched->live list */

	/* The fiber, once started (its context lives in the stack). */
	struct sched_stack *stack;
	uint32_t latch_depth;  /* dbos_preempt depth while switched out */
	uint32_t preemptible;  /* open preemptible sections (atomic: the signal handler reads it) */
	uint32_t in_scheduler; /* atomic: in scheduler code, never switch from the handler */

	/* Parking (sched_wait.c). */
	const uint32_t *wait_word;
	uint32_t wait_state;       /* atomic enum sched_wait_state */
	uint32_t wait_io;          /* the park is for a gateway batch (stats) */
	uint64_t wait_deadline_ns; /* UINT64_MAX: none */
	struct dbos_task *bucket_next, *bucket_prev;
	bool in_bucket;
	bool in_timed;
	struct dbos_task *timed_next, *timed_prev; /* sched->timed, sorted by wait_deadline_ns */
};

/* ---- Workers ---------------------------------------------------------------------- */

enum sched_after {
	SCHED_AFTER_NONE = 0,
	SCHED_AFTER_REQUEUE, /* preempted or yielded: back to its run queue */
	SCHED_AFTER_PARK,    /* parked: record it, then release after_lock */
	SCHED_AFTER_EXIT,    /* fn returned: free the stack, finish the task */
};

enum sched_preempt_kind {
	SCHED_PREEMPT_SAFEPOINT = 0,
	SCHED_PREEMPT_IMMEDIATE,
	SCHED_PREEMPT_DEFERRED,
	SCHED_PREEMPT_YIELD,
};

/* Counters a worker bumps without the lock (the signal handler among them). */
struct sched_worker_counters {
	uint64_t timer_signals;
	uint64_t preempt_safepoint;
	uint64_t preempt_immediate;
	uint64_t preempt_deferred;
	uint64_t yields;
	uint64_t switches;
};

struct sched_worker {
	struct dbos_sched *sched;
	uint32_t index;
	dbos_thread *thread;
	struct sched_context context; /* the worker thread's own stack */
	struct dbos_task *current;    /* atomic: the running task or NULL */
	uint32_t current_priority;    /* under sched->lock: class of current (kicks) */
	struct dbos_preempt *latch;   /* the worker thread's dbos_platform_preempt() */
	uint32_t *preempt_flag;       /* &dbos_sched_preempt_flag of the worker thread */

	/* Quantum (atomics: shared with this thread's signal handler). */
	uint64_t slice_end_ns;
	uint64_t timer_at_ns; /* when the armed timer fires; 0: not armed */
	uint32_t kicked;      /* a submitter wants the CPU for a more urgent task */
	uint32_t redirecting; /* the handler redirected the task; the trampoline has not run yet */

	/* What the task that just switched back wants done (sched_worker_after). */
	enum sched_after after;
	enum sched_preempt_kind after_kind;
	struct sched_lock *after_lock;

	struct sched_worker_counters counters;
	void *rt; /* runtime-private (host: timer id, alternate stack, thread id) */
	dbos_status start_status;
	uint32_t started; /* atomic futex word: 1 once start_status is set */
};

/* ---- The scheduler ------------------------------------------------------------------ */

struct sched_queue {
	struct dbos_task *head, *tail;
	uint64_t length;
};

struct dbos_sched {
	uint32_t worker_count;
	uint64_t quantum_ns;
	uint64_t aging_ns;
	size_t stack_bytes;
	uint32_t stack_pool_max;
	bool immediate; /* the handler may switch tasks in preemptible sections */

	struct sched_lock lock;
	struct sched_queue queues[DBOS_SCHED_PRIORITY_COUNT];
	struct dbos_task *live;  /* every unfinished task */
	struct dbos_task *timed; /* parked tasks with a timeout, earliest first */
	uint32_t closed;         /* atomic: shutdown began, submit refuses */
	uint32_t cancelling;     /* shutdown CANCEL: new and queued tasks finish unrun */
	uint64_t live_count;
	uint64_t running, parked;
	uint64_t submitted, completed, cancelled, expired, aged, waits, io_waits;

	uint32_t idle_seq;   /* futex word idle workers sleep on */
	uint32_t idle_count; /* under lock */
	uint32_t exited;     /* atomic futex word: workers that returned */
	bool joined;

	struct sched_lock stack_lock;
	struct sched_stack *stack_free;
	uint64_t stacks_live, stacks_pooled, stacks_peak;

	uint64_t switch_ns;
	struct sched_worker workers[];
};

/* ---- Thread-local state --------------------------------------------------------------- */

/* The worker the calling thread is (NULL on other threads). */
extern __thread struct sched_worker *sched_this_worker __attribute__((tls_model("initial-exec")));

/*
 * The task running on this thread, or NULL.  One thread-local load: a task
 * may be switched out (from the signal handler, in a preemptible section)
 * and resumed on another worker between any two instructions, so reading
 * sched_this_worker and then worker->current could pair one worker with
 * another's task.  This single load is always the caller's own task.
 */
extern __thread struct dbos_task *sched_this_task __attribute__((tls_model("initial-exec")));

static inline struct dbos_task *sched_current_task(void)
{
	return __atomic_load_n(&sched_this_task, __ATOMIC_RELAXED);
}

/* ---- Across files ------------------------------------------------------------------------ */

/* sched_switch.c */
SCHED_HIDDEN void sched_switch(struct sched_context *from, struct sched_context *to, bool from_exits);
SCHED_HIDDEN void sched_context_init(struct sched_context *context, struct sched_stack *stack, void (*entry)(void *),
				     void *argument);
SCHED_HIDDEN void sched_stack_sanitizer_release(struct sched_stack *stack);
SCHED_HIDDEN void sched_context_self(struct sched_context *context);
SCHED_HIDDEN void sched_fiber_entered(struct sched_context *from);
SCHED_HIDDEN void sched_fiber_resumed(struct sched_context *self, struct sched_context *resumer);
SCHED_HIDDEN uint64_t sched_measure_switch_ns(struct dbos_sched *sched);
SCHED_HIDDEN void sched_preempt_trampoline(void);
SCHED_HIDDEN void sched_switch_probe(void);

/* sched_stack.c */
SCHED_HIDDEN dbos_status sched_stack_get(struct dbos_sched *sched, struct sched_stack **stack_out);
SCHED_HIDDEN void sched_stack_put(struct dbos_sched *sched, struct sched_stack *stack);
SCHED_HIDDEN void sched_stack_drain(struct dbos_sched *sched);

/* sched_queue.c */
SCHED_HIDDEN void sched_queue_push(struct dbos_sched *sched, struct dbos_task *task, uint64_t now_ns);
SCHED_HIDDEN void sched_queue_remove(struct dbos_sched *sched, struct dbos_task *task);
SCHED_HIDDEN struct dbos_task *sched_queue_pick(struct dbos_sched *sched, uint64_t now_ns, bool take);
SCHED_HIDDEN void sched_live_add(struct dbos_sched *sched, struct dbos_task *task);
SCHED_HIDDEN void sched_live_remove(struct dbos_sched *sched, struct dbos_task *task);

/* sched_worker.c */
SCHED_HIDDEN void sched_worker_main(void *opaque);
SCHED_HIDDEN void sched_task_switch_out(struct dbos_task *task, enum sched_after after, enum sched_preempt_kind kind,
					struct sched_lock *after_lock);
SCHED_HIDDEN void sched_slice_begin(struct sched_worker *worker, uint64_t now_ns);
SCHED_HIDDEN void sched_make_runnable(struct dbos_sched *sched, struct dbos_task *task, uint64_t now_ns,
				      struct dbos_task **finished);
SCHED_HIDDEN void sched_finish_list(struct dbos_task *finished);
SCHED_HIDDEN void sched_finish_locked(struct dbos_sched *sched, struct dbos_task *task, dbos_status outcome,
				      struct dbos_task **finished);
SCHED_HIDDEN void sched_kick_for(struct dbos_sched *sched, uint32_t priority);
SCHED_HIDDEN void sched_wake_idle(struct dbos_sched *sched);
SCHED_HIDDEN void sched_task_unref(struct dbos_task *task);
SCHED_HIDDEN void sched_deferred_switch(void);

/* sched_wait.c */
SCHED_HIDDEN void sched_timed_expire(struct dbos_sched *sched, uint64_t now_ns, struct dbos_task **finished);
SCHED_HIDDEN void sched_timed_remove(struct dbos_sched *sched, struct dbos_task *task);
SCHED_HIDDEN bool sched_wait_end(struct dbos_sched *sched, struct dbos_task *task, enum sched_wait_state how,
				 uint64_t now_ns, struct dbos_task **finished);
/* Park the running task on a gateway batch's completion word (not ended by cancellation). */
SCHED_HIDDEN dbos_status sched_park_io(const uint32_t *word, uint32_t expected);
/* Make up to `count` tasks parked on `word` runnable (no futex wake for threads). */
SCHED_HIDDEN void sched_wake_tasks(const uint32_t *word, uint32_t count);
/* Store `value` to `word` and wake the tasks parked on it, as one step under the word's bucket lock. */
SCHED_HIDDEN void sched_store_and_wake(uint32_t *word, uint32_t value);
SCHED_HIDDEN void sched_park_recorded(struct sched_worker *worker, struct dbos_task *task, uint64_t now_ns,
				      struct dbos_task **finished);

/*
 * The signal handler's half (async-signal-safe: atomics on this worker only).
 * `from_timer`: the quantum timer fired (else a kick).  `interrupted_sp`: the
 * stack pointer the signal interrupted.  *rearm_at_ns: nonzero when the
 * runtime must re-arm the timer for then.  Returns true when the runtime must
 * redirect the interrupted code into sched_preempt_trampoline (an immediate
 * switch).
 */
SCHED_HIDDEN bool sched_interrupt(struct sched_worker *worker, bool from_timer, uint64_t now_ns,
				  uintptr_t interrupted_sp, uint64_t *rearm_at_ns);

#endif /* DBOS_SCHED_INTERNAL_H */
