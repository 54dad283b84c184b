/*
 * sched_core.c - the scheduler's lifetime (create, shutdown, destroy), task
 * submission and handles, statistics and the mechanism line.
 */
#include "sched_internal.h"
#include "sched_runtime.h"

/* ---- Create ----------------------------------------------------------------------- */

static dbos_status config_check(const struct dbos_sched_config *config, struct dbos_sched *out)
{
	if (config->flags & ~DBOS_SCHED_FLAGS_ALL)
		return DBOS_EINVAL;
	uint32_t workers = config->worker_count;
	if (workers > DBOS_SCHED_WORKERS_MAX)
		return DBOS_ERANGE;
	if (workers == 0) {
		workers = dbos_platform_cpu_count();
		if (workers == 0)
			workers = 1;
		if (workers > DBOS_SCHED_WORKERS_MAX)
			workers = DBOS_SCHED_WORKERS_MAX;
	}
	uint32_t quantum = config->quantum_us ? config->quantum_us : DBOS_SCHED_QUANTUM_US_DEFAULT;
	if (quantum < DBOS_SCHED_QUANTUM_US_MIN || quantum > DBOS_SCHED_QUANTUM_US_MAX)
		return DBOS_ERANGE;
	uint32_t stack = config->stack_bytes ? config->stack_bytes : DBOS_SCHED_STACK_BYTES_DEFAULT;
	if (stack < DBOS_SCHED_STACK_BYTES_MIN || stack > DBOS_SCHED_STACK_BYTES_MAX)
		return DBOS_ERANGE;
	uint32_t aging = config->aging_us ? config->aging_us : DBOS_SCHED_AGING_US_DEFAULT;
	if (aging > DBOS_SCHED_AGING_US_MAX)
		return DBOS_ERANGE;
	uint32_t pool = config->stack_pool ? config->stack_pool : DBOS_SCHED_STACK_POOL_DEFAULT;
	if (pool > DBOS_SCHED_STACK_POOL_MAX)
		return DBOS_ERANGE;
	out->worker_count = workers;
	out->quantum_ns = (uint64_t)quantum * 1000u;
	out->aging_ns = (uint64_t)aging * 1000u;
	out->stack_bytes = DBOS_ALIGN_UP((size_t)stack, DBOS_PAGE_SIZE);
	out->stack_pool_max = pool;
	out->immediate =
		!(config->flags & DBOS_SCHED_NO_IMMEDIATE) && sched_rt_present() && sched_rt_immediate_supported();
	return DBOS_OK;
}

static size_t sched_bytes(uint32_t workers)
{
	return sizeof(struct dbos_sched) + (size_t)workers * sizeof(struct sched_worker);
}

/* Stop and join the workers started so far (create failed half way). */
static void stop_started(struct dbos_sched *sched, uint32_t started)
{
	__atomic_store_n(&sched->closed, 1, __ATOMIC_RELEASE);
	sched_wake_idle(sched);
	for (uint32_t i = 0; i < started; i++)
		dbos_platform_thread_join(sched->workers[i].thread);
}

dbos_status dbos_sched_create(const struct dbos_sched_config *config, dbos_sched **sched_out)
{
	if (!config || !sched_out)
		return DBOS_EINVAL;
	struct dbos_sched probe = { 0 };
	dbos_status status = config_check(config, &probe);
	if (status != DBOS_OK)
		return status;
	if (!sched_rt_present())
		return DBOS_ENOTSUP; /* no timers in this runtime */
	status = sched_rt_init();
	if (status != DBOS_OK)
		return status;
	sched_switch_probe();

	struct dbos_sched *sched = dbos_platform_alloc(sched_bytes(probe.worker_count));
	if (!sched)
		return DBOS_ENOMEM;
	*sched = probe;
	sched->switch_ns = sched_measure_switch_ns(sched);

	uint32_t started = 0;
	for (; started < sched->worker_count; started++) {
		struct sched_worker *worker = &sched->workers[started];
		worker->sched = sched;
		worker->index = started;
		status = dbos_platform_thread_start(sched_worker_main, worker, &worker->thread);
		if (status != DBOS_OK)
			break;
		while (!__atomic_load_n(&worker->started, __ATOMIC_ACQUIRE))
			dbos_platform_wait(&worker->started, 0, UINT64_MAX);
		status = worker->start_status;
		if (status != DBOS_OK) {
			started++;
			break;
		}
	}
	if (status != DBOS_OK) {
		stop_started(sched, started);
		sched_stack_drain(sched);
		dbos_platform_free(sched, sched_bytes(sched->worker_count));
		return status;
	}
	*sched_out = sched;
	return DBOS_OK;
}

