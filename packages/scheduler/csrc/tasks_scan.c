/*
 * tasks_scan.c - one scan over the workers' slots: time turns, raise yield flags.
 *
 * Pure over its arguments (no clock, no thread): the timer thread calls it
 * with the time, so the decision is easy to read in one place.
 */
#include "tasks_internal.h"

#include "dbos/platform.h"

static uint32_t word_load(const uint32_t *word)
{
	return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}

static void word_store(uint32_t *word, uint32_t value)
{
	__atomic_store_n(word, value, __ATOMIC_RELEASE);
}

/* The more urgent of two classes; anything out of range reads as "none waits". */
static uint32_t class_min(uint32_t a, uint32_t b)
{
	if (a > DBOS_TASKS_CLASS_NONE)
		a = DBOS_TASKS_CLASS_NONE;
	if (b > DBOS_TASKS_CLASS_NONE)
		b = DBOS_TASKS_CLASS_NONE;
	return a < b ? a : b;
}

/* Returns true when the slot's turn runs (its epoch is odd). */
static bool scan_slot(uint32_t *slot, struct tasks_view *view, uint32_t waiting_best, uint64_t now_ns,
		      uint64_t quantum_ns, uint32_t *yields_raised)
{
	uint32_t epoch = word_load(&slot[DBOS_TASKS_SLOT_EPOCH]);
	if (!view->seen || epoch != view->epoch) {
		view->seen = 1;
		view->epoch = epoch;
		view->since_ns = now_ns;
	}
	if ((epoch & 1) == 0)
		return false;
	DBOS_ASSERT(now_ns >= view->since_ns);
	uint64_t ran_ns = now_ns - view->since_ns;
	uint64_t ran_us = ran_ns / 1000;
	/* RAN_US first, then RAN_EPOCH: a reader that sees this epoch sees this turn's time or a later one. */
	word_store(&slot[DBOS_TASKS_SLOT_RAN_US], ran_us > UINT32_MAX ? UINT32_MAX : (uint32_t)ran_us);
	word_store(&slot[DBOS_TASKS_SLOT_RAN_EPOCH], epoch);
	if (ran_ns < quantum_ns)
		return true;
	uint32_t running_class = word_load(&slot[DBOS_TASKS_SLOT_CLASS]);
	uint32_t waiting = class_min(waiting_best, word_load(&slot[DBOS_TASKS_SLOT_SUSPENDED_BEST]));
	if (waiting > running_class || waiting == DBOS_TASKS_CLASS_NONE)
		return true;
	/* The flag names the turn: a flag raised for a turn that just ended never stops the next one. */
	if (word_load(&slot[DBOS_TASKS_SLOT_YIELD]) == epoch)
		return true;
	word_store(&slot[DBOS_TASKS_SLOT_YIELD], epoch);
	(*yields_raised)++;
	return true;
}

struct tasks_scan_result tasks_scan(uint32_t *words, uint32_t slot_count, struct tasks_view *views, uint64_t now_ns,
				    uint64_t quantum_ns)
{
	DBOS_ASSERT(words != NULL && views != NULL);
	DBOS_ASSERT(slot_count > 0 && slot_count <= DBOS_TASKS_SLOT_COUNT_MAX);
	DBOS_ASSERT(quantum_ns > 0);
	struct tasks_scan_result result = { 0, 0 };
	uint32_t waiting_best = word_load(&words[DBOS_TASKS_WAITING_BEST]);
	for (uint32_t index = 0; index < slot_count; index++) {
		uint32_t *slot = words + DBOS_TASKS_HEADER_WORDS + (size_t)index * DBOS_TASKS_SLOT_WORDS;
		if (scan_slot(slot, &views[index], waiting_best, now_ns, quantum_ns, &result.yields_raised))
			result.running++;
	}
	DBOS_ASSERT(result.running <= slot_count && result.yields_raised <= result.running);
	return result;
}
