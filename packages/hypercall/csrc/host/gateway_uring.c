/*
 * gateway_uring.c - the io_uring backend of the gateway, driven by raw system
 * calls (io_uring_setup, io_uring_enter, io_uring_register, mmap): no
 * library at run time.
 *
 * Any thread may submit and any thread may reap:
 *   sq_lock   guards the SQ tail, the slot free list and the pump from the backlog;
 *   cq_lock   guards the CQ head.
 * Lock order: sq_lock, then the gateway's backlog_lock.  cq_lock is never held
 * with sq_lock.
 *
 * A slot is one op in the ring: user_data is its index, slots[] maps it back
 * to (batch, op index).  Slots bound the ops in the ring to the SQ size, and
 * the CQ (twice the SQ) can therefore never overflow.
 *
 * A completion thread sleeps in io_uring_enter(GETEVENTS) while ops are in
 * the ring, so completions of I/O that did not finish inline (a page-cache
 * miss punted to io-wq) are delivered even when nobody waits.  Submitters
 * reap right after io_uring_enter returns: a cached read completes inside the
 * submitting call, so a batch of them finishes with no thread switch.
 *
 * No IORING_SETUP_SINGLE_ISSUER / DEFER_TASKRUN: any native thread may
 * submit.  No COOP_TASKRUN: its task work would wait for the submitter's next
 * system call, and the JavaScript thread may sleep in epoll for a long time.
 * No registered files or buffers: the fds and buffers come from callers per
 * op, and registering them would cost a system call each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gateway_host.h"
#include "dbos/host/platform.h"
#include "dbos/host/io_uring.h"

#define URING_ENTER_RETRY_MAX 1000u
#define URING_REAP_ROUND_MAX 256u /* CQEs handled per lock hold */
#define URING_STOP_USER_DATA UINT64_MAX
#define URING_IDLE_SLEEP_NS 100000000ull /* completion thread re-checks every 100 ms */

struct uring_slot {
	dbos_io_batch *batch;
	uint32_t index;
	bool fallback; /* the kernel lacks the opcode: run it as a system call when reaped */
};

struct gateway_uring {
	int fd;
	uint32_t sq_entries;
	uint32_t cq_entries;

	/* Mappings. */
	void *sq_ring;
	size_t sq_ring_size;
	void *cq_ring;
	size_t cq_ring_size;
	struct io_uring_sqe *sqes;
	size_t sqes_size;

	/* Ring fields inside the mappings. */
	unsigned *sq_khead, *sq_ktail, *sq_kmask;
	unsigned *cq_khead, *cq_ktail, *cq_kmask;
	struct io_uring_cqe *cqes;

	pthread_mutex_t sq_lock;
	pthread_mutex_t cq_lock;
	unsigned sq_tail; /* our copy; published to *sq_ktail */
	struct uring_slot *slots;
	uint32_t *slot_free; /* stack of free slot indexes */
	uint32_t slot_free_count;
	uint32_t ring_ops; /* ops in the ring (slots taken), atomic */

	bool supported[DBOS_IO_OPCODE_COUNT];

	pthread_t completion_thread;
	bool stop;          /* atomic */
	uint32_t idle_word; /* futex: bumped to wake an idle completion thread */
	uint32_t idle;      /* atomic: the completion thread is (about to be) asleep */
	bool enter_failed;  /* completion thread only: the failure was logged */
};

static long uring_setup(unsigned entries, struct io_uring_params *params)
{
	return syscall(__NR_io_uring_setup, entries, params);
}

static long uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
	return syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
}

static const uint8_t uring_opcode_of[DBOS_IO_OPCODE_COUNT] = {
	[DBOS_IO_PREAD] = IORING_OP_READ,          [DBOS_IO_PWRITE] = IORING_OP_WRITE,
	[DBOS_IO_PREADV] = IORING_OP_READV,        [DBOS_IO_PWRITEV] = IORING_OP_WRITEV,
	[DBOS_IO_FSYNC] = IORING_OP_FSYNC,         [DBOS_IO_FDATASYNC] = IORING_OP_FSYNC,
	[DBOS_IO_OPENAT] = IORING_OP_OPENAT,       [DBOS_IO_CLOSE] = IORING_OP_CLOSE,
	[DBOS_IO_FALLOCATE] = IORING_OP_FALLOCATE, [DBOS_IO_FTRUNCATE] = DBOS_IORING_OP_FTRUNCATE,
	[DBOS_IO_STATX] = IORING_OP_STATX,
};

