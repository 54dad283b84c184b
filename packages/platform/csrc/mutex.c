/*
 * mutex.c - dbos_mutex over the platform's wait/wake (dbos/platform.h).
 *
 * The three-state futex lock: 0 free, 1 held, 2 held with possible sleepers.  A
 * contended locker sets 2 before sleeping, so an unlock that swaps out 1 knows nobody
 * sleeps and skips the wake (a system call on the host, a hypercall in the guest).
 */
#include "dbos/platform.h"

bool dbos_mutex_try_lock(dbos_mutex *mutex)
{
	uint32_t expected = 0;
	return __atomic_compare_exchange_n(&mutex->state, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

void dbos_mutex_lock(dbos_mutex *mutex)
{
	if (dbos_mutex_try_lock(mutex))
		return;
	while (__atomic_exchange_n(&mutex->state, 2, __ATOMIC_ACQUIRE) != 0)
		dbos_platform_wait(&mutex->state, 2, UINT64_MAX);
}

void dbos_mutex_unlock(dbos_mutex *mutex)
{
	uint32_t previous = __atomic_exchange_n(&mutex->state, 0, __ATOMIC_RELEASE);
	if (previous == 0)
		dbos_platform_panic(__FILE__, __LINE__, "dbos_mutex_unlock of a mutex nobody holds");
	if (previous == 2)
		dbos_platform_wake(&mutex->state, 1);
}
