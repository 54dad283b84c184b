/* gateway_batch.c - op validation and batch completion, shared by every gateway backend. */
#include <stdatomic.h>

#include "dbos/hypercall.h"
#include "dbos/platform.h"

static bool op_reserved_zero(const dbos_io_op *op)
{
	return op->reserved0[0] == 0 && op->reserved0[1] == 0 && op->reserved0[2] == 0 && op->reserved1 == 0;
}

dbos_status dbos_io_op_check(const dbos_io_op *op)
{
	if (!op || !op_reserved_zero(op))
		return DBOS_EINVAL;
	/* Offsets and sizes are off_t: io_uring reads offset -1 as "the file position". */
	if (op->offset > (uint64_t)INT64_MAX)
		return DBOS_ERANGE;
	switch (op->opcode) {
	case DBOS_IO_PREAD:
	case DBOS_IO_PWRITE:
		/* A zero-length transfer may carry a NULL buffer; others may not. */
		if (op->length > 0 && op->address == 0)
			return DBOS_EINVAL;
		if (op->length > ((uint64_t)1 << 31)) /* Linux caps one transfer below 2 GiB */
			return DBOS_ERANGE;
		return DBOS_OK;
	case DBOS_IO_PREADV:
	case DBOS_IO_PWRITEV:
		if (op->length > DBOS_IO_VEC_COUNT_MAX)
			return DBOS_ERANGE;
		if (op->length > 0 && op->address == 0)
			return DBOS_EINVAL;
		return DBOS_OK;
	case DBOS_IO_FSYNC:
	case DBOS_IO_FDATASYNC:
	case DBOS_IO_CLOSE:
	case DBOS_IO_FTRUNCATE: return DBOS_OK;
	case DBOS_IO_FALLOCATE: return op->length == 0 ? DBOS_EINVAL : DBOS_OK;
	case DBOS_IO_OPENAT: return op->path == 0 ? DBOS_EINVAL : DBOS_OK;
	case DBOS_IO_STATX: return op->path == 0 || op->address == 0 ? DBOS_EINVAL : DBOS_OK;
	default: return DBOS_EINVAL;
	}
}

void dbos_io_batch_init(dbos_io_batch *batch, const dbos_io_op *ops, int64_t *results, uint32_t count)
{
	DBOS_ASSERT(batch != NULL);
	DBOS_ASSERT(count == 0 || (ops != NULL && results != NULL));
	batch->ops = ops;
	batch->results = results;
	batch->count = count;
	batch->pending = count;
	batch->next_index = 0;
	batch->reserved = 0;
	batch->on_complete = NULL;
	batch->context = NULL;
	batch->next = NULL;
}

bool dbos_io_batch_done(const dbos_io_batch *batch)
{
	return (__atomic_load_n(&batch->pending, __ATOMIC_ACQUIRE) & DBOS_IO_BATCH_PENDING_MASK) == 0;
}

bool dbos_io_batch_record(dbos_io_batch *batch, uint32_t index, int64_t result, dbos_io_complete_fn *on_complete_out)
{
	uint32_t total = batch->count; /* read now: the batch may be reused after the decrement */
	DBOS_ASSERT(index < total);
	batch->results[index] = result;
	*on_complete_out = batch->on_complete;
	/*
	 * One atomic step publishes the result (release) and tells whether a
	 * waiter sleeps: after it the batch may be reused or freed, so the
	 * WAITING bit cannot be read later.  The wake uses only the address
	 * (a stray wake on a reused word is harmless: waiters re-check).
	 */
	uint32_t before = __atomic_fetch_sub(&batch->pending, 1, __ATOMIC_SEQ_CST);
	uint32_t count = before & DBOS_IO_BATCH_PENDING_MASK;
	DBOS_ASSERT(count > 0 && count <= total);
	if (count == 1 && (before & DBOS_IO_BATCH_WAITING))
		dbos_platform_wake(&batch->pending, UINT32_MAX);
	return count == 1;
}

void dbos_io_batch_finish(dbos_io_batch *batch, dbos_io_complete_fn on_complete)
{
	/* The callback was read before the count dropped; it may free the batch. */
	if (on_complete)
		on_complete(batch);
}

void dbos_io_batch_sleep(dbos_io_batch *batch, uint64_t timeout_ns)
{
	/* Dekker with record(): either it sees WAITING and wakes, or we see the count at zero. */
	uint32_t before = __atomic_fetch_or(&batch->pending, DBOS_IO_BATCH_WAITING, __ATOMIC_SEQ_CST);
	if ((before & DBOS_IO_BATCH_PENDING_MASK) == 0)
		return;
	dbos_platform_wait(&batch->pending, before | DBOS_IO_BATCH_WAITING, timeout_ns);
}
