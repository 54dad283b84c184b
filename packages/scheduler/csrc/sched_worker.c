/*
 * sched_worker.c - the worker loop, the slice (quantum) bookkeeping, and the
 * paths by which a task leaves its worker: preemption, yield, park, exit.
 */
#include "sched_internal.h"
#include "sched_runtime.h"

__thread uint32_t dbos_sched_preempt_flag __attribute__((tls_model("initial-exec")));
__thread struct sched_worker *sched_this_worker __attribute__((tls_model("initial-exec")));
__thread struct dbos_task *sched_this_task __attribute__((tls_model("initial-exec")));

#define NO_PRIORITY ((uint32_t)DBOS_SCHED_PRIORITY_COUNT)

/*
 * The calling thread's worker, read afresh.  A task may resume on another
 * worker after any switch, so task-side code never keeps a thread-local
 * address across one: the asm keeps the compiler from caching this call.
 */
__attribute__((noinline)) static struct sched_worker *this_worker(void)
{
	__asm__ volatile("" ::: "memory");
	return sched_this_worker;
}

static void counter_add(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* ---- Slices ----------------------------------------------------------------- */

/*
 * Start a quantum for whatever this worker runs now.  The timer is one-shot
 * and armed at most once per quantum: if it is already armed (for an earlier
 * end) the handler re-arms it when it fires early, so dispatching a stream of
 * short tasks costs no system call each.
 */
void sched_slice_begin(struct sched_worker *worker, uint64_t now_ns)
{
	uint64_t end = now_ns + worker->sched->quantum_ns;
	__atomic_store_n(&worker->slice_end_ns, end, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the handler sees the new end before we look at the timer */
	if (__atomic_load_n(&worker->timer_at_ns, __ATOMIC_RELAXED) == 0) {
		__atomic_store_n(&worker->timer_at_ns, end, __ATOMIC_RELAXED);
		sched_rt_arm(worker, end);
	}
}

bool sched_interrupt(struct sched_worker *worker, bool from_timer, uint64_t now_ns, uintptr_t interrupted_sp,
		     uint64_t *rearm_at_ns)
{
	*rearm_at_ns = 0;
	if (from_timer) {
		counter_add(&worker->counters.timer_signals);
		__atomic_store_n(&worker->timer_at_ns, 0, __ATOMIC_RELAXED);
		uint64_t end = __atomic_load_n(&worker->slice_end_ns, __ATOMIC_RELAXED);
		if (now_ns < end) {
			/* Fired for an earlier slice: follow the current one. */
			__atomic_store_n(&worker->timer_at_ns, end, __ATOMIC_RELAXED);
			*rearm_at_ns = end;
			return false;
		}
	} else if (__atomic_exchange_n(&worker->kicked, 0, __ATOMIC_RELAXED) == 0) {
		return false;
	}
	struct dbos_task *task = __atomic_load_n(&worker->current, __ATOMIC_RELAXED);
	if (!task)
		return false;
	__atomic_store_n(worker->preempt_flag, 1, __ATOMIC_RELAXED);
	if (worker->latch->depth > 0) {
		/* A latch is held: the enable that closes the outermost section switches. */
		worker->latch->pending = 1;
		return false;
	}
	if (!worker->sched->immediate || __atomic_load_n(&task->preemptible, __ATOMIC_RELAXED) == 0 ||
	    __atomic_load_n(&task->in_scheduler, __ATOMIC_RELAXED) != 0 ||
	    __atomic_load_n(&worker->redirecting, __ATOMIC_RELAXED) != 0 || !task->stack)
		return false;
	/*
	 * Only code running on the task's own stack is the task's code, and the
	 * redirect needs room below it: the red zone, the trampoline's register
	 * and vector save (under 3 KiB even with AVX-512) and the switch path.
	 * Short of that the task switches at its next safe point instead.
	 */
	if (interrupted_sp < sched_stack_low(task->stack) + 8192 || interrupted_sp >= sched_stack_high(task->stack))
		return false;
	__atomic_store_n(&worker->redirecting, 1, __ATOMIC_RELAXED);
	return true;
}

/* ---- Leaving the worker ------------------------------------------------------------ */

void sched_task_switch_out(struct dbos_task *task, enum sched_after after, enum sched_preempt_kind kind,
			   struct sched_lock *after_lock)
{
	DBOS_ASSERT(__atomic_load_n(&task->in_scheduler, __ATOMIC_RELAXED) != 0);
	struct sched_worker *worker = this_worker();
	DBOS_ASSERT(worker && worker->current == task);
	worker->after = after;
	worker->after_kind = kind;
	worker->after_lock = after_lock;
	/*
	 * A finished task's fiber is not ending: it waits in the pool for its
	 * next task.  After the switch `task` may be gone (finished and freed):
	 * only the stack is ours.
	 */
	struct sched_stack *stack = task->stack;
	sched_switch(&stack->context, &worker->context, false);
	sched_fiber_resumed(&stack->context, &this_worker()->context);
}

/* Is something waiting that should run instead of `task` (as urgent, or aged)? */
static bool should_yield_to_other(struct dbos_sched *sched, struct dbos_task *task, uint64_t now_ns)
{
	struct dbos_task *next = sched_queue_pick(sched, now_ns, false);
	if (!next)
		return false;
	return next->priority <= task->priority || now_ns - next->queued_ns >= sched->aging_ns;
}

/* Switch `task` out if another should run; else give it a fresh slice.  in_scheduler is set. */
static void preempt_now(struct dbos_task *task, enum sched_preempt_kind kind)
{
	struct dbos_sched *sched = task->sched;
	/* Lower the flag before looking: a kick that lands after the look raises it again. */
	__atomic_store_n(this_worker()->preempt_flag, 0, __ATOMIC_SEQ_CST);
	uint64_t now = dbos_platform_now_ns();
	struct dbos_task *finished = NULL;
	sched_lock_acquire(&sched->lock);
	sched_timed_expire(sched, now, &finished);
	bool other = should_yield_to_other(sched, task, now);
	sched_lock_release(&sched->lock);
	sched_finish_list(finished);
	struct sched_worker *worker = this_worker();
	if (!other) {
		sched_slice_begin(worker, now);
		return;
	}
	uint64_t *counter = kind == SCHED_PREEMPT_IMMEDIATE  ? &worker->counters.preempt_immediate
			    : kind == SCHED_PREEMPT_DEFERRED ? &worker->counters.preempt_deferred
			    : kind == SCHED_PREEMPT_YIELD    ? &worker->counters.yields
							     : &worker->counters.preempt_safepoint;
	counter_add(counter);
	sched_task_switch_out(task, SCHED_AFTER_REQUEUE, kind, NULL);
}

/* Enter scheduler code from a task: from here the handler leaves the task alone. */
static struct dbos_task *enter_from_task(void)
{
	struct dbos_task *task = sched_current_task();
	if (!task)
		return NULL;
	__atomic_store_n(&task->in_scheduler, 1, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return task;
}

static void leave_to_task(struct dbos_task *task)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&task->in_scheduler, 0, __ATOMIC_RELAXED);
}

void dbos_sched_safepoint_slow(void)
{
	struct dbos_task *task = sched_current_task();
	if (!task) {
		__atomic_store_n(&dbos_sched_preempt_flag, 0, __ATOMIC_RELAXED);
		return;
	}
	if (__atomic_load_n(&task->in_scheduler, __ATOMIC_RELAXED))
		return;
	enter_from_task();
	struct sched_worker *worker = this_worker();
	if (worker->latch->depth > 0) {
		worker->latch->pending = 1; /* switch at the outermost enable */
	} else {
		preempt_now(task, SCHED_PREEMPT_SAFEPOINT);
	}
	leave_to_task(task);
}

void dbos_sched_yield(void)
{
	struct dbos_task *task = sched_current_task();
	if (!task || __atomic_load_n(&task->in_scheduler, __ATOMIC_RELAXED))
		return;
	enter_from_task();
	if (this_worker()->latch->depth == 0)
		preempt_now(task, SCHED_PREEMPT_YIELD);
	leave_to_task(task);
}

/* dbos_preempt_enable closed the outermost latch section with a preemption pending. */
void sched_deferred_switch(void)
{
	struct dbos_task *task = sched_current_task();
	if (!task || __atomic_load_n(&task->in_scheduler, __ATOMIC_RELAXED)) {
		dbos_platform_preempt()->pending = 0;
		return;
	}
	/* In scheduler code first: from here no switch can move us while we hold a thread's state. */
	enter_from_task();
	dbos_platform_preempt()->pending = 0;
	if (__atomic_load_n(&dbos_sched_preempt_flag, __ATOMIC_RELAXED) != 0)
		preempt_now(task, SCHED_PREEMPT_DEFERRED);
	leave_to_task(task);
}

/* Called by sched_preempt_trampoline: the signal handler interrupted a preemptible section. */
SCHED_HIDDEN void sched_preempt_immediate(void);
void sched_preempt_immediate(void)
{
	struct dbos_task *task = enter_from_task();
	struct sched_worker *worker = this_worker();
	DBOS_ASSERT(task && worker);
	__atomic_store_n(&worker->redirecting, 0, __ATOMIC_RELAXED);
	preempt_now(task, SCHED_PREEMPT_IMMEDIATE);
	leave_to_task(task);
}

void dbos_sched_preemptible_begin(void)
{
	struct dbos_task *task = sched_current_task();
	if (!task)
		return;
	__atomic_fetch_add(&task->preemptible, 1, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void dbos_sched_preemptible_end(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	struct dbos_task *task = sched_current_task();
	if (!task || __atomic_load_n(&task->preemptible, __ATOMIC_RELAXED) == 0)
		return;
	__atomic_fetch_sub(&task->preemptible, 1, __ATOMIC_RELAXED);
}

bool dbos_sched_in_task(void)
{
	return sched_current_task() != NULL;
}

bool dbos_sched_cancelled(void)
{
	struct dbos_task *task = sched_current_task();
	if (!task)
		return false;
	if (__atomic_load_n(&task->cancel, __ATOMIC_RELAXED))
		return true;
	return task->deadline_ns != 0 && dbos_platform_now_ns() >= task->deadline_ns;
}

/* ---- Finishing tasks ----------------------------------------------------------------- */

void sched_task_unref(struct dbos_task *task)
{
	if (__atomic_fetch_sub(&task->refs, 1, __ATOMIC_ACQ_REL) == 1)
		dbos_platform_free(task, sizeof(*task));
}

/* Under sched->lock: the task is over; the caller runs sched_finish_list after unlocking. */
void sched_finish_locked(struct dbos_sched *sched, struct dbos_task *task, dbos_status outcome,
			 struct dbos_task **finished)
{
	task->state = SCHED_TASK_DONE;
	task->outcome = outcome;
	sched_live_remove(sched, task);
	sched->completed++;
	if (outcome == DBOS_ECLOSED)
		sched->cancelled++;
	else if (outcome == DBOS_ETIMEDOUT)
		sched->expired++;
	task->queue_next = *finished;
	*finished = task;
	if (sched->live_count == 0 && __atomic_load_n(&sched->closed, __ATOMIC_RELAXED))
		sched_wake_idle(sched); /* workers may stop now */
}

/* Publish outcomes and wake their waiters (no lock held). */
void sched_finish_list(struct dbos_task *finished)
{
	while (finished) {
		struct dbos_task *next = finished->queue_next;
		/* seq_cst store, then load: a thread that counted itself a waiter sees done, or we see it. */
		__atomic_store_n(&finished->done, 1, __ATOMIC_SEQ_CST);
		sched_wake_tasks(&finished->done, UINT32_MAX);
		if (__atomic_load_n(&finished->thread_waiters, __ATOMIC_SEQ_CST))
			dbos_platform_wake(&finished->done, UINT32_MAX);
		sched_task_unref(finished);
		finished = next;
	}
}

/* Wake every idle worker (they re-check the queues and whether to stop). */
void sched_wake_idle(struct dbos_sched *sched)
{
	__atomic_fetch_add(&sched->idle_seq, 1, __ATOMIC_RELEASE);
	dbos_platform_wake(&sched->idle_seq, UINT32_MAX);
}

/*
 * Under sched->lock, after queueing a task of `priority`: when no worker is
 * idle, interrupt the one running the least urgent task below it, so a
 * latency task waits for a safe point rather than for a quantum.
 */
void sched_kick_for(struct dbos_sched *sched, uint32_t priority)
{
	if (sched->idle_count > 0)
		return;
	struct sched_worker *victim = NULL;
	for (uint32_t i = 0; i < sched->worker_count; i++) {
		struct sched_worker *worker = &sched->workers[i];
		if (worker->current_priority == NO_PRIORITY || worker->current_priority <= priority)
			continue;
		if (__atomic_load_n(&worker->kicked, __ATOMIC_RELAXED))
			continue;
		if (!victim || worker->current_priority > victim->current_priority)
			victim = worker;
	}
	if (!victim)
		return;
	__atomic_store_n(victim->preempt_flag, 1, __ATOMIC_RELAXED);
	if (sched->immediate) {
		__atomic_store_n(&victim->kicked, 1, __ATOMIC_RELAXED);
		sched_rt_kick(victim);
	}
}

/* ---- The worker loop ---------------------------------------------------------------------- */

/* The loop every fiber runs: one task per turn, suspended in the pool between tasks. */
static void fiber_main(void *opaque)
{
	struct sched_stack *stack = opaque;
	sched_fiber_entered(&this_worker()->context);
	for (;;) {
		struct dbos_task *task = stack->task;
		leave_to_task(task);
		task->fn(task->arg);
		enter_from_task();
		sched_task_switch_out(task, SCHED_AFTER_EXIT, SCHED_PREEMPT_SAFEPOINT, NULL);
	}
}

/* Run `task` until it switches back, then do what it asked. */
static void worker_run(struct sched_worker *worker, struct dbos_task *task)
{
	struct dbos_sched *sched = worker->sched;
	struct dbos_task *finished = NULL;
	if (!task->stack) {
		struct sched_stack *stack;
		if (sched_stack_get(sched, &stack) != DBOS_OK) {
			sched_lock_acquire(&sched->lock);
			sched->running--;
			worker->current_priority = NO_PRIORITY;
			sched_finish_locked(sched, task, DBOS_ENOMEM, &finished);
			sched_lock_release(&sched->lock);
			sched_finish_list(finished);
			return;
		}
		task->stack = stack;
		stack->task = task;
		task->in_scheduler = 1; /* until fiber_main starts the task's own code */
		if (!stack->context.sp)
			sched_context_init(&stack->context, stack, fiber_main, stack);
	}
	worker->latch->depth = task->latch_depth;
	worker->latch->pending = 0;
	__atomic_store_n(worker->preempt_flag, 0, __ATOMIC_RELAXED);
	sched_slice_begin(worker, dbos_platform_now_ns());
	__atomic_store_n(&sched_this_task, task, __ATOMIC_RELAXED);
	__atomic_store_n(&worker->current, task, __ATOMIC_RELAXED);
	counter_add(&worker->counters.switches);

	sched_switch(&worker->context, &task->stack->context, false);

	__atomic_store_n(&worker->current, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&sched_this_task, NULL, __ATOMIC_RELAXED);
	task->latch_depth = worker->latch->depth;
	worker->latch->depth = 0;
	worker->latch->pending = 0;
	uint64_t now = dbos_platform_now_ns();

	switch (worker->after) {
	case SCHED_AFTER_REQUEUE:
		sched_lock_acquire(&sched->lock);
		sched->running--;
		worker->current_priority = NO_PRIORITY;
		sched_queue_push(sched, task, now);
		sched_lock_release(&sched->lock);
		break;
	case SCHED_AFTER_PARK:
		sched_lock_acquire(&sched->lock);
		sched->running--;
		worker->current_priority = NO_PRIORITY;
		sched_park_recorded(worker, task, now, &finished);
		sched_lock_release(&sched->lock);
		sched_lock_release(worker->after_lock);
		break;
	case SCHED_AFTER_EXIT: {
		struct sched_stack *stack = task->stack;
		task->stack = NULL;
		stack->task = NULL;
		sched_stack_put(sched, stack);
		sched_lock_acquire(&sched->lock);
		sched->running--;
		worker->current_priority = NO_PRIORITY;
		dbos_status outcome = __atomic_load_n(&task->cancel, __ATOMIC_RELAXED) ? DBOS_ECLOSED : DBOS_OK;
		sched_finish_locked(sched, task, outcome, &finished);
		sched_lock_release(&sched->lock);
		break;
	}
	default: dbos_platform_panic(__FILE__, __LINE__, "a task switched back without saying why");
	}
	worker->after = SCHED_AFTER_NONE;
	worker->after_lock = NULL;
	sched_finish_list(finished);
}

/* Under sched->lock: a queued task that never started and must not (cancelled, late). */
static bool retire_unstarted(struct dbos_sched *sched, struct dbos_task *task, uint64_t now_ns,
			     struct dbos_task **finished)
{
	if (task->stack)
		return false;
	if (__atomic_load_n(&task->cancel, __ATOMIC_RELAXED) || sched->cancelling) {
		sched_finish_locked(sched, task, DBOS_ECLOSED, finished);
		return true;
	}
	if (task->deadline_ns != 0 && now_ns >= task->deadline_ns) {
		sched_finish_locked(sched, task, DBOS_ETIMEDOUT, finished);
		return true;
	}
	return false;
}

void sched_worker_main(void *opaque)
{
	struct sched_worker *worker = opaque;
	struct dbos_sched *sched = worker->sched;
	sched_this_worker = worker;
	worker->preempt_flag = &dbos_sched_preempt_flag;
	worker->latch = dbos_platform_preempt();
	worker->latch->deferred = sched_deferred_switch;
	worker->current_priority = NO_PRIORITY;
	sched_context_self(&worker->context);
	dbos_status status = sched_rt_worker_start(worker);
	worker->start_status = status;
	__atomic_store_n(&worker->started, 1, __ATOMIC_RELEASE);
	dbos_platform_wake(&worker->started, UINT32_MAX);

	if (status == DBOS_OK) {
		sched_lock_acquire(&sched->lock);
		for (;;) {
			uint64_t now = dbos_platform_now_ns();
			struct dbos_task *finished = NULL;
			sched_timed_expire(sched, now, &finished);
			struct dbos_task *task = sched_queue_pick(sched, now, true);
			if (task && retire_unstarted(sched, task, now, &finished)) {
				sched_lock_release(&sched->lock);
				sched_finish_list(finished);
				sched_lock_acquire(&sched->lock);
				continue;
			}
			if (!task) {
				if (__atomic_load_n(&sched->closed, __ATOMIC_RELAXED) && sched->live_count == 0) {
					sched_lock_release(&sched->lock);
					sched_finish_list(finished);
					break;
				}
				uint64_t timeout = UINT64_MAX;
				if (sched->timed)
					timeout = sched->timed->wait_deadline_ns > now
							  ? sched->timed->wait_deadline_ns - now
							  : 0;
				uint32_t seq = __atomic_load_n(&sched->idle_seq, __ATOMIC_ACQUIRE);
				sched->idle_count++;
				sched_lock_release(&sched->lock);
				sched_finish_list(finished);
				if (timeout > 0)
					dbos_platform_wait(&sched->idle_seq, seq, timeout);
				sched_lock_acquire(&sched->lock);
				sched->idle_count--;
				continue;
			}
			task->state = SCHED_TASK_RUNNING;
			sched->running++;
			worker->current_priority = task->priority;
			sched_lock_release(&sched->lock);
			sched_finish_list(finished);
			worker_run(worker, task);
			sched_lock_acquire(&sched->lock);
		}
		sched_wake_idle(sched); /* the others stop too */
		sched_rt_worker_stop(worker);
	}
	worker->latch->deferred = NULL;
	sched_this_worker = NULL;
	__atomic_fetch_add(&sched->exited, 1, __ATOMIC_RELEASE);
	dbos_platform_wake(&sched->exited, UINT32_MAX);
}
