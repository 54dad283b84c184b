/*
 * tasks_timer.c - the thread that scans the JavaScript workers' slots every half quantum.
 *
 * One futex word, `control`, carries both requests (ACTIVE, STOP).  The
 * thread always sleeps on it with the value it last read, so a change made
 * between its check and its sleep makes the sleep return at once: no wake-up
 * is lost, whether it sleeps a scan period (active) or until told (inactive).
 */
#include "tasks_internal.h"

#include "dbos/platform.h"

enum {
	CONTROL_ACTIVE = 1u, /* scan every period; else sleep until this changes */
	CONTROL_STOP = 2u,   /* leave the loop */
};

struct dbos_tasks_timer {
	uint32_t *words; /* the pool's shared memory: never touched after stop */
	uint32_t slot_count;
	uint64_t quantum_ns;
	uint64_t period_ns;
	uint32_t control; /* futex word: CONTROL_* bits */
	uint64_t scans;
	uint64_t yields_requested;
	dbos_thread *thread;
	size_t size; /* bytes allocated for this struct and its views */
	struct tasks_view views[];
};

static void timer_loop(void *argument)
{
	dbos_tasks_timer *timer = argument;
	for (;;) {
		uint32_t control = __atomic_load_n(&timer->control, __ATOMIC_ACQUIRE);
		if (control & CONTROL_STOP)
			return;
		if (!(control & CONTROL_ACTIVE)) {
			(void)dbos_platform_wait(&timer->control, control, UINT64_MAX);
			continue;
		}
		struct tasks_scan_result result = tasks_scan(timer->words, timer->slot_count, timer->views,
							     dbos_platform_now_ns(), timer->quantum_ns);
		__atomic_fetch_add(&timer->scans, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&timer->yields_requested, result.yields_raised, __ATOMIC_RELAXED);
		(void)dbos_platform_wait(&timer->control, control, timer->period_ns);
	}
}

dbos_status dbos_tasks_timer_start(uint32_t *words, size_t word_count, uint32_t slot_count, uint32_t quantum_us,
				   dbos_tasks_timer **timer_out)
{
	if (!words || !timer_out || !DBOS_IS_ALIGNED((uintptr_t)words, sizeof(uint32_t)))
		return DBOS_EINVAL;
	if (slot_count == 0 || slot_count > DBOS_TASKS_SLOT_COUNT_MAX || word_count < DBOS_TASKS_WORD_COUNT(slot_count))
		return DBOS_EINVAL;
	if (quantum_us < DBOS_TASKS_QUANTUM_US_MIN || quantum_us > DBOS_TASKS_QUANTUM_US_MAX)
		return DBOS_ERANGE;
	size_t size = sizeof(dbos_tasks_timer) + (size_t)slot_count * sizeof(struct tasks_view);
	dbos_tasks_timer *timer = dbos_platform_alloc(size);
	if (!timer)
		return DBOS_ENOMEM;
	timer->words = words;
	timer->slot_count = slot_count;
	timer->quantum_ns = (uint64_t)quantum_us * 1000;
	timer->period_ns = timer->quantum_ns / 2;
	timer->size = size;
	dbos_status status = dbos_platform_thread_start(timer_loop, timer, &timer->thread);
	if (status != DBOS_OK) {
		dbos_platform_free(timer, size);
		return status;
	}
	*timer_out = timer;
	return DBOS_OK;
}

void dbos_tasks_timer_activate(dbos_tasks_timer *timer, bool active)
{
	DBOS_ASSERT(timer != NULL);
	uint32_t before = active ? __atomic_fetch_or(&timer->control, CONTROL_ACTIVE, __ATOMIC_RELEASE)
				 : __atomic_fetch_and(&timer->control, ~(uint32_t)CONTROL_ACTIVE, __ATOMIC_RELEASE);
	/* Only a sleeper waiting to be activated needs waking; going inactive takes effect within a period. */
	if (active && !(before & CONTROL_ACTIVE))
		dbos_platform_wake(&timer->control, 1);
}

void dbos_tasks_timer_stats(const dbos_tasks_timer *timer, struct dbos_tasks_timer_stats *stats_out)
{
	DBOS_ASSERT(timer != NULL && stats_out != NULL);
	stats_out->scans = __atomic_load_n(&timer->scans, __ATOMIC_RELAXED);
	stats_out->yields_requested = __atomic_load_n(&timer->yields_requested, __ATOMIC_RELAXED);
}

void dbos_tasks_timer_stop(dbos_tasks_timer *timer)
{
	if (!timer)
		return;
	__atomic_fetch_or(&timer->control, CONTROL_STOP, __ATOMIC_RELEASE);
	dbos_platform_wake(&timer->control, 1);
	dbos_platform_thread_join(timer->thread); /* after this no scan can touch the words */
	dbos_platform_free(timer, timer->size);
}

/* Copies `line` into text (truncating); returns the length written. */
static size_t copy_line(char *text, size_t size, const char *line)
{
	if (!text || size == 0)
		return 0;
	size_t length = 0;
	while (line[length] && length + 1 < size) {
		text[length] = line[length];
		length++;
	}
	text[length] = '\0';
	return length;
}

size_t dbos_tasks_mechanism(char *text, size_t size)
{
	if (dbos_platform_runtime() != DBOS_RUNTIME_HOST)
		return copy_line(text, size, "JavaScript tasks: unavailable (the runtime has no threads of its own)");
	return copy_line(text, size,
			 "JavaScript tasks: worker_threads; yield flags in a SharedArrayBuffer raised by a native scan "
			 "thread every half quantum (futex-timed sleep), asleep while no task runs");
}
