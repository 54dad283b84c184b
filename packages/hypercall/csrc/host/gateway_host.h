/*
 * gateway_host.h - the host gateway's internals, shared by gateway.c, its
 * two backends (gateway_uring.c, gateway_threads.c) and gateway_mechanism.c.
 *
 * Every batch passes through one queue, the backlog: submit appends it, and
 * the backend takes its ops one by one (batch->next_index) as it has room
 * (free ring slots, idle workers).  A batch leaves the backlog when its last
 * op was taken, and completes when its last result is recorded.
 */
#ifndef DBOS_GATEWAY_HOST_H
#define DBOS_GATEWAY_HOST_H

#include <pthread.h>
#include <stdint.h>

#include "dbos/hypercall.h"
#include "dbos/platform.h"

struct gateway_uring;
struct gateway_threads;

struct dbos_gateway {
	enum dbos_gateway_backend backend;
	uint32_t queue_depth;
	uint32_t thread_count;
	uint32_t syscall_opcodes; /* dbos_gateway_config.syscall_opcodes */
	int uring_setup_errno;    /* why io_uring_setup failed, when it was tried and did; else 0 */

	/* Protects the backlog and `closing`. */
	pthread_mutex_t backlog_lock;
	dbos_io_batch *backlog_head;
	dbos_io_batch *backlog_tail;
	bool closing;

	/* Ops accepted by submit and not yet completed (backlog included). */
	uint64_t inflight;

	struct gateway_uring *uring;
	struct gateway_threads *threads;
};

/* Take the next op from the backlog (backlog_lock held).  False when empty. */
bool gateway_backlog_take(struct dbos_gateway *gateway, dbos_io_batch **batch_out, uint32_t *index_out);

/*
 * Record one op's result and finish its batch if it was the last; keeps
 * `inflight` exact.  Any thread, no lock held.
 */
void gateway_complete(struct dbos_gateway *gateway, dbos_io_batch *batch, uint32_t index, int64_t result);

/* Run one op with plain system calls: >= 0 result or -errno. */
int64_t gateway_syscall_run(const dbos_io_op *op);

/* ---- io_uring backend (gateway_uring.c) ---- */
dbos_status gateway_uring_start(struct dbos_gateway *gateway);
void gateway_uring_kick(struct dbos_gateway *gateway); /* the backlog grew */
bool gateway_uring_reap(struct dbos_gateway *gateway, bool may_block_on_lock);
void gateway_uring_stop(struct dbos_gateway *gateway);
/* Opcodes (bit 1u << op) this ring runs as plain system calls: the kernel lacks them, or the config said so. */
uint32_t gateway_uring_fallback_opcodes(const struct dbos_gateway *gateway);

/* ---- threads backend (gateway_threads.c) ---- */
dbos_status gateway_threads_start(struct dbos_gateway *gateway);
/* `count` ops joined the backlog; the submitting thread will run some itself if caller_helps. */
void gateway_threads_kick(struct dbos_gateway *gateway, uint32_t count, bool caller_helps);
bool gateway_threads_help(struct dbos_gateway *gateway); /* run one queued op here */
void gateway_threads_stop(struct dbos_gateway *gateway);

#endif
