/*
 * dbos/hypercall.h - the system-call gateway: batched file I/O for C cores.
 *
 * A C core (buffer pool, WAL) never calls the kernel itself.  It fills an
 * array of dbos_io_op, hands it to a gateway as one batch, and reads one
 * result per op: bytes moved, a new fd, 0, or a negative errno.  Batching is
 * the point: on the host one io_uring_enter() carries a whole batch, in the
 * guest one hypercall does.
 *
 *   dbos_io_op ops[32];                    caller-owned, plain C structs
 *   int64_t results[32];                   results[i] belongs to ops[i]
 *   dbos_io_batch batch;
 *   dbos_io_batch_init(&batch, ops, results, 32);
 *   dbos_gateway_submit(gateway, &batch);  returns at once (never waits for I/O)
 *   ... keep other batches in flight, or poll with dbos_io_batch_done() ...
 *   dbos_gateway_wait(gateway, &batch, UINT64_MAX);
 *
 * Threading: one gateway serves any number of threads at once; each batch
 * belongs to the thread that submitted it until it completes.  The ops, the
 * results and every buffer an op points to must stay valid until the batch
 * completes.  A batch completes when its last op does: then `pending` drops to
 * zero (waking waiters) and `on_complete`, if set, runs on whichever thread
 * finished the batch (a gateway thread or a waiter), so it must be short and
 * must not submit to or close the gateway.
 *
 * Backends (host): io_uring driven by raw system calls, or a fixed pool of
 * threads making plain system calls where io_uring is disabled or refused.
 * The header and csrc/gateway_*.c are freestanding; backends live in
 * csrc/host/.
 */
#ifndef DBOS_HYPERCALL_H
#define DBOS_HYPERCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#define DBOS_HYPERCALL_STATIC_ASSERT static_assert
#else
#define DBOS_HYPERCALL_STATIC_ASSERT _Static_assert
#endif

/* ---- Operations --------------------------------------------------------- */

enum dbos_io_opcode {
	DBOS_IO_PREAD = 1,      /* fd, address, length, offset -> bytes read */
	DBOS_IO_PWRITE = 2,     /* fd, address, length, offset -> bytes written */
	DBOS_IO_PREADV = 3,     /* fd, address = dbos_io_vec[length], offset, flags = RWF_* */
	DBOS_IO_PWRITEV = 4,    /* fd, address = dbos_io_vec[length], offset, flags = RWF_* */
	DBOS_IO_FSYNC = 5,      /* fd -> 0 */
	DBOS_IO_FDATASYNC = 6,  /* fd -> 0 */
	DBOS_IO_OPENAT = 7,     /* fd = directory or DBOS_IO_AT_FDCWD, path, flags = O_*, mode -> new fd */
	DBOS_IO_CLOSE = 8,      /* fd -> 0 */
	DBOS_IO_FALLOCATE = 9,  /* fd, offset, length, flags = FALLOC_FL_* mode -> 0 */
	DBOS_IO_FTRUNCATE = 10, /* fd, offset = new size -> 0 */
	DBOS_IO_STATX = 11,     /* fd = directory or file, path ("" + AT_EMPTY_PATH: fd itself),
				  flags = AT_*, mode = STATX_* mask, address = dbos_statx -> 0 */
	DBOS_IO_OPCODE_COUNT
};

/* openat/statx directory meaning "the current directory" (Linux AT_FDCWD). */
#define DBOS_IO_AT_FDCWD (-100)

/* Most iovecs one preadv/pwritev may carry (Linux IOV_MAX). */
#define DBOS_IO_VEC_COUNT_MAX 1024u

/* Most ops in one batch. */
#define DBOS_IO_BATCH_COUNT_MAX (1u << 20)

/*
 * One operation: 64 bytes, no pointers to gateway state, so JavaScript or a
 * guest can fill arrays of them in bulk.  Unused fields must be zero.
 */
typedef struct dbos_io_op {
	uint8_t opcode; /* enum dbos_io_opcode */
	uint8_t reserved0[3];
	int32_t fd;         /* file, or directory for openat/statx */
	uint64_t offset;    /* file offset; ftruncate: the new size */
	uint64_t address;   /* data buffer; dbos_io_vec array; statx: dbos_statx output */
	uint64_t length;    /* bytes; iovec count; fallocate: bytes to allocate */
	uint64_t path;      /* openat/statx: NUL-terminated path */
	uint32_t flags;     /* openat O_*; statx AT_*; fallocate mode; preadv/pwritev RWF_* */
	uint32_t mode;      /* openat creation mode; statx STATX_* mask */
	uint64_t user_data; /* the caller's; the gateway never reads it */
	uint64_t reserved1;
} dbos_io_op;

DBOS_HYPERCALL_STATIC_ASSERT(sizeof(dbos_io_op) == 64, "dbos_io_op is a 64-byte ABI");

/* One segment of a vectored read or write (the layout of struct iovec). */
typedef struct dbos_io_vec {
	uint64_t address;
	uint64_t length;
} dbos_io_vec;

