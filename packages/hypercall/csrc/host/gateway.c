/* gateway.c - the host system-call gateway: open, submit, wait, close; backends do the I/O. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "gateway_host.h"

/* How long one sleep of a waiter may last before it re-checks (bounds a lost wake-up). */
#define GATEWAY_WAIT_SLICE_NS 10000000ull /* 10 ms */
#define GATEWAY_CLOSE_POLL_NS 200000ull   /* 0.2 ms */

const char *dbos_gateway_backend_name(enum dbos_gateway_backend backend)
{
	switch (backend) {
	case DBOS_GATEWAY_AUTO: return "auto";
	case DBOS_GATEWAY_IO_URING: return "io_uring";
	case DBOS_GATEWAY_THREADS: return "threads";
	case DBOS_GATEWAY_HYPERCALL: return "hypercall";
	}
	return "unknown";
}

enum dbos_gateway_backend dbos_gateway_backend_of(const dbos_gateway *gateway)
{
	return gateway->backend;
}

uint32_t dbos_gateway_queue_depth(const dbos_gateway *gateway)
{
	return gateway->queue_depth;
}

uint64_t dbos_gateway_inflight(const dbos_gateway *gateway)
{
	return __atomic_load_n(&gateway->inflight, __ATOMIC_ACQUIRE);
}

static dbos_status gateway_start(struct dbos_gateway *gateway, enum dbos_gateway_backend backend)
{
	gateway->backend = backend;
	if (backend == DBOS_GATEWAY_IO_URING)
		return gateway_uring_start(gateway);
	return gateway_threads_start(gateway);
}

dbos_status dbos_gateway_open(const dbos_gateway_config *config, dbos_gateway **gateway_out)
{
	if (!config || !gateway_out)
		return DBOS_EINVAL;
	if (config->backend != DBOS_GATEWAY_AUTO && config->backend != DBOS_GATEWAY_IO_URING &&
	    config->backend != DBOS_GATEWAY_THREADS)
		return config->backend == DBOS_GATEWAY_HYPERCALL ? DBOS_ENOTSUP : DBOS_EINVAL;
	if (config->queue_depth > DBOS_GATEWAY_QUEUE_DEPTH_MAX || config->thread_count > DBOS_GATEWAY_THREAD_COUNT_MAX)
		return DBOS_ERANGE;
	struct dbos_gateway *gateway = calloc(1, sizeof(*gateway));
	if (!gateway)
		return DBOS_ENOMEM;
	gateway->queue_depth = config->queue_depth ? config->queue_depth : DBOS_GATEWAY_QUEUE_DEPTH_DEFAULT;
	gateway->thread_count = config->thread_count ? config->thread_count : DBOS_GATEWAY_THREAD_COUNT_DEFAULT;
	gateway->syscall_opcodes = config->syscall_opcodes;
	pthread_mutex_init(&gateway->backlog_lock, NULL);

	dbos_status status;
	if (config->backend == DBOS_GATEWAY_AUTO) {
		/* io_uring where this process may set up a ring, else threads. */
		status = gateway_start(gateway, DBOS_GATEWAY_IO_URING);
		if (status == DBOS_ENOTSUP || status == DBOS_EPERM)
			status = gateway_start(gateway, DBOS_GATEWAY_THREADS);
	} else {
		status = gateway_start(gateway, config->backend);
	}
	if (status != DBOS_OK) {
		pthread_mutex_destroy(&gateway->backlog_lock);
		free(gateway);
		return status;
	}
	*gateway_out = gateway;
	return DBOS_OK;
}

bool gateway_backlog_take(struct dbos_gateway *gateway, dbos_io_batch **batch_out, uint32_t *index_out)
{
	dbos_io_batch *batch = gateway->backlog_head;
	if (!batch)
		return false;
	DBOS_ASSERT(batch->next_index < batch->count);
	*batch_out = batch;
	*index_out = batch->next_index++;
	if (batch->next_index == batch->count) {
		gateway->backlog_head = batch->next;
		if (!gateway->backlog_head)
			gateway->backlog_tail = NULL;
		batch->next = NULL;
	}
	return true;
}

void gateway_complete(struct dbos_gateway *gateway, dbos_io_batch *batch, uint32_t index, int64_t result)
{
	/*
	 * Count down first: once the batch is done its owner may read
	 * inflight and expect it to exclude the batch.  close() waiting for
	 * zero then joins the thread that is still finishing here.
	 */
	__atomic_fetch_sub(&gateway->inflight, 1, __ATOMIC_ACQ_REL);
	dbos_io_complete_fn on_complete;
	if (dbos_io_batch_record(batch, index, result, &on_complete))
		dbos_io_batch_finish(batch, on_complete);
}

