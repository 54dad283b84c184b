/*
 * gateway_guest.c - the system-call gateway (dbos/hypercall.h) inside the
 * guest: backend DBOS_GATEWAY_HYPERCALL.  C cores submit dbos_io_op batches
 * exactly as on the host; here each chunk of ops becomes hypercall requests on
 * this vCPU's ring, served through the sync doorbell.
 *
 * The vCPU exits while the host does the I/O, so a batch is complete when
 * submit returns: wait and poll only report it.  Ops carry guest-virtual
 * addresses; the ring wants guest-physical ones, so buffers are translated
 * page by page into runs of contiguous frames (an engine-window buffer may
 * span scattered frames; identity-mapped memory is one run).  Paths are
 * copied into a bounce buffer on this vCPU's stack, which is identity-mapped.
 */
#include "dbos/guest_kernel.h"
#include "dbos/hypercall.h"

#define CHUNK_OPS 16u      /* requests per doorbell: bounded by the bounce space below */
#define RUNS_MAX 16u       /* contiguous-frame runs per op */
#define PATH_SIZE_MAX 256u /* bytes of an openat path, NUL included */
#define AT_EMPTY_PATH_FLAG 0x1000u
#define ERRNO_EINVAL 22
#define ERRNO_ENAMETOOLONG 36
#define ERRNO_EFAULT 14

_Static_assert(CHUNK_OPS <= DBOS_HC_RING_ENTRIES, "a chunk fits the ring");

struct dbos_gateway {
	uint32_t closed;
};

struct op_bounce {
	struct dbos_hc_iovec runs[RUNS_MAX];
	char path[PATH_SIZE_MAX];
};

static uint64_t stack_pa(const void *pointer)
{
	return dbos_guest_va_to_pa((uint64_t)(uintptr_t)pointer);
}

/* Append [va, va + length) as runs of contiguous guest-physical pages; returns the new count or -errno. */
static int32_t runs_append(uint64_t va, uint64_t length, struct dbos_hc_iovec *runs, int32_t count)
{
	while (length > 0) {
		uint64_t pa = dbos_guest_va_to_pa(va);
		if (pa == UINT64_MAX)
			return -ERRNO_EFAULT;
		uint64_t in_page = DBOS_PAGE_SIZE - (va & (DBOS_PAGE_SIZE - 1));
		uint64_t step = length < in_page ? length : in_page;
		if (count > 0 && runs[count - 1].address + runs[count - 1].length == pa) {
			runs[count - 1].length += step;
		} else {
			if ((uint32_t)count == RUNS_MAX)
				return -ERRNO_EINVAL;
			runs[count++] = (struct dbos_hc_iovec){ .address = pa, .length = step };
		}
		va += step;
		length -= step;
	}
	return count;
}

static int64_t translate_rw(const dbos_io_op *op, struct dbos_hc_request *r, struct op_bounce *b)
{
	bool read = op->opcode == DBOS_IO_PREAD || op->opcode == DBOS_IO_PREADV;
	int32_t count = 0;
	if (op->opcode == DBOS_IO_PREAD || op->opcode == DBOS_IO_PWRITE) {
		count = runs_append(op->address, op->length, b->runs, 0);
	} else {
		const dbos_io_vec *vecs = (const dbos_io_vec *)(uintptr_t)op->address;
		for (uint64_t i = 0; i < op->length && count >= 0; i++)
			count = runs_append(vecs[i].address, vecs[i].length, b->runs, count);
	}
	if (count < 0)
		return count;
	if (count == 1) {
		r->op = read ? DBOS_HC_PREAD : DBOS_HC_PWRITE;
		r->args[0] = b->runs[0].address;
		r->args[1] = b->runs[0].length;
	} else {
		r->op = read ? DBOS_HC_PREADV : DBOS_HC_PWRITEV;
		r->args[0] = stack_pa(b->runs);
		r->args[1] = (uint64_t)count;
	}
	r->args[2] = op->offset;
	return 0;
}