/* Which dbos opcodes this kernel's io_uring knows (IORING_REGISTER_PROBE, Linux 5.6). */
static void uring_probe_opcodes(struct gateway_uring *uring)
{
	const unsigned op_capacity = 256;
	size_t size = sizeof(struct io_uring_probe) + op_capacity * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *probe = calloc(1, size);
	if (!probe)
		return; /* all false: every op runs as a fallback system call */
	if (syscall(__NR_io_uring_register, uring->fd, IORING_REGISTER_PROBE, probe, op_capacity) == 0) {
		for (int op = 1; op < DBOS_IO_OPCODE_COUNT; op++) {
			uint8_t code = uring_opcode_of[op];
			uring->supported[op] = code <= probe->last_op && code < probe->ops_len &&
					       (probe->ops[code].flags & IO_URING_OP_SUPPORTED);
		}
	}
	free(probe);
}

static dbos_status uring_map(struct gateway_uring *uring, const struct io_uring_params *p)
{
	uring->sq_ring_size = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	uring->cq_ring_size = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
	bool single = p->features & IORING_FEAT_SINGLE_MMAP;
	if (single && uring->cq_ring_size > uring->sq_ring_size)
		uring->sq_ring_size = uring->cq_ring_size;
	uring->sq_ring = mmap(NULL, uring->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, uring->fd,
			      IORING_OFF_SQ_RING);
	if (uring->sq_ring == MAP_FAILED)
		return dbos_host_status_from_errno(errno);
	if (single) {
		uring->cq_ring = uring->sq_ring;
		uring->cq_ring_size = 0; /* not a mapping of its own */
	} else {
		uring->cq_ring = mmap(NULL, uring->cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
				      uring->fd, IORING_OFF_CQ_RING);
		if (uring->cq_ring == MAP_FAILED)
			return dbos_host_status_from_errno(errno);
	}
	uring->sqes_size = p->sq_entries * sizeof(struct io_uring_sqe);
	uring->sqes = mmap(NULL, uring->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, uring->fd,
			   IORING_OFF_SQES);
	if (uring->sqes == MAP_FAILED)
		return dbos_host_status_from_errno(errno);

	char *sq = uring->sq_ring, *cq = uring->cq_ring;
	uring->sq_khead = (unsigned *)(sq + p->sq_off.head);
	uring->sq_ktail = (unsigned *)(sq + p->sq_off.tail);
	uring->sq_kmask = (unsigned *)(sq + p->sq_off.ring_mask);
	unsigned *array = (unsigned *)(sq + p->sq_off.array);
	uring->cq_khead = (unsigned *)(cq + p->cq_off.head);
	uring->cq_ktail = (unsigned *)(cq + p->cq_off.tail);
	uring->cq_kmask = (unsigned *)(cq + p->cq_off.ring_mask);
	uring->cqes = (struct io_uring_cqe *)(cq + p->cq_off.cqes);
	/* SQ index i always names SQE i: submission order is tail order. */
	for (unsigned i = 0; i < p->sq_entries; i++)
		array[i] = i;
	uring->sq_tail = *uring->sq_ktail;
	return DBOS_OK;
}

static void uring_free(struct gateway_uring *uring)
{
	if (uring->sqes && uring->sqes != MAP_FAILED)
		munmap(uring->sqes, uring->sqes_size);
	if (uring->cq_ring_size && uring->cq_ring && uring->cq_ring != MAP_FAILED)
		munmap(uring->cq_ring, uring->cq_ring_size);
	if (uring->sq_ring && uring->sq_ring != MAP_FAILED)
		munmap(uring->sq_ring, uring->sq_ring_size);
	if (uring->fd >= 0)
		close(uring->fd);
	free(uring->slots);
	free(uring->slot_free);
	pthread_mutex_destroy(&uring->sq_lock);
	pthread_mutex_destroy(&uring->cq_lock);
	free(uring);
}