/*
 * Take backlog_lock unless close began: DBOS_OK with the lock held, or DBOS_ECLOSED without it.
 * New work is admitted only under the lock, so close_begin() cancels or waits for all of it.
 */
static dbos_status gateway_lock_open(struct dbos_gateway *gateway)
{
	pthread_mutex_lock(&gateway->backlog_lock);
	if (!gateway->closing)
		return DBOS_OK;
	pthread_mutex_unlock(&gateway->backlog_lock);
	return DBOS_ECLOSED;
}

static dbos_status gateway_submit(struct dbos_gateway *gateway, dbos_io_batch *batch, bool caller_helps)
{
	if (!gateway || !batch || batch->count > DBOS_IO_BATCH_COUNT_MAX)
		return DBOS_EINVAL;
	if (batch->pending != batch->count || batch->next_index != 0 || batch->count > DBOS_IO_BATCH_PENDING_MASK)
		return DBOS_EINVAL; /* not freshly initialised, or still in flight */
	for (uint32_t i = 0; i < batch->count; i++) {
		dbos_status status = dbos_io_op_check(&batch->ops[i]);
		if (status != DBOS_OK)
			return status;
	}
	if (gateway_lock_open(gateway) != DBOS_OK)
		return DBOS_ECLOSED;
	if (batch->count == 0) {
		pthread_mutex_unlock(&gateway->backlog_lock);
		dbos_io_batch_finish(batch, batch->on_complete);
		return DBOS_OK;
	}
	__atomic_fetch_add(&gateway->inflight, batch->count, __ATOMIC_ACQ_REL);
	batch->next = NULL;
	if (gateway->backlog_tail)
		gateway->backlog_tail->next = batch;
	else
		gateway->backlog_head = batch;
	gateway->backlog_tail = batch;
	pthread_mutex_unlock(&gateway->backlog_lock);

	if (gateway->backend == DBOS_GATEWAY_IO_URING)
		gateway_uring_kick(gateway);
	else
		gateway_threads_kick(gateway, batch->count, caller_helps);
	return DBOS_OK;
}

dbos_status dbos_gateway_submit(dbos_gateway *gateway, dbos_io_batch *batch)
{
	return gateway_submit(gateway, batch, false);
}

bool dbos_gateway_poll(dbos_gateway *gateway, dbos_io_batch *batch)
{
	if (gateway->backend == DBOS_GATEWAY_IO_URING)
		gateway_uring_reap(gateway, false);
	return batch ? dbos_io_batch_done(batch) : false;
}

/* One step of a waiter: help the backend along; true if it made progress. */
static bool gateway_help(struct dbos_gateway *gateway)
{
	if (gateway->backend == DBOS_GATEWAY_IO_URING)
		return gateway_uring_reap(gateway, true);
	return gateway_threads_help(gateway);
}

dbos_status dbos_gateway_wait(dbos_gateway *gateway, dbos_io_batch *batch, uint64_t timeout_ns)
{
	uint64_t start_ns = dbos_platform_now_ns();
	/* Bounded: every pass either makes progress or sleeps, and time is checked each pass. */
	for (;;) {
		if (dbos_io_batch_done(batch))
			return DBOS_OK;
		if (gateway_help(gateway))
			continue;
		uint64_t elapsed_ns = dbos_platform_now_ns() - start_ns;
		if (timeout_ns != UINT64_MAX && elapsed_ns >= timeout_ns)
			return dbos_io_batch_done(batch) ? DBOS_OK : DBOS_ETIMEDOUT;
		uint64_t slice_ns = GATEWAY_WAIT_SLICE_NS;
		if (timeout_ns != UINT64_MAX && timeout_ns - elapsed_ns < slice_ns)
			slice_ns = timeout_ns - elapsed_ns;
		dbos_io_batch_sleep(batch, slice_ns);
	}
}

/*
 * A caller of run() waits for its op anyway, so handing a single op to another thread only adds
 * wake-ups: a write or a sync blocks in the kernel (io_uring hands it to an io-wq worker, the
 * threads backend to a worker thread), and an O_DIRECT read's completion reaches the ring's
 * completion thread, which then wakes the caller (three threads for one pread).  Such a single op
 * runs here, as a plain system call that sleeps in the kernel until the device answers, counted
 * in flight like any other so that close() waits for it.  Batches stay on the ring, where their
 * ops are in flight together.
 */