DBOS_HYPERCALL_STATIC_ASSERT(sizeof(dbos_io_vec) == 16, "dbos_io_vec matches struct iovec on 64-bit Linux");

typedef struct dbos_statx_time {
	int64_t seconds;
	uint32_t nanoseconds;
	int32_t reserved;
} dbos_statx_time;

/* The result of DBOS_IO_STATX: the layout of Linux struct statx (256 bytes). */
typedef struct dbos_statx {
	uint32_t mask; /* which fields are valid (STATX_*) */
	uint32_t block_size;
	uint64_t attributes;
	uint32_t link_count;
	uint32_t uid;
	uint32_t gid;
	uint16_t mode;
	uint16_t reserved0;
	uint64_t inode;
	uint64_t size;
	uint64_t blocks; /* 512-byte units */
	uint64_t attributes_mask;
	dbos_statx_time access_time;
	dbos_statx_time birth_time;
	dbos_statx_time change_time;
	dbos_statx_time modify_time;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t mount_id;
	uint32_t direct_io_memory_align;
	uint32_t direct_io_offset_align;
	uint64_t reserved1[12];
} dbos_statx;

DBOS_HYPERCALL_STATIC_ASSERT(sizeof(dbos_statx) == 256, "dbos_statx is the 256-byte Linux statx layout");

/*
 * Check one op's shape (opcode known, reserved fields zero, pointers present
 * where needed, iovec count bounded).  Does not touch memory the op points
 * to.  The gateway calls it for every op; callers may call it earlier.
 */
dbos_status dbos_io_op_check(const dbos_io_op *op);

/* ---- Batches ------------------------------------------------------------ */

typedef struct dbos_io_batch dbos_io_batch;
typedef void (*dbos_io_complete_fn)(dbos_io_batch *batch);

/*
 * A batch of ops in flight.  Callers initialise it with dbos_io_batch_init()
 * and may set `on_complete` and `context`; every other field belongs to the
 * gateway until the batch completes.
 */
struct dbos_io_batch {
	const dbos_io_op *ops;
	int64_t *results; /* results[i]: >= 0 success value of ops[i], < 0 -errno */
	uint32_t count;
	uint32_t pending;    /* ops not yet completed, | DBOS_IO_BATCH_WAITING while a thread
			      sleeps on it: the futex word (use dbos_io_batch_done to read it) */
	uint32_t next_index; /* the next op to hand to the backend (gateway-internal) */
	uint32_t reserved;
	dbos_io_complete_fn on_complete;
	void *context;
	dbos_io_batch *next; /* gateway-internal queue link */
};

/* Set in `pending` by a waiter before it sleeps, so completion wakes only when someone sleeps. */
#define DBOS_IO_BATCH_WAITING 0x80000000u
#define DBOS_IO_BATCH_PENDING_MASK 0x7fffffffu

void dbos_io_batch_init(dbos_io_batch *batch, const dbos_io_op *ops, int64_t *results, uint32_t count);

/* True once every op of the batch has a result (acquire: results are visible). */
bool dbos_io_batch_done(const dbos_io_batch *batch);

/*
 * Record the result of ops[index] (release).  Returns true when this was the
 * batch's last op; the caller then runs dbos_io_batch_finish() with the
 * callback stored in *on_complete_out.  The callback is read before the
 * count drops: once pending is 0 a waiter may reuse the batch at once.
 * Backends use this; C cores do not.
 */
bool dbos_io_batch_record(dbos_io_batch *batch, uint32_t index, int64_t result, dbos_io_complete_fn *on_complete_out);

/*
 * Run on_complete.  Called once, after the last record.  Waiters were
 * already woken by the record that completed the batch.
 */
void dbos_io_batch_finish(dbos_io_batch *batch, dbos_io_complete_fn on_complete);

/*
 * Sleep until the batch completes or timeout_ns passes; spurious returns are
 * allowed (callers re-check dbos_io_batch_done).  For gateway implementations.
 */
void dbos_io_batch_sleep(dbos_io_batch *batch, uint64_t timeout_ns);

/* ---- Gateways ----------------------------------------------------------- */

enum dbos_gateway_backend {
	DBOS_GATEWAY_AUTO = 0,      /* io_uring where it works, else threads */
	DBOS_GATEWAY_IO_URING = 1,  /* io_uring through raw system calls */
	DBOS_GATEWAY_THREADS = 2,   /* worker threads making plain system calls */
	DBOS_GATEWAY_HYPERCALL = 3, /* guest runtime: forwarded to the VMM */
};

#define DBOS_GATEWAY_QUEUE_DEPTH_DEFAULT 256u
#define DBOS_GATEWAY_QUEUE_DEPTH_MAX 4096u
#define DBOS_GATEWAY_THREAD_COUNT_DEFAULT 4u
#define DBOS_GATEWAY_THREAD_COUNT_MAX 64u

