/*
 * dbos/hypercall_abi.h - how guest code asks the host kernel for a system
 * call.  Shared by the VMM (host) and the guest runtime; freestanding.
 *
 * Each vCPU owns one ring in its per-vCPU area (dbos/guest_abi.h): a
 * submission queue the guest fills and a completion queue the host fills.
 *
 *   1. the guest writes requests at sq[sq_tail % ENTRIES] and publishes
 *      them by storing sq_tail (release);
 *   2. it rings a doorbell: a 4-byte MMIO write to
 *        DBOS_GUEST_MMIO_GPA + DBOS_GUEST_DOORBELL_SYNC   the vCPU exits to its
 *            host thread, which serves every published request before the
 *            vCPU resumes: completions are ready when the write "returns";
 *            the only doorbell that may carry WAIT.  The same doorbell as a
 *            port write: OUT to DBOS_GUEST_PORT_SYNC (ring 0 only; ring 3
 *            uses kernel call DBOS_KCALL_DOORBELL_SYNC);
 *        DBOS_GUEST_MMIO_GPA + DBOS_GUEST_DOORBELL_ASYNC + 8 * vcpu   an
 *            ioeventfd: the vCPU does not exit, the VMM's service thread
 *            serves the ring while the guest keeps running; the guest polls
 *            cq_tail, or sets DBOS_HC_FLAG_INTERRUPT on a request to get
 *            vector DBOS_GUEST_VECTOR_COMPLETION (irqfd + MSI) when it is done;
 *   3. the host writes one completion per request, in order, at
 *      cq[cq_tail % ENTRIES] and stores cq_tail (release);
 *   4. the guest consumes completions and stores cq_head.
 *
 * Batching: publish many requests, ring once.  Each doorbell serves at most
 * DBOS_HC_RING_ENTRIES requests and never more than the CQ has room for.
 *
 * Every address in a request is guest-physical.  The host checks that each
 * buffer [address, address + length) lies inside guest RAM before touching
 * it (-EFAULT otherwise), that lengths and counts are within the limits below
 * (-EINVAL), and that `fd` is a guest descriptor in the VM's fd table
 * (-EBADF).  Guest descriptors are small integers the host grants
 * (dbos_guest_fd_grant) or OPENAT returns; they are not host fds.
 * Results: >= 0 on success, -errno (Linux numbering) on failure.
 *
 * A ring the guest corrupted (indices more than ENTRIES apart) is a guest
 * failure (DBOS_EGUEST), not a host error.
 */
#ifndef DBOS_HYPERCALL_ABI_H
#define DBOS_HYPERCALL_ABI_H

#include <stdint.h>

#if defined(__cplusplus) && !defined(_Static_assert)
#define _Static_assert static_assert /* C++ spells it without the underscore */
#endif

#define DBOS_HC_RING_ENTRIES 64u
#define DBOS_HC_IOV_MAX 64u            /* iovecs per PREADV/PWRITEV */
#define DBOS_HC_IO_SIZE_MAX (1u << 30) /* bytes per request */
#define DBOS_HC_PATH_MAX 4096u         /* bytes of an OPENAT path incl. NUL */
#define DBOS_HC_LOG_SIZE_MAX 4096u     /* bytes per LOG request */
#define DBOS_HC_FD_MAX 256u            /* guest descriptors per VM */

enum dbos_hc_op {
	DBOS_HC_NOP = 0,            /* ()                                   -> 0 */
	DBOS_HC_PREAD = 1,          /* fd, (buf, len, offset)                -> bytes */
	DBOS_HC_PWRITE = 2,         /* fd, (buf, len, offset)                -> bytes */
	DBOS_HC_PREADV = 3,         /* fd, (iov, iov_count, offset)          -> bytes */
	DBOS_HC_PWRITEV = 4,        /* fd, (iov, iov_count, offset)          -> bytes */
	DBOS_HC_FSYNC = 5,          /* fd                                    -> 0 */
	DBOS_HC_FDATASYNC = 6,      /* fd                                    -> 0 */
	DBOS_HC_OPENAT = 7,         /* dirfd, (path, flags, mode)            -> guest fd */
	DBOS_HC_CLOSE = 8,          /* fd                                    -> 0 */
	DBOS_HC_FALLOCATE = 9,      /* fd, (mode, offset, length)            -> 0 */
	DBOS_HC_FTRUNCATE = 10,     /* fd, (length)                          -> 0 */
	DBOS_HC_STATX = 11,         /* fd, (mask, statx_buf)                 -> 0; buf: 256 bytes */
	DBOS_HC_CLOCK_GETTIME = 12, /* (clock: 0 realtime, 1 monotonic)     -> ns */
	DBOS_HC_WAIT = 13,          /* (word, expected, timeout_ns)          -> 0 | -ETIMEDOUT */
	DBOS_HC_WAKE = 14,          /* (word, count)                         -> woken */
	DBOS_HC_LOG = 15,           /* (level, text, length)                 -> 0 */
	DBOS_HC_EXIT = 16,          /* (code): the guest stops; the call fails with DBOS_EGUEST */
	DBOS_HC_OP_COUNT
};

/*
 * OPENAT resolves `path` beneath `dirfd` (openat2 RESOLVE_BENEATH): no
 * absolute paths, no "..", so a guest only reaches files under directories
 * it was given.  STATX works on descriptors only (AT_EMPTY_PATH).
 */

#define DBOS_HC_FLAG_INTERRUPT 1u /* async doorbell: raise the completion vector when served */

struct dbos_hc_request {
	uint16_t op;
	uint16_t flags;
	int32_t fd;
	uint64_t args[5];
	uint64_t user_data; /* echoed in the completion */
	uint64_t reserved;
};
_Static_assert(sizeof(struct dbos_hc_request) == 64, "request layout");

struct dbos_hc_completion {
	uint64_t user_data;
	int64_t result;
};
_Static_assert(sizeof(struct dbos_hc_completion) == 16, "completion layout");

struct dbos_hc_iovec {
	uint64_t address; /* guest-physical */
	uint64_t length;
};

struct dbos_hc_ring {
	uint32_t sq_head; /* host: next request to serve */
	uint32_t sq_tail; /* guest: one past the last published request */
	uint32_t cq_head; /* guest: next completion to consume */
	uint32_t cq_tail; /* host: one past the last completion */
	uint32_t entries; /* DBOS_HC_RING_ENTRIES, written by the host */
	uint32_t reserved[11];
	struct dbos_hc_request sq[DBOS_HC_RING_ENTRIES];
	struct dbos_hc_completion cq[DBOS_HC_RING_ENTRIES];
};
_Static_assert(sizeof(struct dbos_hc_ring) <= 0x3000, "ring fits its slot in the cpu area");

#endif /* DBOS_HYPERCALL_ABI_H */
