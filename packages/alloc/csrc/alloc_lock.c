/* alloc_lock.c - the allocator's spin lock: held for a handful of list operations only. */
#include "alloc_internal.h"

void alloc_lock_acquire(alloc_lock *lock)
{
	/* Test-and-test-and-set: spin on a plain load, yield after a bounded spin so a
	 * preempted holder on a 2-CPU machine gets to run. */
	for (;;) {
		if (atomic_exchange_explicit(&lock->word, 1, memory_order_acquire) == 0)
			return;
		uint32_t spins = 0;
		while (atomic_load_explicit(&lock->word, memory_order_relaxed) != 0) {
			if (++spins < ALLOC_SPIN_LIMIT) {
				dbos_platform_relax();
			} else {
				dbos_platform_yield();
				spins = 0;
			}
		}
	}
}

void alloc_lock_release(alloc_lock *lock)
{
	DBOS_ASSERT(atomic_load_explicit(&lock->word, memory_order_relaxed) == 1);
	atomic_store_explicit(&lock->word, 0, memory_order_release);
}
