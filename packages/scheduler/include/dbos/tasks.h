/*
 * dbos/tasks.h - yield flags for JavaScript tasks, raised by a native scan thread.
 *
 * @dbos/scheduler runs JavaScript tasks on a pool of worker_threads.  A task
 * that runs long while a task of equal or higher priority waits should reach
 * a yield point: it polls shouldYield(), which reads one word of shared
 * memory.  Nothing on the JavaScript side can raise that word on time (the
 * main thread may itself be busy; a message would wait for the worker's event
 * loop, which the running task occupies), so a native thread does: every half
 * quantum it scans one slot per worker and raises the flag of a worker whose
 * current turn has run a quantum while equal or higher priority work waits.
 *
 * The memory is a SharedArrayBuffer the pool allocates; the scan thread gets
 * a pointer to its backing store.  It never touches the memory after
 * dbos_tasks_timer_stop() returned (the binding keeps the buffer alive until
 * then), and every word is accessed with atomics on both sides (JavaScript
 * Atomics are sequentially consistent).
 *
 *   words: | header (16) | slot 0 (16) | slot 1 (16) | ... | slot n-1 (16) |
 *            pool writes   worker, pool and scan thread write their own words
 *
 * A turn is the stretch of a task between two yield points (start, resume,
 * yieldNow, end).  The worker adds 1 to its slot's epoch when a turn begins
 * and again when it ends, so the epoch is odd exactly while a turn runs; the
 * scan thread times a turn from the first scan that saw its epoch, so a flag
 * goes up between one quantum and one quantum plus one scan period (half a
 * quantum) after the turn began, plus the sleep's overshoot.
 *
 * Priority classes are those of dbos/scheduler.h (LATENCY 0, NORMAL 1,
 * BACKGROUND 2): a smaller number is more urgent.
 */
#ifndef DBOS_TASKS_H
#define DBOS_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/scheduler.h"
#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "No task waits": a class number larger than every class. */
#define DBOS_TASKS_CLASS_NONE ((uint32_t)DBOS_SCHED_PRIORITY_COUNT)

/* One slot per worker; as many workers as the native scheduler allows. */
#define DBOS_TASKS_SLOT_COUNT_MAX DBOS_SCHED_WORKERS_MAX

/* The quantum's range is the native scheduler's (one place for the fact). */
#define DBOS_TASKS_QUANTUM_US_MIN DBOS_SCHED_QUANTUM_US_MIN
#define DBOS_TASKS_QUANTUM_US_MAX DBOS_SCHED_QUANTUM_US_MAX
#define DBOS_TASKS_QUANTUM_US_DEFAULT DBOS_SCHED_QUANTUM_US_DEFAULT

/* Header words (32-bit), written by the pool on the JavaScript main thread. */
enum dbos_tasks_header_word {
	/* The most urgent class among tasks waiting in the pool's queues (aged
	 * tasks count as LATENCY); DBOS_TASKS_CLASS_NONE when none waits. */
	DBOS_TASKS_WAITING_BEST = 0,
	DBOS_TASKS_HEADER_WORDS = 16, /* one cache line */
};

/* Slot words (32-bit), one slot per worker, after the header. */
enum dbos_tasks_slot_word {
	DBOS_TASKS_SLOT_EPOCH = 0,          /* worker: +1 at each turn's start and end; odd while a turn runs */
	DBOS_TASKS_SLOT_CLASS = 1,          /* worker: the turn's class, stored before the epoch turns odd */
	DBOS_TASKS_SLOT_YIELD = 2,          /* scan thread: the epoch of the turn asked to yield */
	DBOS_TASKS_SLOT_SUSPENDED_BEST = 3, /* pool: the most urgent class suspended on this worker, or NONE */
	DBOS_TASKS_SLOT_RAN_EPOCH = 4,      /* scan thread: the turn RAN_US measures (stored after RAN_US) */
	DBOS_TASKS_SLOT_RAN_US = 5,         /* scan thread: how long that turn has run, microseconds (saturates) */
	DBOS_TASKS_SLOT_CANCEL = 6,         /* pool: the id of a task on this worker that was cancelled */
	DBOS_TASKS_SLOT_WORDS = 16,         /* one cache line: workers do not share lines */
};

/* 32-bit words of the memory for `slot_count` slots. */
#define DBOS_TASKS_WORD_COUNT(slot_count) \
	((size_t)DBOS_TASKS_HEADER_WORDS + (size_t)(slot_count) * (size_t)DBOS_TASKS_SLOT_WORDS)

typedef struct dbos_tasks_timer dbos_tasks_timer;

/*
 * Start the scan thread over `words` (word_count 32-bit words, 4-byte
 * aligned, at least DBOS_TASKS_WORD_COUNT(slot_count)).  The thread starts
 * inactive (asleep until dbos_tasks_timer_activate).  DBOS_EINVAL: NULL,
 * misaligned, too few words, slot_count 0 or above the maximum; DBOS_ERANGE:
 * quantum outside DBOS_TASKS_QUANTUM_US_MIN..MAX; DBOS_ENOTSUP: the runtime
 * has no threads (the guest); DBOS_ENOMEM.
 */
dbos_status dbos_tasks_timer_start(uint32_t *words, size_t word_count, uint32_t slot_count, uint32_t quantum_us,
				   dbos_tasks_timer **timer_out);

/*
 * Scan every half quantum (active) or sleep until activated (inactive): the
 * pool deactivates the thread while no task runs, so an idle pool costs no
 * wake-ups.  Any thread.
 */
void dbos_tasks_timer_activate(dbos_tasks_timer *timer, bool active);

struct dbos_tasks_timer_stats {
	uint64_t scans;            /* slot scans done */
	uint64_t yields_requested; /* flags raised (at most one per turn) */
};

void dbos_tasks_timer_stats(const dbos_tasks_timer *timer, struct dbos_tasks_timer_stats *stats_out);

/* Stop and join the thread and free the timer: `words` is never read or written after it returns. */
void dbos_tasks_timer_stop(dbos_tasks_timer *timer);

/* The scan's mechanism in one line for probe(); returns the length written (truncated to size - 1). */
size_t dbos_tasks_mechanism(char *text, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_TASKS_H */
