/*
 * sched_wait.c - parking tasks on 32-bit words, with timeouts and
 * cancellation.
 *
 * Waiting tasks hang in a process-wide table of buckets hashed by word
 * address (a word may be waited on by tasks of several schedulers and woken
 * by any thread).  Three parties may end a wait: a waker (holding the
 * bucket's lock), the timeout and a cancel (holding the task's sched->lock).
 * They race with one compare-and-swap on task->wait_state; the winner makes
 * the task runnable.  A task that resumes still linked in its bucket (timed
 * out, cancelled) unlinks itself.
 *
 * The parking task holds its bucket lock across the switch; the worker
 * releases it after recording the park, so no waker can see a task whose
 * registers are not saved yet.
 */
#include "sched_internal.h"

#define BUCKET_COUNT 256u

struct wait_bucket {
	struct sched_lock lock;
	struct dbos_task *head;
} __attribute__((aligned(DBOS_CACHE_LINE_SIZE)));

static struct wait_bucket buckets[BUCKET_COUNT];

static struct wait_bucket *bucket_of(const uint32_t *word)
{
	uint64_t key = (uint64_t)(uintptr_t)word >> 2;
	key *= 0x9e3779b97f4a7c15ull;
	return &buckets[key >> 56];
}

static void bucket_link(struct wait_bucket *bucket, struct dbos_task *task)
{
	task->bucket_prev = NULL;
	task->bucket_next = bucket->head;
	if (bucket->head)
		bucket->head->bucket_prev = task;
	bucket->head = task;
	task->in_bucket = true;
}

static void bucket_unlink(struct wait_bucket *bucket, struct dbos_task *task)
{
	if (task->bucket_prev)
		task->bucket_prev->bucket_next = task->bucket_next;
	else
		bucket->head = task->bucket_next;
	if (task->bucket_next)
		task->bucket_next->bucket_prev = task->bucket_prev;
	task->bucket_next = task->bucket_prev = NULL;
	task->in_bucket = false;
}

/* ---- The timed list (under sched->lock) ---------------------------------------------- */

static void timed_insert(struct dbos_sched *sched, struct dbos_task *task)
{
	struct dbos_task **link = &sched->timed;
	struct dbos_task *prev = NULL;
	while (*link && (*link)->wait_deadline_ns <= task->wait_deadline_ns) {
		prev = *link;
		link = &(*link)->timed_next;
	}
	task->timed_next = *link;
	task->timed_prev = prev;
	if (*link)
		(*link)->timed_prev = task;
	*link = task;
	task->in_timed = true;
}

void sched_timed_remove(struct dbos_sched *sched, struct dbos_task *task)
{
	if (!task->in_timed)
		return;
	if (task->timed_prev)
		task->timed_prev->timed_next = task->timed_next;
	else
		sched->timed = task->timed_next;
	if (task->timed_next)
		task->timed_next->timed_prev = task->timed_prev;
	task->timed_next = task->timed_prev = NULL;
	task->in_timed = false;
}