/* Fill the request for `op`; 0, or a -errno result that completes the op without a hypercall. */
static int64_t translate(const dbos_io_op *op, struct dbos_hc_request *r, struct op_bounce *b)
{
	*r = (struct dbos_hc_request){ .fd = op->fd };
	switch (op->opcode) {
	case DBOS_IO_PREAD:
	case DBOS_IO_PWRITE:
	case DBOS_IO_PREADV:
	case DBOS_IO_PWRITEV: return translate_rw(op, r, b);
	case DBOS_IO_FSYNC: r->op = DBOS_HC_FSYNC; return 0;
	case DBOS_IO_FDATASYNC: r->op = DBOS_HC_FDATASYNC; return 0;
	case DBOS_IO_CLOSE: r->op = DBOS_HC_CLOSE; return 0;
	case DBOS_IO_FTRUNCATE:
		r->op = DBOS_HC_FTRUNCATE;
		r->args[0] = op->offset;
		return 0;
	case DBOS_IO_FALLOCATE:
		r->op = DBOS_HC_FALLOCATE;
		r->args[0] = op->flags;
		r->args[1] = op->offset;
		r->args[2] = op->length;
		return 0;
	case DBOS_IO_OPENAT: {
		const char *path = (const char *)(uintptr_t)op->path;
		uint32_t length = 0;
		while (length < PATH_SIZE_MAX && path[length])
			length++;
		if (length == PATH_SIZE_MAX)
			return -ERRNO_ENAMETOOLONG;
		__builtin_memcpy(b->path, path, length + 1);
		r->op = DBOS_HC_OPENAT;
		r->args[0] = stack_pa(b->path);
		r->args[1] = op->flags;
		r->args[2] = op->mode;
		return 0;
	}
	case DBOS_IO_STATX: {
		/* The VMM stats descriptors only: statx(fd, "", AT_EMPTY_PATH). */
		if (((const char *)(uintptr_t)op->path)[0] != 0 || !(op->flags & AT_EMPTY_PATH_FLAG))
			return -ERRNO_EINVAL;
		int32_t count = runs_append(op->address, sizeof(dbos_statx), b->runs, 0);
		if (count != 1)
			return count < 0 ? count : -ERRNO_EINVAL;
		r->op = DBOS_HC_STATX;
		r->args[0] = op->mode;
		r->args[1] = b->runs[0].address;
		return 0;
	}
	default: return -ERRNO_EINVAL;
	}
}

/* Serve ops [first, first + count) of the batch with one doorbell. */
static void chunk_run(dbos_io_batch *batch, uint32_t first, uint32_t count)
{
	struct dbos_hc_request requests[CHUNK_OPS];
	int64_t results[CHUNK_OPS];
	struct op_bounce bounce[CHUNK_OPS];
	uint32_t slots[CHUNK_OPS]; /* request slot -> op index */
	uint32_t used = 0;
	for (uint32_t i = 0; i < count; i++) {
		int64_t early = translate(&batch->ops[first + i], &requests[used], &bounce[used]);
		if (early < 0) {
			batch->results[first + i] = early;
			continue;
		}
		slots[used++] = first + i;
	}
	if (used > 0 && dbos_guest_hypercall_batch(requests, used, results, DBOS_GUEST_RING_SYNC) == DBOS_OK)
		for (uint32_t i = 0; i < used; i++)
			batch->results[slots[i]] = results[i];
}

/* The same refusals, in the same order, as the host's dbos_gateway_open (csrc/host/gateway.c). */
dbos_status dbos_gateway_open(const dbos_gateway_config *config, dbos_gateway **gateway_out)
{
	if (!config || !gateway_out)
		return DBOS_EINVAL;
	if (config->backend != DBOS_GATEWAY_AUTO && config->backend != DBOS_GATEWAY_HYPERCALL)
		return config->backend == DBOS_GATEWAY_IO_URING || config->backend == DBOS_GATEWAY_THREADS
			       ? DBOS_ENOTSUP /* host backends */
			       : DBOS_EINVAL;
	if (config->queue_depth > DBOS_GATEWAY_QUEUE_DEPTH_MAX || config->thread_count > DBOS_GATEWAY_THREAD_COUNT_MAX)
		return DBOS_ERANGE;
	dbos_gateway *gateway = dbos_platform_alloc(sizeof(*gateway));
	if (!gateway)
		return DBOS_ENOMEM;
	*gateway_out = gateway;
	return DBOS_OK;
}

