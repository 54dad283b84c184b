/*
 * sched_queue.c - run queues: one FIFO per priority class, and the choice of
 * the next task (priority, then aging).  Everything here runs under
 * sched->lock.
 *
 * Aging: the head of a lower class that has waited longer than aging_ns
 * runs before any higher class.  Heads are the longest waiters of their
 * class, so looking at heads is enough, and a steady flood of latency tasks
 * delays a background task by at most aging_ns plus a quantum.
 */
#include "sched_internal.h"

void sched_queue_push(struct dbos_sched *sched, struct dbos_task *task, uint64_t now_ns)
{
	struct sched_queue *queue = &sched->queues[task->priority];
	task->state = SCHED_TASK_QUEUED;
	task->queued_ns = now_ns;
	task->queue_next = NULL;
	task->queue_prev = queue->tail;
	if (queue->tail)
		queue->tail->queue_next = task;
	else
		queue->head = task;
	queue->tail = task;
	queue->length++;
	if (sched->idle_count > 0) {
		/* One idle worker is enough for one task. */
		__atomic_fetch_add(&sched->idle_seq, 1, __ATOMIC_RELEASE);
		dbos_platform_wake(&sched->idle_seq, 1);
	}
}

void sched_queue_remove(struct dbos_sched *sched, struct dbos_task *task)
{
	struct sched_queue *queue = &sched->queues[task->priority];
	DBOS_ASSERT(task->state == SCHED_TASK_QUEUED && queue->length > 0);
	if (task->queue_prev)
		task->queue_prev->queue_next = task->queue_next;
	else
		queue->head = task->queue_next;
	if (task->queue_next)
		task->queue_next->queue_prev = task->queue_prev;
	else
		queue->tail = task->queue_prev;
	task->queue_next = task->queue_prev = NULL;
	queue->length--;
}

/*
 * The task that should run next, or NULL.  With `take` it leaves its queue
 * (the caller runs it); without, the caller only asks whether one exists.
 */
struct dbos_task *sched_queue_pick(struct dbos_sched *sched, uint64_t now_ns, bool take)
{
	struct dbos_task *chosen = NULL;
	/* Aged heads first, the lowest class first: it is the one that starves. */
	for (int priority = DBOS_SCHED_PRIORITY_COUNT - 1; priority > DBOS_SCHED_LATENCY && !chosen; priority--) {
		struct dbos_task *head = sched->queues[priority].head;
		if (head && now_ns - head->queued_ns >= sched->aging_ns) {
			chosen = head;
			if (take)
				sched->aged++;
		}
	}
	for (int priority = 0; priority < DBOS_SCHED_PRIORITY_COUNT && !chosen; priority++)
		chosen = sched->queues[priority].head;
	if (chosen && take)
		sched_queue_remove(sched, chosen);
	return chosen;
}

void sched_live_add(struct dbos_sched *sched, struct dbos_task *task)
{
	task->live_prev = NULL;
	task->live_next = sched->live;
	if (sched->live)
		sched->live->live_prev = task;
	sched->live = task;
	sched->live_count++;
}

void sched_live_remove(struct dbos_sched *sched, struct dbos_task *task)
{
	if (task->live_prev)
		task->live_prev->live_next = task->live_next;
	else
		sched->live = task->live_next;
	if (task->live_next)
		task->live_next->live_prev = task->live_prev;
	task->live_next = task->live_prev = NULL;
	DBOS_ASSERT(sched->live_count > 0);
	sched->live_count--;
}
