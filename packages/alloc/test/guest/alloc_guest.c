/*
 * alloc_guest.c - entry points of alloc's test guest image: the C core on the guest runtime (one
 * cache slot per vCPU, memory from the guest kernel), driven by test/guest.test.ts.
 */
#include "dbos/alloc.h"
#include "dbos/guest_kernel.h"

/*
 * A pool of a0 bytes; a1 rounds of an allocation of each size from 1 to a2 bytes (step a3), each
 * written end to end and freed; then the invariant walk.  0, or the first failing status.
 */
DBOS_GUEST_ENTRY(alloc_churn)
{
	struct dbos_alloc_config config = { .limit_bytes = a0, .flags = DBOS_ALLOC_POOL_POPULATE };
	dbos_alloc_pool *pool = 0;
	dbos_status status = dbos_alloc_pool_create(&config, &pool);
	if (status != DBOS_OK)
		return status;
	for (uint64_t round = 0; round < a1 && status == DBOS_OK; round++) {
		for (uint64_t size = 1; size <= a2 && status == DBOS_OK; size += a3) {
			void *address = 0;
			status = dbos_alloc(pool, size, DBOS_ALLOC_ZERO, &address);
			if (status != DBOS_OK)
				break;
			volatile uint8_t *bytes = address;
			if (bytes[0] != 0 || bytes[size - 1] != 0)
				status = DBOS_ECORRUPT;
			bytes[0] = (uint8_t)round;
			bytes[size - 1] = (uint8_t)size;
			dbos_status freed = dbos_alloc_free(pool, address, size);
			if (status == DBOS_OK)
				status = freed;
		}
	}
	if (status == DBOS_OK)
		status = dbos_alloc_pool_check(pool);
	dbos_alloc_pool_destroy(pool);
	return status;
}

/* dbos_alloc of a0 bytes from a pool of a1: the status (DBOS_ENOMEM past the pool). */
DBOS_GUEST_ENTRY(alloc_limit)
{
	(void)a2;
	(void)a3;
	struct dbos_alloc_config config = { .limit_bytes = a1 };
	dbos_alloc_pool *pool = 0;
	dbos_status status = dbos_alloc_pool_create(&config, &pool);
	if (status != DBOS_OK)
		return status;
	void *address = 0;
	status = dbos_alloc(pool, a0, 0, &address);
	dbos_alloc_pool_destroy(pool);
	return status;
}
