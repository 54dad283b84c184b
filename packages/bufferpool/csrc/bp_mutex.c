/*
 * bp_mutex.c - a three-state futex mutex for the pool's cold paths
 * (allocation, eviction, flush, the error record): uncontended it is one
 * CAS each way; contended, sleepers park on the word.
 */
#include "bp_internal.h"

bool bp_mutex_trylock(bp_mutex *mutex)
{
	uint32_t expected = 0;
	return atomic_compare_exchange_strong_explicit(&mutex->word, &expected, 1, memory_order_acquire,
						       memory_order_relaxed);
}

void bp_mutex_lock(bp_mutex *mutex)
{
	if (bp_mutex_trylock(mutex))
		return;
	/* Mark the mutex contended, then sleep until an unlock finds it free for us. */
	while (atomic_exchange_explicit(&mutex->word, 2, memory_order_acquire) != 0)
		dbos_platform_wait((const uint32_t *)&mutex->word, 2, UINT64_MAX);
}

void bp_mutex_unlock(bp_mutex *mutex)
{
	if (atomic_exchange_explicit(&mutex->word, 0, memory_order_release) == 2)
		dbos_platform_wake((const uint32_t *)&mutex->word, 1);
}