/* Fill an SQE for one op (or a NOP that stands in for a fallback op). */
static void uring_prep(struct io_uring_sqe *sqe, const dbos_io_op *op, bool fallback, uint64_t slot)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->user_data = slot;
	if (fallback) {
		sqe->opcode = IORING_OP_NOP;
		return;
	}
	sqe->opcode = uring_opcode_of[op->opcode];
	sqe->fd = op->fd;
	switch (op->opcode) {
	case DBOS_IO_PREAD:
	case DBOS_IO_PWRITE:
		sqe->addr = op->address;
		sqe->len = (uint32_t)op->length;
		sqe->off = op->offset;
		break;
	case DBOS_IO_PREADV:
	case DBOS_IO_PWRITEV:
		sqe->addr = op->address;
		sqe->len = (uint32_t)op->length;
		sqe->off = op->offset;
		sqe->rw_flags = (__kernel_rwf_t)op->flags;
		break;
	case DBOS_IO_FDATASYNC: sqe->fsync_flags = IORING_FSYNC_DATASYNC; break;
	case DBOS_IO_OPENAT:
		sqe->addr = op->path;
		sqe->len = op->mode;
		sqe->open_flags = op->flags;
		break;
	case DBOS_IO_FALLOCATE:
		sqe->off = op->offset;
		sqe->addr = op->length; /* the io_uring ABI: length in addr, mode in len */
		sqe->len = op->flags;
		break;
	case DBOS_IO_FTRUNCATE: sqe->off = op->offset; break;
	case DBOS_IO_STATX:
		sqe->addr = op->path;
		sqe->len = op->mode;
		sqe->off = op->address; /* the io_uring ABI: the statx buffer in off */
		sqe->statx_flags = op->flags;
		break;
	default: break; /* FSYNC, CLOSE: fd only */
	}
}

/* Move ops from the backlog into free ring slots.  sq_lock held.  Returns SQEs added. */
static uint32_t uring_pump(struct dbos_gateway *gateway)
{
	struct gateway_uring *uring = gateway->uring;
	uint32_t added = 0;
	pthread_mutex_lock(&gateway->backlog_lock);
	while (uring->slot_free_count > 0) {
		dbos_io_batch *batch;
		uint32_t index;
		if (!gateway_backlog_take(gateway, &batch, &index))
			break;
		uint32_t slot = uring->slot_free[--uring->slot_free_count];
		const dbos_io_op *op = &batch->ops[index];
		bool fallback = !uring->supported[op->opcode];
		/* Published with release, read with acquire: the kernel orders the two, but says so to no tool. */
		uring->slots[slot].index = index;
		uring->slots[slot].fallback = fallback;
		__atomic_store_n(&uring->slots[slot].batch, batch, __ATOMIC_RELEASE);
		unsigned sqe_index = uring->sq_tail & *uring->sq_kmask;
		uring_prep(&uring->sqes[sqe_index], op, fallback, slot);
		uring->sq_tail++;
		added++;
	}
	pthread_mutex_unlock(&gateway->backlog_lock);
	if (added) {
		__atomic_store_n(uring->sq_ktail, uring->sq_tail, __ATOMIC_RELEASE);
		__atomic_fetch_add(&uring->ring_ops, added, __ATOMIC_SEQ_CST);
	}
	return added;
}

/* SQEs published and not yet consumed by the kernel. */
static unsigned uring_unsubmitted(struct gateway_uring *uring)
{
	unsigned tail = __atomic_load_n(uring->sq_ktail, __ATOMIC_ACQUIRE);
	return tail - __atomic_load_n(uring->sq_khead, __ATOMIC_ACQUIRE);
}

/*
 * Hand published SQEs to the kernel.  Bounded retries: EINTR and EAGAIN
 * (kernel short of memory) try again; what is left stays in the SQ and the
 * completion thread's next io_uring_enter submits it.
 */
static void uring_submit_pending(struct gateway_uring *uring)
{
	for (unsigned attempt = 0; attempt < URING_ENTER_RETRY_MAX; attempt++) {
		unsigned to_submit = uring_unsubmitted(uring);
		if (to_submit == 0)
			return;
		long rc = uring_enter(uring->fd, to_submit, 0, 0);
		if (rc >= 0)
			continue; /* partial submits loop; a full one ends at to_submit == 0 */
		if (errno != EINTR && errno != EAGAIN && errno != EBUSY)
			return;
		if (errno != EINTR)
			sched_yield();
	}
}