enum dbos_gateway_backend dbos_gateway_backend_of(const dbos_gateway *gateway)
{
	return DBOS_GATEWAY_HYPERCALL;
}

const char *dbos_gateway_backend_name(enum dbos_gateway_backend backend)
{
	switch (backend) {
	case DBOS_GATEWAY_IO_URING: return "io_uring";
	case DBOS_GATEWAY_THREADS: return "threads";
	case DBOS_GATEWAY_HYPERCALL: return "hypercall";
	default: return "auto";
	}
}

uint32_t dbos_gateway_queue_depth(const dbos_gateway *gateway)
{
	return CHUNK_OPS;
}

uint64_t dbos_gateway_inflight(const dbos_gateway *gateway)
{
	return 0; /* batches complete inside submit */
}

dbos_status dbos_gateway_submit(dbos_gateway *gateway, dbos_io_batch *batch)
{
	if (!gateway || !batch)
		return DBOS_EINVAL;
	if (gateway->closed)
		return DBOS_ECLOSED;
	if (batch->count > DBOS_IO_BATCH_COUNT_MAX || batch->pending != batch->count)
		return DBOS_EINVAL; /* not freshly initialised, or too large */
	for (uint32_t i = 0; i < batch->count; i++) {
		dbos_status status = dbos_io_op_check(&batch->ops[i]);
		if (status != DBOS_OK)
			return status;
	}
	for (uint32_t first = 0; first < batch->count; first += CHUNK_OPS) {
		uint32_t count = batch->count - first < CHUNK_OPS ? batch->count - first : CHUNK_OPS;
		chunk_run(batch, first, count);
	}
	/* Publish the results the way every backend does: the last record finishes the batch. */
	dbos_io_complete_fn on_complete = 0;
	bool last = batch->count == 0;
	for (uint32_t i = 0; i < batch->count; i++)
		last = dbos_io_batch_record(batch, i, batch->results[i], &on_complete);
	if (batch->count == 0)
		on_complete = batch->on_complete;
	if (last)
		dbos_io_batch_finish(batch, on_complete);
	return DBOS_OK;
}

bool dbos_gateway_poll(dbos_gateway *gateway, dbos_io_batch *batch)
{
	return !batch || dbos_io_batch_done(batch);
}

dbos_status dbos_gateway_wait(dbos_gateway *gateway, dbos_io_batch *batch, uint64_t timeout_ns)
{
	return dbos_io_batch_done(batch) ? DBOS_OK : DBOS_ETIMEDOUT;
}

dbos_status dbos_gateway_run(dbos_gateway *gateway, const dbos_io_op *ops, int64_t *results, uint32_t count)
{
	dbos_io_batch batch;
	dbos_io_batch_init(&batch, ops, results, count);
	return dbos_gateway_submit(gateway, &batch);
}

void dbos_gateway_close(dbos_gateway *gateway)
{
	if (!gateway)
		return;
	gateway->closed = 1;
	dbos_platform_free(gateway, sizeof(*gateway));
}

/* Batches complete inside submit here: there is no backlog to cancel and nothing to wait for. */
void dbos_gateway_close_begin(dbos_gateway *gateway)
{
	if (gateway)
		gateway->closed = 1;
}

dbos_status dbos_gateway_close_within(dbos_gateway *gateway, uint64_t timeout_ns)
{
	dbos_gateway_close(gateway);
	return DBOS_OK;
}

void dbos_gateway_mechanism(char *text, size_t text_size)
{
	static const char line[] = "hypercall ring of the calling vCPU: up to 16 ops per sync doorbell (MMIO exit)";
	_Static_assert(CHUNK_OPS == 16, "the line above names the chunk size");
	size_t i = 0;
	for (; text && i + 1 < text_size && line[i]; i++)
		text[i] = line[i];
	if (text && text_size > 0)
		text[i] = 0;
}

/* dbos/platform.h: the process's gateway is this vCPU-ring gateway, opened once. */
dbos_status dbos_gateway_shared(struct dbos_gateway **gateway_out)
{
	static struct dbos_gateway shared;
	if (!gateway_out)
		return DBOS_EINVAL;
	*gateway_out = &shared;
	return DBOS_OK;
}
