/*
 * sched_io.c - gateway I/O from a task: submit the batch, park the fiber,
 * and let the batch's completion wake it.  The worker runs other tasks
 * meanwhile; outside a task the thread simply waits on the gateway.
 */
#include "dbos/hypercall.h"
#include "sched_internal.h"

/* Runs on whichever thread completes the batch (a gateway thread, or the submitter inline). */
static void io_complete(dbos_io_batch *batch)
{
	sched_store_and_wake(batch->context, 1);
}

dbos_status dbos_sched_io(dbos_gateway *gateway, dbos_io_batch *batch)
{
	if (!gateway || !batch || batch->on_complete || batch->context)
		return DBOS_EINVAL;
	if (!dbos_sched_in_task()) {
		dbos_status status = dbos_gateway_submit(gateway, batch);
		if (status != DBOS_OK)
			return status;
		while (dbos_gateway_wait(gateway, batch, UINT64_MAX) != DBOS_OK) {
		}
		return DBOS_OK;
	}
	uint32_t done = 0;
	batch->on_complete = io_complete;
	batch->context = &done;
	dbos_status status = dbos_gateway_submit(gateway, batch);
	if (status == DBOS_OK) {
		while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE))
			sched_park_io(&done, 0);
	}
	/* Complete (or never submitted): the batch is the caller's again. */
	batch->on_complete = NULL;
	batch->context = NULL;
	return status;
}