/* ---- Tasks ------------------------------------------------------------------------- */

dbos_status dbos_sched_submit(dbos_sched *sched, void (*fn)(void *arg), void *arg,
			      const struct dbos_task_options *options, dbos_task **task_out)
{
	if (!sched || !fn)
		return DBOS_EINVAL;
	struct dbos_task_options chosen = { .priority = DBOS_SCHED_NORMAL };
	if (options) {
		if (options->priority >= DBOS_SCHED_PRIORITY_COUNT || options->reserved != 0)
			return DBOS_EINVAL;
		chosen = *options;
	}
	if (__atomic_load_n(&sched->closed, __ATOMIC_ACQUIRE))
		return DBOS_ECLOSED;
	struct dbos_task *task = dbos_platform_alloc(sizeof(*task));
	if (!task)
		return DBOS_ENOMEM;
	task->sched = sched;
	task->fn = fn;
	task->arg = arg;
	task->priority = chosen.priority;
	task->deadline_ns = chosen.deadline_ns;
	task->refs = task_out ? 2 : 1;
	task->wait_deadline_ns = UINT64_MAX;

	sched_lock_acquire(&sched->lock);
	if (__atomic_load_n(&sched->closed, __ATOMIC_RELAXED)) {
		sched_lock_release(&sched->lock);
		dbos_platform_free(task, sizeof(*task));
		return DBOS_ECLOSED;
	}
	sched_live_add(sched, task);
	sched->submitted++;
	sched_queue_push(sched, task, dbos_platform_now_ns());
	sched_kick_for(sched, task->priority);
	sched_lock_release(&sched->lock);
	if (task_out)
		*task_out = task;
	return DBOS_OK;
}

bool dbos_task_done(dbos_task *task, dbos_status *outcome_out)
{
	if (!task || !__atomic_load_n(&task->done, __ATOMIC_ACQUIRE))
		return false;
	if (outcome_out)
		*outcome_out = task->outcome;
	return true;
}

dbos_status dbos_task_wait(dbos_task *task, uint64_t timeout_ns)
{
	if (!task)
		return DBOS_EINVAL;
	bool in_task = dbos_sched_in_task();
	uint64_t start = dbos_platform_now_ns();
	dbos_status result = DBOS_ETIMEDOUT;
	if (!in_task)
		__atomic_fetch_add(&task->thread_waiters, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		if (__atomic_load_n(&task->done, __ATOMIC_SEQ_CST)) {
			result = task->outcome;
			break;
		}
		uint64_t remaining = UINT64_MAX;
		if (timeout_ns != UINT64_MAX) {
			uint64_t elapsed = dbos_platform_now_ns() - start;
			if (elapsed >= timeout_ns)
				break;
			remaining = timeout_ns - elapsed;
		}
		if (!in_task) {
			dbos_platform_wait(&task->done, 0, remaining);
		} else if (dbos_sched_wait_word(&task->done, 0, remaining) == DBOS_ECLOSED) {
			result = DBOS_ECLOSED; /* the waiting task itself was cancelled */
			break;
		}
	}
	if (!in_task)
		__atomic_fetch_sub(&task->thread_waiters, 1, __ATOMIC_RELAXED);
	return result;
}

