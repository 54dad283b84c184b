/*
 * platform.c - dbos/platform.h inside the guest, exercised the way a C core
 * uses it.  Returns 0 when every step held, else -(number of the failed step).
 */
#include "dbos/guest_kernel.h"

#define STEP(n, cond)                  \
	do {                           \
		if (!(cond))           \
			return -(n);   \
	} while (0)

DBOS_GUEST_ENTRY(platform_selftest)
{
	STEP(1, dbos_platform_runtime() == DBOS_RUNTIME_GUEST);
	void *region = 0;
	size_t size = 64 * DBOS_PAGE_SIZE;
	STEP(2, dbos_platform_reserve(size, DBOS_HUGE_PAGE_SIZE, &region) == DBOS_OK);
	STEP(3, DBOS_IS_ALIGNED((uintptr_t)region, DBOS_HUGE_PAGE_SIZE));
	STEP(4, dbos_guest_pte_query((uint64_t)(uintptr_t)region) == 0); /* reserved: nothing mapped */
	STEP(5, dbos_platform_commit(region, 4 * DBOS_PAGE_SIZE, DBOS_PROT_READ_WRITE) == DBOS_OK);
	uint64_t *words = region;
	STEP(6, words[0] == 0 && words[3 * 512 + 511] == 0); /* committed memory reads as zeros */
	words[5] = 42;
	STEP(7, dbos_guest_pte_query((uint64_t)(uintptr_t)region) & DBOS_PTE_DIRTY);
	STEP(8, dbos_platform_advise(region, DBOS_PAGE_SIZE, DBOS_ADVICE_DISCARD) == DBOS_OK && words[5] == 0);
	STEP(9, dbos_platform_protect(region, DBOS_PAGE_SIZE, DBOS_PROT_READ) == DBOS_OK);
	STEP(10, !(dbos_guest_pte_query((uint64_t)(uintptr_t)region) & DBOS_PTE_WRITE));
	STEP(11, dbos_platform_decommit(region, 4 * DBOS_PAGE_SIZE) == DBOS_OK);
	STEP(12, !(dbos_guest_pte_query((uint64_t)(uintptr_t)region) & DBOS_PTE_PRESENT));
	STEP(13, dbos_platform_unreserve(region, size) == DBOS_OK);
	uint8_t *block = dbos_platform_alloc(10000);
	STEP(14, block != 0 && block[9999] == 0);
	block[9999] = 1;
	dbos_platform_free(block, 10000);
	uint64_t t0 = dbos_platform_now_ns();
	uint64_t t1 = dbos_platform_now_ns();
	STEP(15, t0 > 0 && t1 >= t0);
	STEP(16, dbos_platform_cpu_id() < dbos_platform_cpu_count());
	uint32_t word = 7;
	STEP(17, dbos_platform_wait(&word, 8, UINT64_MAX) == DBOS_OK); /* no longer matches: returns */
	STEP(18, dbos_platform_wait(&word, 7, 1000000) == DBOS_ETIMEDOUT);
	dbos_thread *thread = 0;
	STEP(19, dbos_platform_thread_start(0, 0, &thread) == DBOS_ENOTSUP);
	STEP(20, dbos_platform_reserve(size, 3 * DBOS_PAGE_SIZE, &region) == DBOS_EINVAL);
	return 0;
}