/* Under sched->lock: end a parked task's wait if nobody else did; true when this call did. */
bool sched_wait_end(struct dbos_sched *sched, struct dbos_task *task, enum sched_wait_state how, uint64_t now_ns,
		    struct dbos_task **finished)
{
	(void)finished;
	if (task->state != SCHED_TASK_PARKED)
		return false;
	uint32_t expected = SCHED_WAIT_WAITING;
	if (!__atomic_compare_exchange_n(&task->wait_state, &expected, how, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return false;
	sched_timed_remove(sched, task);
	sched->parked--;
	sched_queue_push(sched, task, now_ns);
	return true;
}

void sched_timed_expire(struct dbos_sched *sched, uint64_t now_ns, struct dbos_task **finished)
{
	while (sched->timed && sched->timed->wait_deadline_ns <= now_ns) {
		struct dbos_task *task = sched->timed;
		if (!sched_wait_end(sched, task, SCHED_WAIT_TIMEDOUT, now_ns, finished))
			sched_timed_remove(sched, task);
	}
}

/* Worker, under sched->lock, the task's bucket lock held: the task is saved and parked now. */
void sched_park_recorded(struct sched_worker *worker, struct dbos_task *task, uint64_t now_ns,
			 struct dbos_task **finished)
{
	struct dbos_sched *sched = worker->sched;
	task->state = SCHED_TASK_PARKED;
	sched->parked++;
	if (task->wait_io)
		sched->io_waits++;
	else
		sched->waits++;
	/* A cancel that came while the task was on its way here found it RUNNING and left it to us. */
	if (!task->wait_io && __atomic_load_n(&task->cancel, __ATOMIC_ACQUIRE)) {
		sched_wait_end(sched, task, SCHED_WAIT_CANCELLED, now_ns, finished);
		return;
	}
	if (task->wait_deadline_ns != UINT64_MAX) {
		if (task->wait_deadline_ns <= now_ns)
			sched_wait_end(sched, task, SCHED_WAIT_TIMEDOUT, now_ns, finished);
		else
			timed_insert(sched, task);
		/* An idle worker sleeps until the old earliest timeout: it must learn of the new one. */
		if (sched->timed == task && sched->idle_count > 0)
			sched_wake_idle(sched);
	}
}

/* ---- Parking and waking ------------------------------------------------------------------ */

/* Park the running task (in_scheduler set by the caller). */
static dbos_status park(struct dbos_task *task, const uint32_t *word, uint32_t expected, uint64_t timeout_ns, bool io)
{
	if (!io && __atomic_load_n(&task->cancel, __ATOMIC_ACQUIRE))
		return DBOS_ECLOSED;
	uint64_t deadline = UINT64_MAX;
	if (timeout_ns != UINT64_MAX) {
		uint64_t now = dbos_platform_now_ns();
		deadline = timeout_ns > UINT64_MAX - 1 - now ? UINT64_MAX - 1 : now + timeout_ns;
	}
	struct wait_bucket *bucket = bucket_of(word);
	sched_lock_acquire(&bucket->lock);
	if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != expected) {
		sched_lock_release(&bucket->lock);
		return DBOS_OK;
	}
	task->wait_word = word;
	task->wait_io = io;
	task->wait_deadline_ns = deadline;
	__atomic_store_n(&task->wait_state, SCHED_WAIT_WAITING, __ATOMIC_RELAXED);
	bucket_link(bucket, task);
	sched_task_switch_out(task, SCHED_AFTER_PARK, SCHED_PREEMPT_SAFEPOINT, &bucket->lock);

	/* Resumed, maybe on another worker: whoever ended the wait said how. */
	sched_lock_acquire(&bucket->lock);
	if (task->in_bucket)
		bucket_unlink(bucket, task);
	sched_lock_release(&bucket->lock);
	uint32_t how = __atomic_exchange_n(&task->wait_state, SCHED_WAIT_NONE, __ATOMIC_ACQ_REL);
	task->wait_word = NULL;
	switch (how) {
	case SCHED_WAIT_WOKEN: return DBOS_OK;
	case SCHED_WAIT_TIMEDOUT: return DBOS_ETIMEDOUT;
	case SCHED_WAIT_CANCELLED: return DBOS_ECLOSED;
	default: dbos_platform_panic(__FILE__, __LINE__, "a parked task resumed with no wake-up");
	}
}

dbos_status sched_park_io(const uint32_t *word, uint32_t expected)
{
	struct dbos_task *task = sched_current_task();
	DBOS_ASSERT(task);
	__atomic_store_n(&task->in_scheduler, 1, __ATOMIC_RELAXED);
	/* Cancellation does not end an I/O wait (task->wait_io): the buffers must outlive the I/O. */
	dbos_status status = park(task, word, expected, UINT64_MAX, true);
	__atomic_store_n(&task->in_scheduler, 0, __ATOMIC_RELAXED);
	return status;
}

dbos_status dbos_sched_wait_word(const uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
	if (!word || ((uintptr_t)word & 3u))
		return DBOS_EINVAL;
	struct dbos_task *task = sched_current_task();
	if (!task || __atomic_load_n(&task->in_scheduler, __ATOMIC_RELAXED))
		return dbos_platform_wait(word, expected, timeout_ns);
	__atomic_store_n(&task->in_scheduler, 1, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	dbos_status status = park(task, word, expected, timeout_ns, false);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&task->in_scheduler, 0, __ATOMIC_RELAXED);
	return status;
}

/* Under the bucket's lock: make up to `count` tasks parked on `word` runnable. */
static void wake_tasks_locked(struct wait_bucket *bucket, const uint32_t *word, uint32_t count)
{
	uint32_t woken = 0;
	struct dbos_task *task = bucket->head;
	while (task && woken < count) {
		struct dbos_task *next = task->bucket_next;
		if (task->wait_word == word) {
			bucket_unlink(bucket, task);
			struct dbos_sched *sched = task->sched;
			sched_lock_acquire(&sched->lock);
			if (sched_wait_end(sched, task, SCHED_WAIT_WOKEN, dbos_platform_now_ns(), NULL))
				woken++;
			sched_lock_release(&sched->lock);
		}
		task = next;
	}
}

void sched_wake_tasks(const uint32_t *word, uint32_t count)
{
	struct wait_bucket *bucket = bucket_of(word);
	sched_lock_acquire(&bucket->lock);
	wake_tasks_locked(bucket, word, count);
	sched_lock_release(&bucket->lock);
}

void dbos_sched_wake_word(const uint32_t *word, uint32_t count)
{
	if (!word || count == 0)
		return;
	struct wait_bucket *bucket = bucket_of(word);
	sched_lock_acquire(&bucket->lock);
	wake_tasks_locked(bucket, word, count);
	sched_lock_release(&bucket->lock);
	/* Threads that wait outside any task sleep in dbos_platform_wait on the same word. */
	dbos_platform_wake(word, count);
}

/*
 * Store and wake under the bucket's lock, for a word that lives on a parked
 * task's stack: the task re-checks the word under the same lock, so it
 * cannot return (and its stack frame end) until this is done with the word.
 */
void sched_store_and_wake(uint32_t *word, uint32_t value)
{
	struct wait_bucket *bucket = bucket_of(word);
	sched_lock_acquire(&bucket->lock);
	__atomic_store_n(word, value, __ATOMIC_RELEASE);
	wake_tasks_locked(bucket, word, UINT32_MAX);
	sched_lock_release(&bucket->lock);
}
