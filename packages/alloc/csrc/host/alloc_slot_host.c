/*
 * alloc_slot_host.c - the host's cache-slot hook: one slot per thread.
 *
 * A thread takes the lowest free slot number on its first allocation and
 * gives it back when it exits (a pthread key destructor), so a later thread
 * inherits the slot and the free objects still cached in it.  The guest
 * runtime implements the same hook with the vCPU number.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "../alloc_internal.h"

#define SLOT_WORDS (ALLOC_SLOT_COUNT_MAX / 64)
#define SLOT_NONE_ASSIGNED UINT32_MAX /* the thread asked and got none, or has exited */

static _Atomic uint64_t slot_used[SLOT_WORDS];
static _Thread_local uint32_t slot_plus_one; /* 0: not asked yet */
static pthread_key_t slot_key;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;

static void slot_release(void *value)
{
	uint32_t index = (uint32_t)(uintptr_t)value - 1;
	DBOS_ASSERT(index < ALLOC_SLOT_COUNT_MAX);
	/* Later allocations in other destructors of this thread use the shared path. */
	slot_plus_one = SLOT_NONE_ASSIGNED;
	atomic_fetch_and_explicit(&slot_used[index / 64], ~((uint64_t)1 << (index % 64)), memory_order_release);
}

static void slot_key_create(void)
{
	int error = pthread_key_create(&slot_key, slot_release);
	DBOS_ASSERT(error == 0);
}

static uint32_t slot_assign(void)
{
	pthread_once(&slot_key_once, slot_key_create);
	for (uint32_t word = 0; word < SLOT_WORDS; word++) {
		uint64_t used = atomic_load_explicit(&slot_used[word], memory_order_relaxed);
		while (~used != 0) {
			uint32_t bit = (uint32_t)__builtin_ctzll(~used);
			if (atomic_compare_exchange_weak_explicit(&slot_used[word], &used, used | ((uint64_t)1 << bit),
								  memory_order_acquire, memory_order_relaxed)) {
				uint32_t index = word * 64 + bit;
				slot_plus_one = index + 1;
				pthread_setspecific(slot_key, (void *)(uintptr_t)(index + 1));
				return index;
			}
		}
	}
	slot_plus_one = SLOT_NONE_ASSIGNED;
	return UINT32_MAX;
}

uint32_t dbos_alloc_slot_current(void)
{
	uint32_t value = slot_plus_one;
	if (__builtin_expect(value != 0, 1))
		return value == SLOT_NONE_ASSIGNED ? UINT32_MAX : value - 1;
	return slot_assign();
}
