/*
 * bench.h - the scheduler benchmark's shared pieces: tasks, calibrated busy
 * work, the clock, and the table of systems under test (bench/sched_bench.c
 * drives them; bench/run.ts builds and runs the executable).
 *
 * Every system runs the same task objects: a short task is SHORT_UNITS units
 * of busy work with no yield point, a scan is many units with the system's
 * safe point between units.  A task's latency is its completion time minus its
 * scheduled arrival time (not the time the dispatcher got round to submitting
 * it), so a late dispatcher counts against the system, never for it.
 */
#ifndef DBOS_SCHED_BENCH_H
#define DBOS_SCHED_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One unit of busy work lasts WORK_UNIT_US of CPU time; scans yield between units. */
#define WORK_UNIT_US 2

enum task_kind {
	TASK_SHORT,
	TASK_SCAN,
};

struct task {
	uint64_t arrival_ns;         /* scheduled arrival, CLOCK_MONOTONIC */
	uint64_t submitted_ns;       /* when the dispatcher handed it over */
	_Atomic uint64_t done_ns;    /* completion (or stop, for a scan cut short); 0 while pending */
	_Atomic uint32_t units_done; /* units finished so far: work counted while it runs */
	uint32_t units;              /* units it asks for */
	enum task_kind kind;
	struct task *next;      /* the pools' queue link */
	void *handle;           /* the system's own record of it */
} __attribute__((aligned(64))); /* one line each: executors never share a line */

/* What a system gets to know about the run. */
struct bench_config {
	uint32_t workers;
	uint64_t quantum_us; /* 0 for the systems without one */
};

/*
 * A system under test.  start() returns NULL when it runs, else one sentence
 * saying why it cannot (the run reports "not run" with that sentence).
 * submit() may be called from the dispatcher and from inside a running task
 * (scans resubmit themselves in the steady scenario).  drain() returns once
 * every worker is gone; bench_stopping() is true by then.
 */
struct bench_system {
	const char *name;
	const char *(*start)(const struct bench_config *config);
	void (*submit)(struct task *task);
	void (*drain)(void);
	/* Extra JSON members for the result line ("" or ",\"key\":value..."). */
	void (*report)(FILE *out);
};

extern const struct bench_system fifo_system;
extern const struct bench_system linux_idle_system;
extern const struct bench_system linux_nice_system;
extern const struct bench_system cooperative_system;
extern const struct bench_system dbos_system;             /* safe points between units */
extern const struct bench_system dbos_preemptible_system; /* scans in a preemptible section */

/* An intrusive FIFO of tasks; callers hold their own lock. */
struct task_queue {
	struct task *head;
	struct task *tail;
};

static inline void task_queue_push(struct task_queue *queue, struct task *task)
{
	task->next = NULL;
	if (queue->tail)
		queue->tail->next = task;
	else
		queue->head = task;
	queue->tail = task;
}

static inline struct task *task_queue_pop(struct task_queue *queue)
{
	struct task *task = queue->head;
	if (task) {
		queue->head = task->next;
		if (!queue->head)
			queue->tail = NULL;
	}
	return task;
}

/* work.c */
uint64_t clock_ns(void);
/* Iterations of the spin loop per microsecond of this thread's CPU time. */
double work_calibrate(void);
void work_set_iterations_per_unit(uint64_t iterations);
/*
 * Run `task` to completion: task_work then task_finish.  `safe_point` (or
 * NULL) is called between a scan's units.  task_work is pure computation plus
 * relaxed atomics (it may run where any instruction can be interrupted and
 * resumed on another thread); task_finish records the completion and may
 * submit a successor (locks).
 */
void task_run(struct task *task, void (*safe_point)(void));
void task_work(struct task *task, void (*safe_point)(void));
void task_finish(struct task *task);

/* sched_bench.c: the run's state that systems consult. */
bool bench_stopping(void);
/* A scan finished: in the steady scenario its successor is submitted (from the caller's thread). */
void bench_task_finished(struct task *task);

#endif