void dbos_task_cancel(dbos_task *task)
{
	if (!task || __atomic_load_n(&task->done, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&task->cancel, 1, __ATOMIC_SEQ_CST);
	struct dbos_sched *sched = task->sched;
	struct dbos_task *finished = NULL;
	sched_lock_acquire(&sched->lock);
	if (task->state == SCHED_TASK_QUEUED && !task->stack) {
		sched_queue_remove(sched, task);
		sched_finish_locked(sched, task, DBOS_ECLOSED, &finished);
	} else if (task->state == SCHED_TASK_PARKED && !task->wait_io) {
		sched_wait_end(sched, task, SCHED_WAIT_CANCELLED, dbos_platform_now_ns(), &finished);
	}
	sched_lock_release(&sched->lock);
	sched_finish_list(finished);
}

void dbos_task_release(dbos_task *task)
{
	if (task)
		sched_task_unref(task);
}

/* ---- Statistics ----------------------------------------------------------------------- */

dbos_status dbos_sched_stats(dbos_sched *sched, struct dbos_sched_stats *stats_out)
{
	if (!sched || !stats_out)
		return DBOS_EINVAL;
	struct dbos_sched_stats stats = {
		.worker_count = sched->worker_count,
		.quantum_us = (uint32_t)(sched->quantum_ns / 1000u),
		.switch_ns = sched->switch_ns,
	};
	sched_lock_acquire(&sched->lock);
	for (int i = 0; i < DBOS_SCHED_PRIORITY_COUNT; i++)
		stats.queued[i] = sched->queues[i].length;
	stats.running = sched->running;
	stats.parked = sched->parked;
	stats.submitted = sched->submitted;
	stats.completed = sched->completed;
	stats.cancelled = sched->cancelled;
	stats.expired = sched->expired;
	stats.aged = sched->aged;
	stats.waits = sched->waits;
	stats.io_waits = sched->io_waits;
	sched_lock_release(&sched->lock);
	for (uint32_t i = 0; i < sched->worker_count; i++) {
		const struct sched_worker_counters *c = &sched->workers[i].counters;
		stats.timer_signals += __atomic_load_n(&c->timer_signals, __ATOMIC_RELAXED);
		stats.preempt_safepoint += __atomic_load_n(&c->preempt_safepoint, __ATOMIC_RELAXED);
		stats.preempt_immediate += __atomic_load_n(&c->preempt_immediate, __ATOMIC_RELAXED);
		stats.preempt_deferred += __atomic_load_n(&c->preempt_deferred, __ATOMIC_RELAXED);
		stats.yields += __atomic_load_n(&c->yields, __ATOMIC_RELAXED);
		stats.switches += __atomic_load_n(&c->switches, __ATOMIC_RELAXED);
	}
	sched_lock_acquire(&sched->stack_lock);
	stats.stacks_live = sched->stacks_live;
	stats.stacks_pooled = sched->stacks_pooled;
	stats.stacks_peak = sched->stacks_peak;
	sched_lock_release(&sched->stack_lock);
	*stats_out = stats;
	return DBOS_OK;
}

/* ---- Shutdown ---------------------------------------------------------------------------- */

/* Under sched->lock: finish what has not started, tell the rest. */
static void cancel_all(struct dbos_sched *sched, struct dbos_task **finished)
{
	uint64_t now = dbos_platform_now_ns();
	struct dbos_task *task = sched->live;
	while (task) {
		struct dbos_task *next = task->live_next;
		__atomic_store_n(&task->cancel, 1, __ATOMIC_SEQ_CST);
		if (task->state == SCHED_TASK_QUEUED && !task->stack) {
			sched_queue_remove(sched, task);
			sched_finish_locked(sched, task, DBOS_ECLOSED, finished);
		} else if (task->state == SCHED_TASK_PARKED && !task->wait_io) {
			sched_wait_end(sched, task, SCHED_WAIT_CANCELLED, now, finished);
		}
		task = next;
	}
}

dbos_status dbos_sched_shutdown(dbos_sched *sched, enum dbos_sched_shutdown_mode mode, uint64_t timeout_ns)
{
	if (!sched || (mode != DBOS_SCHED_SHUTDOWN_DRAIN && mode != DBOS_SCHED_SHUTDOWN_CANCEL))
		return DBOS_EINVAL;
	struct dbos_task *self = sched_current_task();
	if (self && self->sched == sched)
		return DBOS_EBUSY;
	uint64_t start = dbos_platform_now_ns();
	struct dbos_task *finished = NULL;
	sched_lock_acquire(&sched->lock);
	__atomic_store_n(&sched->closed, 1, __ATOMIC_RELEASE);
	if (mode == DBOS_SCHED_SHUTDOWN_CANCEL && !sched->cancelling) {
		sched->cancelling = 1;
		cancel_all(sched, &finished);
	}
	sched_lock_release(&sched->lock);
	sched_finish_list(finished);
	sched_wake_idle(sched);

	for (;;) {
		uint32_t exited = __atomic_load_n(&sched->exited, __ATOMIC_ACQUIRE);
		if (exited == sched->worker_count)
			break;
		uint64_t remaining = UINT64_MAX;
		if (timeout_ns != UINT64_MAX) {
			uint64_t elapsed = dbos_platform_now_ns() - start;
			if (elapsed >= timeout_ns)
				return DBOS_ETIMEDOUT;
			remaining = timeout_ns - elapsed;
		}
		dbos_platform_wait(&sched->exited, exited, remaining);
	}
	/* One caller joins (two concurrent shutdowns must not join a thread twice). */
	sched_lock_acquire(&sched->lock);
	bool join = !sched->joined;
	sched->joined = true;
	sched_lock_release(&sched->lock);
	if (join) {
		for (uint32_t i = 0; i < sched->worker_count; i++)
			dbos_platform_thread_join(sched->workers[i].thread);
		sched_stack_drain(sched);
	}
	return DBOS_OK;
}

void dbos_sched_destroy(dbos_sched *sched)
{
	if (!sched)
		return;
	struct dbos_task *self = sched_current_task();
	if (self && self->sched == sched) {
		/* It would wait for the task calling it: refuse, and leak rather than crash. */
		dbos_platform_log(DBOS_LOG_ERROR,
				  "dbos_sched_destroy called from one of the scheduler's own tasks: ignored");
		return;
	}
	if (!sched->joined)
		DBOS_ASSERT(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_CANCEL, UINT64_MAX) == DBOS_OK);
	DBOS_ASSERT(sched->live_count == 0 && sched->stacks_live == 0);
	dbos_platform_free(sched, sched_bytes(sched->worker_count));
}

/* ---- Mechanism ------------------------------------------------------------------------------ */

static size_t append(char *text, size_t size, size_t at, const char *piece)
{
	while (*piece && at + 1 < size)
		text[at++] = *piece++;
	if (size)
		text[at < size ? at : size - 1] = '\0';
	return at;
}

void dbos_sched_mechanism(char *text, size_t size)
{
	if (!text || size == 0)
		return;
	if (!sched_rt_present()) {
		append(text, size, 0, "unavailable: this runtime has no threads or timers for the scheduler");
		return;
	}
	char runtime[256];
	sched_rt_mechanism(runtime, sizeof(runtime));
	size_t at = append(text, size, 0,
			   "fibers on worker threads: hand-written x86-64 switch (callee-saved registers + rsp)");
#if defined(SCHED_ASAN)
	at = append(text, size, at, ", ASan fiber annotations");
#elif defined(SCHED_TSAN)
	at = append(text, size, at, ", TSan fiber annotations");
#endif
	at = append(text, size, at, "; ");
	append(text, size, at, runtime);
}