static void uring_wake_idle(struct gateway_uring *uring)
{
	if (__atomic_load_n(&uring->idle, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_add(&uring->idle_word, 1, __ATOMIC_SEQ_CST);
		dbos_platform_wake(&uring->idle_word, 1);
	}
}

void gateway_uring_kick(struct dbos_gateway *gateway)
{
	struct gateway_uring *uring = gateway->uring;
	pthread_mutex_lock(&uring->sq_lock);
	uint32_t added = uring_pump(gateway);
	pthread_mutex_unlock(&uring->sq_lock);
	if (!added)
		return; /* ring full: reapers pump the backlog as slots free up */
	uring_submit_pending(uring);
	/*
	 * Cached reads completed inside io_uring_enter: take them now, on this
	 * thread.  Only ops still in the ring afterwards (punted to io-wq, or
	 * reaped by nobody because another reaper held the lock) need the
	 * completion thread; waking it for nothing costs a thread switch per batch.
	 */
	gateway_uring_reap(gateway, false);
	if (__atomic_load_n(&uring->ring_ops, __ATOMIC_SEQ_CST) > 0)
		uring_wake_idle(uring);
}

bool gateway_uring_reap(struct dbos_gateway *gateway, bool may_block_on_lock)
{
	struct gateway_uring *uring = gateway->uring;
	struct uring_slot taken[URING_REAP_ROUND_MAX];
	int64_t results[URING_REAP_ROUND_MAX];
	uint32_t freed[URING_REAP_ROUND_MAX];
	uint32_t count = 0;

	/* 1. Copy up to a round of CQEs out of the ring. */
	if (may_block_on_lock)
		pthread_mutex_lock(&uring->cq_lock);
	else if (pthread_mutex_trylock(&uring->cq_lock) != 0)
		return false;
	unsigned head = *uring->cq_khead;
	unsigned tail = __atomic_load_n(uring->cq_ktail, __ATOMIC_ACQUIRE);
	for (; head != tail && count < URING_REAP_ROUND_MAX; head++) {
		const struct io_uring_cqe *cqe = &uring->cqes[head & *uring->cq_kmask];
		if (cqe->user_data == URING_STOP_USER_DATA)
			continue;
		DBOS_ASSERT(cqe->user_data < uring->sq_entries);
		freed[count] = (uint32_t)cqe->user_data;
		struct uring_slot *slot = &uring->slots[freed[count]];
		taken[count].batch = __atomic_load_n(&slot->batch, __ATOMIC_ACQUIRE);
		taken[count].index = slot->index;
		taken[count].fallback = slot->fallback;
		results[count] = cqe->res;
		count++;
	}
	__atomic_store_n(uring->cq_khead, head, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&uring->cq_lock);
	if (count == 0)
		return false;

	/* 2. Return the slots and refill the ring from the backlog. */
	pthread_mutex_lock(&uring->sq_lock);
	for (uint32_t i = 0; i < count; i++)
		uring->slot_free[uring->slot_free_count++] = freed[i];
	__atomic_fetch_sub(&uring->ring_ops, count, __ATOMIC_SEQ_CST);
	uint32_t added = uring_pump(gateway);
	pthread_mutex_unlock(&uring->sq_lock);
	if (added)
		uring_submit_pending(uring);

	/*
	 * 3. Count down (the last touch of the gateway: close() may proceed),
	 * then record results, which wakes waiters and finishes whole batches.
	 * Ops the kernel's io_uring lacks ran as NOPs: run them now.
	 */
	__atomic_fetch_sub(&gateway->inflight, count, __ATOMIC_ACQ_REL);
	for (uint32_t i = 0; i < count; i++) {
		struct uring_slot entry = taken[i];
		int64_t result = entry.fallback ? gateway_syscall_run(&entry.batch->ops[entry.index]) : results[i];
		dbos_io_complete_fn on_complete;
		if (dbos_io_batch_record(entry.batch, entry.index, result, &on_complete))
			dbos_io_batch_finish(entry.batch, on_complete);
	}
	return true;
}

static void *uring_completion_main(void *opaque)
{
	struct dbos_gateway *gateway = opaque;
	struct gateway_uring *uring = gateway->uring;
	while (!__atomic_load_n(&uring->stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&uring->ring_ops, __ATOMIC_SEQ_CST) == 0) {
			/* Idle: sleep until a submit puts ops into the ring (Dekker with uring_wake_idle). */
			uint32_t word = __atomic_load_n(&uring->idle_word, __ATOMIC_SEQ_CST);
			__atomic_store_n(&uring->idle, 1, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&uring->ring_ops, __ATOMIC_SEQ_CST) == 0 &&
			    !__atomic_load_n(&uring->stop, __ATOMIC_SEQ_CST))
				dbos_platform_wait(&uring->idle_word, word, URING_IDLE_SLEEP_NS);
			__atomic_store_n(&uring->idle, 0, __ATOMIC_SEQ_CST);
			continue;
		}
		/* Also submits any SQEs a submitter could not (EAGAIN retries ran out). */
		long rc = uring_enter(uring->fd, uring_unsubmitted(uring), 1, IORING_ENTER_GETEVENTS);
		if (rc < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) {
			/*
			 * Only a ring fd closed behind our back (EBADF) gets here.  Do not
			 * abort the process: say so once, and keep polling slowly; ops
			 * already in the ring can no longer complete.
			 */
			if (!uring->enter_failed)
				dbos_platform_log(DBOS_LOG_ERROR,
						  "dbos gateway: io_uring_enter failed; was the ring fd closed?");
			uring->enter_failed = true;
			uint32_t word = 0;
			dbos_platform_wait(&word, 0, URING_IDLE_SLEEP_NS);
		}
		while (gateway_uring_reap(gateway, true))
			;
	}
	return NULL;
}

