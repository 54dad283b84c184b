/*
 * hypercall.c - entry points that issue hypercalls, for the tests (every op,
 * hostile requests) and the benchmark (round trips, batches).
 */
#include "dbos/guest_kernel.h"

/*
 * One request copied from guest-physical a0 (a struct dbos_hc_request the
 * host wrote into scratch memory), served through doorbell a1 (0 sync by
 * MMIO, 1 async, 2 sync by port); returns its result.  The request is passed through unchecked:
 * the host must refuse what is wrong with it.
 */
DBOS_GUEST_ENTRY(hc_request)
{
	const struct dbos_hc_request *request = (const struct dbos_hc_request *)(uintptr_t)a0;
	int64_t result = 0;
	dbos_status status = dbos_guest_hypercall_batch(request, 1, &result, (enum dbos_guest_doorbell)(a1 % 3));
	return status == DBOS_OK ? result : -1000 - (int64_t)status;
}

/*
 * a1 requests at guest-physical a0 in one batch through doorbell a3; the
 * results go to the int64 array at guest-physical a2.  Returns 0.
 */
DBOS_GUEST_ENTRY(hc_batch)
{
	if (a1 > DBOS_HC_RING_ENTRIES)
		return -(int64_t)DBOS_EINVAL;
	const struct dbos_hc_request *requests = (const struct dbos_hc_request *)(uintptr_t)a0;
	int64_t *results = (int64_t *)(uintptr_t)a2;
	return -(int64_t)dbos_guest_hypercall_batch(requests, (uint32_t)a1, results,
						    a3 ? DBOS_GUEST_RING_ASYNC : DBOS_GUEST_RING_SYNC);
}

/*
 * a0 NOP round trips in batches of a1 (1..64) through doorbell a2 (enum
 * dbos_guest_doorbell: 0 sync by MMIO, 1 async, 2 sync by port); returns
 * elapsed guest ns.
 */
DBOS_GUEST_ENTRY(hc_nop_loop)
{
	struct dbos_hc_request requests[DBOS_HC_RING_ENTRIES];
	int64_t results[DBOS_HC_RING_ENTRIES];
	uint32_t batch = (uint32_t)(a1 == 0 ? 1 : a1 > DBOS_HC_RING_ENTRIES ? DBOS_HC_RING_ENTRIES : a1);
	__builtin_memset(requests, 0, sizeof(requests));
	uint64_t start = dbos_platform_now_ns();
	for (uint64_t done = 0; done < a0; done += batch)
		dbos_guest_hypercall_batch(requests, batch, results, (enum dbos_guest_doorbell)(a2 % 3));
	return (int64_t)(dbos_platform_now_ns() - start);
}

/*
 * An async NOP that asks for the completion interrupt (irqfd + MSI); spins
 * with interrupts on until it arrives.  Returns interrupts received (1).
 */
DBOS_GUEST_ENTRY(hc_completion_irq)
{
	volatile uint64_t *irqs = &dbos_guest_cpu_self()->completion_irqs;
	uint64_t before = *irqs;
	struct dbos_hc_request request = { .op = DBOS_HC_NOP, .flags = DBOS_HC_FLAG_INTERRUPT };
	int64_t result;
	dbos_guest_hypercall_batch(&request, 1, &result, DBOS_GUEST_RING_ASYNC);
	uint64_t start = dbos_platform_now_ns();
	while (*irqs == before && dbos_platform_now_ns() - start < a0)
		dbos_platform_relax();
	return (int64_t)(*irqs - before);
}

/* dbos_platform_wait on the u32 at guest-physical a0 while it equals a1, a2 ns at most. */
DBOS_GUEST_ENTRY(wait_word)
{
	return -(int64_t)dbos_platform_wait((const uint32_t *)(uintptr_t)a0, (uint32_t)a1, a2);
}

/* Store a1 into the u32 at guest-physical a0, then wake its waiters. */
DBOS_GUEST_ENTRY(store_wake_word)
{
	uint32_t *word = (uint32_t *)(uintptr_t)a0;
	__atomic_store_n(word, (uint32_t)a1, __ATOMIC_RELEASE);
	dbos_platform_wake(word, UINT32_MAX);
	return 0;
}

/* Log a message through dbos_platform_log. */
DBOS_GUEST_ENTRY(log_hello)
{
	dbos_platform_log(DBOS_LOG_INFO, "hello from the dbos guest");
	return 0;
}

/*
 * Corrupt the ring (sq_tail far beyond sq_head) and ring the sync doorbell:
 * the host must stop this guest with DBOS_EGUEST, not serve garbage.
 */
DBOS_GUEST_ENTRY(hostile_ring)
{
	struct dbos_hc_ring *ring =
		(struct dbos_hc_ring *)((uintptr_t)dbos_guest_cpu_self() + DBOS_GUEST_CPU_RING_OFFSET);
	ring->sq_tail = ring->sq_head + 1000;
	*(volatile uint32_t *)(uintptr_t)(DBOS_GUEST_MMIO_GPA + DBOS_GUEST_DOORBELL_SYNC) = 1;
	return 0;
}