typedef struct dbos_gateway_config {
	enum dbos_gateway_backend backend;
	uint32_t queue_depth;  /* ops in flight at once (ring size); 0: default */
	uint32_t thread_count; /* threads backend workers; 0: default */
	/*
	 * io_uring backend: ops whose bit (1u << opcode) is set run as plain
	 * system calls even where the kernel's io_uring has the opcode, the
	 * path every op takes on kernels that lack it (for tests, and to step
	 * around a kernel bug).  0: none.
	 */
	uint32_t syscall_opcodes;
} dbos_gateway_config;

typedef struct dbos_gateway dbos_gateway;

/*
 * Open a gateway.  DBOS_ENOTSUP when the requested backend cannot run here
 * (io_uring disabled or refused); AUTO never fails for that reason.
 */
dbos_status dbos_gateway_open(const dbos_gateway_config *config, dbos_gateway **gateway_out);

/* The backend that actually runs (never AUTO). */
enum dbos_gateway_backend dbos_gateway_backend_of(const dbos_gateway *gateway);

/* "io_uring", "threads", "hypercall". */
const char *dbos_gateway_backend_name(enum dbos_gateway_backend backend);

/*
 * Hand a batch to the gateway.  Never waits for I/O: ops beyond the free
 * queue depth wait in the gateway's backlog and are started as earlier ops
 * complete.  DBOS_EINVAL if any op fails dbos_io_op_check (nothing is
 * submitted then); DBOS_ECLOSED after close began.  An empty batch completes
 * at once.
 */
dbos_status dbos_gateway_submit(dbos_gateway *gateway, dbos_io_batch *batch);

/*
 * Wait until `batch` completes or timeout_ns passes (UINT64_MAX: forever).
 * The waiting thread helps: it reaps completions and, on the threads
 * backend, runs queued ops itself.  DBOS_OK or DBOS_ETIMEDOUT.
 */
dbos_status dbos_gateway_wait(dbos_gateway *gateway, dbos_io_batch *batch, uint64_t timeout_ns);

/*
 * Reap whatever completed, without blocking; returns true when `batch`
 * (may be NULL) is done.  For callers that keep many batches in flight.
 */
bool dbos_gateway_poll(dbos_gateway *gateway, dbos_io_batch *batch);

/*
 * Submit and wait: the blocking form for small batches.  A batch of one
 * write or sync (pwrite, pwritev, fsync, fdatasync, fallocate, ftruncate)
 * runs on the calling thread as a plain system call on the host: it would
 * block a worker anyway, and the caller waits for it.
 */
dbos_status dbos_gateway_run(dbos_gateway *gateway, const dbos_io_op *ops, int64_t *results, uint32_t count);

/* Ops in flight at once: the ring's size (io_uring rounds up to a power of two). */
uint32_t dbos_gateway_queue_depth(const dbos_gateway *gateway);

/* Ops submitted and not yet completed (including the backlog). */
uint64_t dbos_gateway_inflight(const dbos_gateway *gateway);

/*
 * Refuse new batches, wait for every batch in flight to complete, stop the
 * backend and free the gateway.  Batches still in the backlog complete with
 * -ECANCELED (125) without running.  Batches may be in flight, but no other
 * thread may be inside a gateway call (submit, wait, poll) when close starts.
 */
void dbos_gateway_close(dbos_gateway *gateway);

/*
 * The first step of close alone: refuse new batches (DBOS_ECLOSED) and
 * complete the backlog with -ECANCELED, on this thread.  Ops already started
 * keep running.  Idempotent; the gateway stays valid until a close finishes.
 */
void dbos_gateway_close_begin(dbos_gateway *gateway);

/*
 * dbos_gateway_close with a deadline: DBOS_OK once closed and freed;
 * DBOS_ETIMEDOUT when ops started in the kernel are still running after
 * timeout_ns (a read from a pipe nobody writes to never ends).  The gateway
 * then stays valid and closing: call again, or leave it to finish on its own
 * threads (what an owner that is going away must do rather than wait).
 */
dbos_status dbos_gateway_close_within(dbos_gateway *gateway, uint64_t timeout_ns);

/*
 * The process's shared gateway: cores submit file I/O (pread, pwrite, fsync,
 * openat, ...) there and never call the kernel themselves.  Host: opened on
 * first use with DBOS_GATEWAY_AUTO (io_uring where it works, else a thread
 * pool) and kept for the life of the process; guest: the vCPU's hypercall
 * ring.  Cores that want their own queue depth open a gateway of their own.
 * DBOS_ENOMEM / DBOS_ENOTSUP when no backend can start.
 */
dbos_status dbos_gateway_shared(dbos_gateway **gateway_out);

/*
 * What DBOS_GATEWAY_AUTO runs on in this process, and why, as one line for
 * probe().mechanisms: "io_uring via raw system calls ..." or "thread pool of
 * plain system calls: io_uring_setup refused ...".  Host: opens a small AUTO
 * gateway and closes it again, so the line is what AUTO really picks; guest:
 * the vCPU's hypercall ring.
 */
void dbos_gateway_mechanism(char *text, size_t text_size);

#define DBOS_IO_ECANCELED 125

#ifdef __cplusplus
}
#endif

#endif /* DBOS_HYPERCALL_H */