dbos_status gateway_uring_start(struct dbos_gateway *gateway)
{
	struct gateway_uring *uring = calloc(1, sizeof(*uring));
	if (!uring)
		return DBOS_ENOMEM;
	uring->fd = -1;
	pthread_mutex_init(&uring->sq_lock, NULL);
	pthread_mutex_init(&uring->cq_lock, NULL);

	struct io_uring_params params;
	memset(&params, 0, sizeof(params));
	params.flags = IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
	long fd = uring_setup(gateway->queue_depth, &params);
	if (fd < 0 && errno == EINVAL) { /* before Linux 5.18: no SUBMIT_ALL */
		memset(&params, 0, sizeof(params));
		params.flags = IORING_SETUP_CLAMP;
		fd = uring_setup(gateway->queue_depth, &params);
	}
	if (fd < 0) {
		int error = errno;
		gateway->uring_setup_errno = error; /* AUTO's fallback reports it (gateway_mechanism.c) */
		uring_free(uring);
		/* ENOSYS: no io_uring; EPERM: io_uring_disabled or a seccomp/LSM refusal. */
		if (error == ENOSYS)
			return DBOS_ENOTSUP;
		return error == EPERM || error == EACCES ? DBOS_EPERM : dbos_host_status_from_errno(error);
	}
	uring->fd = (int)fd;
	uring->sq_entries = params.sq_entries;
	uring->cq_entries = params.cq_entries;
	DBOS_ASSERT(uring->cq_entries >= uring->sq_entries); /* slots bound CQ use: no overflow */
	dbos_status status = uring_map(uring, &params);
	uring->slots = calloc(uring->sq_entries, sizeof(*uring->slots));
	uring->slot_free = calloc(uring->sq_entries, sizeof(*uring->slot_free));
	if (status == DBOS_OK && (!uring->slots || !uring->slot_free))
		status = DBOS_ENOMEM;
	if (status != DBOS_OK) {
		uring_free(uring);
		return status;
	}
	for (uint32_t i = 0; i < uring->sq_entries; i++)
		uring->slot_free[i] = uring->sq_entries - 1 - i;
	uring->slot_free_count = uring->sq_entries;
	uring_probe_opcodes(uring);
	for (int op = 1; op < DBOS_IO_OPCODE_COUNT; op++)
		if (gateway->syscall_opcodes & (1u << op))
			uring->supported[op] = false;
	gateway->queue_depth = uring->sq_entries;
	gateway->uring = uring;
	if (pthread_create(&uring->completion_thread, NULL, uring_completion_main, gateway) != 0) {
		gateway->uring = NULL;
		uring_free(uring);
		return DBOS_ENOMEM;
	}
	return DBOS_OK;
}

uint32_t gateway_uring_fallback_opcodes(const struct dbos_gateway *gateway)
{
	uint32_t mask = 0;
	for (int op = 1; op < DBOS_IO_OPCODE_COUNT; op++)
		if (!gateway->uring->supported[op])
			mask |= 1u << op;
	return mask;
}

void gateway_uring_stop(struct dbos_gateway *gateway)
{
	struct gateway_uring *uring = gateway->uring;
	__atomic_store_n(&uring->stop, true, __ATOMIC_SEQ_CST);
	/* The completion thread may sleep in the kernel: a NOP completion wakes it. */
	pthread_mutex_lock(&uring->sq_lock);
	struct io_uring_sqe *sqe = &uring->sqes[uring->sq_tail & *uring->sq_kmask];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_NOP;
	sqe->user_data = URING_STOP_USER_DATA;
	uring->sq_tail++;
	__atomic_store_n(uring->sq_ktail, uring->sq_tail, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&uring->sq_lock);
	uring_submit_pending(uring);
	__atomic_fetch_add(&uring->idle_word, 1, __ATOMIC_SEQ_CST);
	dbos_platform_wake(&uring->idle_word, 1);
	pthread_join(uring->completion_thread, NULL);
	DBOS_ASSERT(__atomic_load_n(&uring->ring_ops, __ATOMIC_SEQ_CST) == 0);
	gateway->uring = NULL;
	uring_free(uring);
}