static bool gateway_runs_on_caller(const dbos_io_op *op)
{
	switch (op->opcode) {
#if !defined(__SANITIZE_THREAD__)
	/*
	 * Not under ThreadSanitizer: a buffer pool reads a page into memory that an optimistic reader
	 * may be reading at that moment (it discards what it read when validation fails).  pread's
	 * interceptor reports the kernel's store as a race with that reader; the ring's read is the
	 * kernel's alone, as it is in every other build.
	 */
	case DBOS_IO_PREAD:
	case DBOS_IO_PREADV:
#endif
	case DBOS_IO_PWRITE:
	case DBOS_IO_PWRITEV:
	case DBOS_IO_FSYNC:
	case DBOS_IO_FDATASYNC:
	case DBOS_IO_FALLOCATE:
	case DBOS_IO_FTRUNCATE: return true;
	}
	return false;
}

static dbos_status gateway_run_on_caller(struct dbos_gateway *gateway, const dbos_io_op *op, int64_t *result)
{
	dbos_status status = dbos_io_op_check(op);
	if (status != DBOS_OK)
		return status;
	if (gateway_lock_open(gateway) != DBOS_OK)
		return DBOS_ECLOSED;
	__atomic_fetch_add(&gateway->inflight, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&gateway->backlog_lock);
	*result = gateway_syscall_run(op);
	__atomic_fetch_sub(&gateway->inflight, 1, __ATOMIC_ACQ_REL);
	return DBOS_OK;
}

dbos_status dbos_gateway_run(dbos_gateway *gateway, const dbos_io_op *ops, int64_t *results, uint32_t count)
{
	if (gateway && ops && results && count == 1 && gateway_runs_on_caller(&ops[0]))
		return gateway_run_on_caller(gateway, &ops[0], &results[0]);
	dbos_io_batch batch;
	dbos_io_batch_init(&batch, ops, results, count);
	dbos_status status = gateway_submit(gateway, &batch, true); /* this thread waits and helps */
	if (status != DBOS_OK)
		return status;
	return dbos_gateway_wait(gateway, &batch, UINT64_MAX);
}

/* Complete every op still in the backlog with -ECANCELED (they never started). */
static void gateway_backlog_cancel(struct dbos_gateway *gateway)
{
	for (uint32_t bound = 0; bound < DBOS_IO_BATCH_COUNT_MAX; bound++) {
		pthread_mutex_lock(&gateway->backlog_lock);
		dbos_io_batch *batch = gateway->backlog_head;
		uint32_t first = 0, count = 0;
		if (batch) {
			first = batch->next_index;
			count = batch->count - first;
			batch->next_index = batch->count;
			gateway->backlog_head = batch->next;
			if (!gateway->backlog_head)
				gateway->backlog_tail = NULL;
			batch->next = NULL;
		}
		pthread_mutex_unlock(&gateway->backlog_lock);
		if (!batch)
			return;
		for (uint32_t i = 0; i < count; i++)
			gateway_complete(gateway, batch, first + i, -DBOS_IO_ECANCELED);
	}
}

void dbos_gateway_close_begin(dbos_gateway *gateway)
{
	if (!gateway)
		return;
	pthread_mutex_lock(&gateway->backlog_lock);
	gateway->closing = true;
	pthread_mutex_unlock(&gateway->backlog_lock);
	/* Ops not yet started are cancelled (a second call finds the backlog empty). */
	gateway_backlog_cancel(gateway);
}

dbos_status dbos_gateway_close_within(dbos_gateway *gateway, uint64_t timeout_ns)
{
	if (!gateway)
		return DBOS_OK;
	/* 1. No new batches; ops not yet started are cancelled. */
	dbos_gateway_close_begin(gateway);
	/* 2. Started ops finish in the kernel in their own time (an fsync may take seconds): poll. */
	uint64_t start_ns = dbos_platform_now_ns();
	for (uint64_t pass = 0; dbos_gateway_inflight(gateway) > 0; pass++) {
		if (timeout_ns != UINT64_MAX && dbos_platform_now_ns() - start_ns >= timeout_ns)
			return DBOS_ETIMEDOUT; /* still open (closing): the caller may call again */
		if (!gateway_help(gateway)) {
			uint32_t never_changes = 0;
			dbos_platform_wait(&never_changes, 0, GATEWAY_CLOSE_POLL_NS);
		}
		DBOS_ASSERT(pass < ((uint64_t)1 << 40));
	}
	/* 3. The backend stops; the memory goes. */
	if (gateway->backend == DBOS_GATEWAY_IO_URING)
		gateway_uring_stop(gateway);
	else
		gateway_threads_stop(gateway);
	pthread_mutex_destroy(&gateway->backlog_lock);
	free(gateway);
	return DBOS_OK;
}

void dbos_gateway_close(dbos_gateway *gateway)
{
	dbos_status status = dbos_gateway_close_within(gateway, UINT64_MAX);
	DBOS_ASSERT(status == DBOS_OK); /* without a deadline it only returns once closed */
}
