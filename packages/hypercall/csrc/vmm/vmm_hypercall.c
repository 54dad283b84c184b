/*
 * vmm_hypercall.c - serve a vCPU's hypercall ring (dbos/hypercall_abi.h).
 *
 * Everything the guest wrote is untrusted: each request is copied out of
 * guest memory once, then checked; buffers are translated with
 * vmm_memory_range* (inside guest RAM or -EFAULT); sizes and counts against
 * the ABI limits (-EINVAL); descriptors against the VM's fd table (-EBADF).
 * The ring indices the host acts on are its own copies (vcpu->sq_head,
 * cq_tail); the guest only ever sees them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

/* ---- The fd table: guest descriptors are indices, host fds never leak in ---- */

void vmm_fds_init(struct dbos_guest *vm)
{
	for (uint32_t i = 0; i < DBOS_HC_FD_MAX; i++)
		vm->fds[i] = (struct vmm_fd){ .host_fd = -1 };
}

void vmm_fds_close_all(struct dbos_guest *vm)
{
	for (uint32_t i = 0; i < DBOS_HC_FD_MAX; i++) {
		if (vm->fds[i].host_fd >= 0)
			close(vm->fds[i].host_fd);
		vm->fds[i].host_fd = -1;
	}
}

/* True when the host fd is a directory (fstat; a failure counts as not). */
static bool fd_is_directory(int host_fd)
{
	struct stat status;
	return fstat(host_fd, &status) == 0 && S_ISDIR(status.st_mode);
}

/*
 * Adds an owned host fd with its rights; returns the guest fd or -EMFILE
 * (the fd is then closed).
 */
static int32_t fd_insert(struct dbos_guest *vm, int host_fd, bool writable)
{
	bool directory = fd_is_directory(host_fd);
	pthread_mutex_lock(&vm->fd_lock);
	for (uint32_t i = 0; i < DBOS_HC_FD_MAX; i++) {
		if (vm->fds[i].host_fd < 0) {
			vm->fds[i] =
				(struct vmm_fd){ .host_fd = host_fd, .writable = writable, .directory = directory };
			pthread_mutex_unlock(&vm->fd_lock);
			return (int32_t)i;
		}
	}
	pthread_mutex_unlock(&vm->fd_lock);
	close(host_fd);
	return -EMFILE;
}

/* A pinned guest fd: the host fd and the rights it carries. */
struct fd_pin {
	int host_fd;
	bool writable;
};

/* Pin a guest fd for one operation; returns 0 with *pin filled, or -EBADF. */
static int fd_acquire(struct dbos_guest *vm, int32_t guest_fd, struct fd_pin *pin)
{
	if (guest_fd < 0 || (uint32_t)guest_fd >= DBOS_HC_FD_MAX)
		return -EBADF;
	pthread_mutex_lock(&vm->fd_lock);
	struct vmm_fd *entry = &vm->fds[guest_fd];
	bool open = entry->host_fd >= 0 && !entry->closing;
	if (open) {
		entry->users++;
		*pin = (struct fd_pin){ .host_fd = entry->host_fd, .writable = entry->writable };
	}
	pthread_mutex_unlock(&vm->fd_lock);
	return open ? 0 : -EBADF;
}

static void fd_release(struct dbos_guest *vm, int32_t guest_fd)
{
	pthread_mutex_lock(&vm->fd_lock);
	struct vmm_fd *entry = &vm->fds[guest_fd];
	int to_close = -1;
	if (--entry->users == 0 && entry->closing) {
		to_close = entry->host_fd;
		*entry = (struct vmm_fd){ .host_fd = -1 };
	}
	pthread_mutex_unlock(&vm->fd_lock);
	if (to_close >= 0)
		close(to_close);
}

/* Close a guest fd now, or when its last in-flight operation ends. */
static int fd_close(struct dbos_guest *vm, int32_t guest_fd)
{
	if (guest_fd < 0 || (uint32_t)guest_fd >= DBOS_HC_FD_MAX)
		return -EBADF;
	pthread_mutex_lock(&vm->fd_lock);
	struct vmm_fd *entry = &vm->fds[guest_fd];
	int to_close = -1;
	int result = 0;
	if (entry->host_fd < 0 || entry->closing) {
		result = -EBADF;
	} else if (entry->users > 0) {
		entry->closing = true;
	} else {
		to_close = entry->host_fd;
		*entry = (struct vmm_fd){ .host_fd = -1 };
	}
	pthread_mutex_unlock(&vm->fd_lock);
	if (to_close >= 0)
		close(to_close);
	return result;
}

dbos_status dbos_guest_fd_grant(dbos_guest *vm, int host_fd, enum dbos_guest_access access, int32_t *guest_fd_out)
{
	if (!vm || host_fd < 0 || !guest_fd_out ||
	    (access != DBOS_GUEST_ACCESS_READ_ONLY && access != DBOS_GUEST_ACCESS_READ_WRITE))
		return DBOS_EINVAL;
	if (atomic_load(&vm->stopping))
		return DBOS_ECLOSED; /* the table was closed: a new entry would leak */
	int flags = fcntl(host_fd, F_GETFL);
	if (flags < 0)
		return DBOS_EINVAL; /* not an open descriptor */
	/* Rights never exceed the host descriptor's: a file it cannot write is not granted read-write. */
	bool host_writes = (flags & O_ACCMODE) != O_RDONLY && !(flags & O_PATH);
	if (access == DBOS_GUEST_ACCESS_READ_WRITE && !host_writes && !fd_is_directory(host_fd))
		return DBOS_EPERM;
	int copy = fcntl(host_fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0)
		return errno == EBADF ? DBOS_EINVAL : DBOS_ELIMIT;
	int32_t guest_fd = fd_insert(vm, copy, access == DBOS_GUEST_ACCESS_READ_WRITE);
	if (guest_fd < 0)
		return DBOS_ELIMIT;
	*guest_fd_out = guest_fd;
	return DBOS_OK;
}

dbos_status dbos_guest_fd_revoke(dbos_guest *vm, int32_t guest_fd)
{
	return fd_close(vm, guest_fd) == 0 ? DBOS_OK : DBOS_EINVAL;
}

/* ---- Operations ------------------------------------------------------------ */

static int64_t errno_result(long rc)
{
	return rc < 0 ? -(int64_t)errno : (int64_t)rc;
}

static int64_t op_rw(struct dbos_guest *vm, const struct dbos_hc_request *r, int host_fd)
{
	uint64_t length = r->args[1], offset = r->args[2];
	if (length > DBOS_HC_IO_SIZE_MAX || offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (r->op == DBOS_HC_PREAD) {
		void *buffer = vmm_memory_range_writable(vm, r->args[0], length);
		return buffer ? errno_result(pread(host_fd, buffer, length, (off_t)offset)) : -EFAULT;
	}
	const void *buffer = vmm_memory_range(vm, r->args[0], length);
	return buffer ? errno_result(pwrite(host_fd, buffer, length, (off_t)offset)) : -EFAULT;
}

static int64_t op_rwv(struct dbos_guest *vm, const struct dbos_hc_request *r, int host_fd)
{
	uint64_t count = r->args[1], offset = r->args[2];
	if (count > DBOS_HC_IOV_MAX || offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	const void *guest_iov = vmm_memory_range(vm, r->args[0], count * sizeof(struct dbos_hc_iovec));
	if (!guest_iov)
		return -EFAULT;
	struct dbos_hc_iovec copy[DBOS_HC_IOV_MAX]; /* one read of guest memory, then checks */
	memcpy(copy, guest_iov, count * sizeof(struct dbos_hc_iovec));
	struct iovec iov[DBOS_HC_IOV_MAX];
	uint64_t total = 0;
	bool writes_guest = r->op == DBOS_HC_PREADV;
	for (uint64_t i = 0; i < count; i++) {
		if (copy[i].length > DBOS_HC_IO_SIZE_MAX - total)
			return -EINVAL;
		total += copy[i].length;
		void *base = writes_guest ? vmm_memory_range_writable(vm, copy[i].address, copy[i].length)
					  : vmm_memory_range(vm, copy[i].address, copy[i].length);
		if (!base)
			return -EFAULT;
		iov[i] = (struct iovec){ .iov_base = base, .iov_len = copy[i].length };
	}
	long rc = writes_guest ? preadv(host_fd, iov, (int)count, (off_t)offset)
			       : pwritev(host_fd, iov, (int)count, (off_t)offset);
	return errno_result(rc);
}

/* O_CLOEXEC is accepted, as the host gateway accepts it, and added anyway: no guest fd leaks into an exec. */
#define OPEN_FLAGS_ALLOWED                                                                                            \
	(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECTORY | O_DIRECT | O_DSYNC | O_SYNC | O_NOFOLLOW | \
	 O_PATH | O_TMPFILE | O_NOATIME | O_LARGEFILE | O_NONBLOCK | O_CLOEXEC)

/*
 * Flags that write, create or truncate, or that reach a file without
 * reading it (O_PATH): refused beneath a read-only directory.  O_TMPFILE
 * includes O_DIRECTORY, so it is matched whole.
 */
static bool open_flags_write(uint64_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_PATH)) ||
	       (flags & O_TMPFILE) == O_TMPFILE;
}

/* Creation modes carry permission bits only: no setuid, setgid or sticky bit from a guest. */
#define OPEN_MODE_MASK 0777u

static int64_t op_openat(struct dbos_guest *vm, const struct dbos_hc_request *r, const struct fd_pin *dir)
{
	uint64_t flags = r->args[1], mode = r->args[2];
	if ((flags & ~(uint64_t)OPEN_FLAGS_ALLOWED) || mode > 07777)
		return -EINVAL;
	if (!dir->writable && open_flags_write(flags))
		return -EROFS; /* beneath a read-only grant */
	/* The path must end inside guest RAM within PATH_MAX bytes. */
	uint64_t room = r->args[0] < vm->ram_size ? vm->ram_size - r->args[0] : 0;
	uint64_t window = room < DBOS_HC_PATH_MAX ? room : DBOS_HC_PATH_MAX;
	const char *guest_path = vmm_memory_range(vm, r->args[0], window);
	if (!guest_path || window == 0)
		return -EFAULT;
	char path[DBOS_HC_PATH_MAX];
	memcpy(path, guest_path, window); /* copy first: the guest may change it under us */
	if (!memchr(path, 0, window))
		return window == DBOS_HC_PATH_MAX ? -ENAMETOOLONG : -EFAULT;
	bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.mode = creates ? (mode & OPEN_MODE_MASK) : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dir->host_fd, path, &how, sizeof(how));
	if (fd < 0)
		return -(int64_t)errno;
	return fd_insert(vm, (int)fd, dir->writable); /* what is opened beneath inherits the rights */
}

static int64_t op_statx(struct dbos_guest *vm, const struct dbos_hc_request *r, int host_fd)
{
	void *buffer = vmm_memory_range_writable(vm, r->args[1], sizeof(struct statx));
	if (!buffer)
		return -EFAULT;
	struct statx result;
	if (statx(host_fd, "", AT_EMPTY_PATH, (unsigned)r->args[0], &result) != 0)
		return -(int64_t)errno;
	memcpy(buffer, &result, sizeof(result));
	return 0;
}

static int64_t op_clock(const struct dbos_hc_request *r)
{
	clockid_t clock = r->args[0] == 0 ? CLOCK_REALTIME : r->args[0] == 1 ? CLOCK_MONOTONIC : -1;
	if (clock == (clockid_t)-1)
		return -EINVAL;
	struct timespec now;
	clock_gettime(clock, &now);
	return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* WAIT: futex on the host mapping of the guest word, in slices so stop() is noticed. */
static int64_t op_wait(struct dbos_guest *vm, const struct dbos_hc_request *r, bool may_block)
{
	if (!may_block)
		return -EINVAL; /* the async service thread must never sleep on a guest word */
	if (r->args[0] % 4 != 0)
		return -EINVAL;
	uint32_t *word = vmm_memory_range(vm, r->args[0], 4);
	if (!word)
		return -EFAULT;
	uint32_t expected = (uint32_t)r->args[1];
	uint64_t timeout_ns = r->args[2], waited_ns = 0;
	for (;;) {
		if (atomic_load(&vm->stopping))
			return -EINTR;
		if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != expected)
			return 0;
		uint64_t slice =
			timeout_ns - waited_ns < VMM_WAIT_SLICE_NS ? timeout_ns - waited_ns : VMM_WAIT_SLICE_NS;
		if (slice == 0)
			return -ETIMEDOUT;
		struct timespec relative = { .tv_sec = 0, .tv_nsec = (long)slice };
		long rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, &relative, NULL, 0);
		if (rc == 0)
			return 0;
		if (errno == EAGAIN)
			return 0; /* the word changed before we slept */
		if (errno != ETIMEDOUT && errno != EINTR)
			return -(int64_t)errno;
		if (errno == ETIMEDOUT)
			waited_ns += slice;
	}
}

static int64_t op_wake(struct dbos_guest *vm, const struct dbos_hc_request *r)
{
	if (r->args[0] % 4 != 0)
		return -EINVAL;
	uint32_t *word = vmm_memory_range(vm, r->args[0], 4);
	if (!word)
		return -EFAULT;
	int count = r->args[1] > INT32_MAX ? INT32_MAX : (int)r->args[1];
	return errno_result(syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0));
}

static int64_t op_log(struct dbos_guest *vm, const struct dbos_hc_request *r)
{
	static const char *const levels[] = { "debug", "info", "warn", "error" };
	uint64_t length = r->args[2];
	if (r->args[0] > 3 || length > DBOS_HC_LOG_SIZE_MAX)
		return -EINVAL;
	const char *text = vmm_memory_range(vm, r->args[1], length);
	if (!text)
		return -EFAULT;
	char line[DBOS_HC_LOG_SIZE_MAX + 16];
	int prefix = snprintf(line, sizeof(line), "[%s] ", levels[r->args[0]]);
	memcpy(line + prefix, text, length);
	size_t line_length = (size_t)prefix + length;
	line[line_length++] = '\n';
	pthread_mutex_lock(&vm->log_lock);
	int64_t result = -ENOSPC; /* full: the host has not taken the log; drop, don't block */
	if (line_length <= VMM_LOG_SIZE_MAX - vm->log_length) {
		memcpy(vm->log + vm->log_length, line, line_length);
		vm->log_length += line_length;
		result = 0;
	}
	pthread_mutex_unlock(&vm->log_lock);
	return result;
}

/* Ops that change a file: refused on a descriptor without write rights. */
static bool op_writes(uint16_t op)
{
	return op == DBOS_HC_PWRITE || op == DBOS_HC_PWRITEV || op == DBOS_HC_FTRUNCATE || op == DBOS_HC_FALLOCATE;
}

/* One op on a pinned descriptor, its rights already checked. */
static int64_t op_on_fd(struct dbos_guest *vm, const struct dbos_hc_request *r, const struct fd_pin *pin)
{
	int host_fd = pin->host_fd;
	switch (r->op) {
	case DBOS_HC_PREAD:
	case DBOS_HC_PWRITE: return op_rw(vm, r, host_fd);
	case DBOS_HC_PREADV:
	case DBOS_HC_PWRITEV: return op_rwv(vm, r, host_fd);
	case DBOS_HC_FSYNC: return errno_result(fsync(host_fd));
	case DBOS_HC_FDATASYNC: return errno_result(fdatasync(host_fd));
	case DBOS_HC_OPENAT: return op_openat(vm, r, pin);
	case DBOS_HC_FALLOCATE:
		if (r->args[1] > INT64_MAX || r->args[2] > INT64_MAX || r->args[0] > INT32_MAX)
			return -EINVAL;
		return errno_result(fallocate(host_fd, (int)r->args[0], (off_t)r->args[1], (off_t)r->args[2]));
	case DBOS_HC_FTRUNCATE:
		return r->args[0] > INT64_MAX ? -EINVAL : errno_result(ftruncate(host_fd, (off_t)r->args[0]));
	case DBOS_HC_STATX: return op_statx(vm, r, host_fd);
	default: return -ENOSYS;
	}
}

/* Ops on a descriptor: pin it for the duration; a write through a read-only grant is -EBADF. */
static int64_t op_with_fd(struct vmm_vcpu *vcpu, const struct dbos_hc_request *r)
{
	struct dbos_guest *vm = vcpu->vm;
	struct fd_pin pin;
	int pinned = fd_acquire(vm, r->fd, &pin);
	if (pinned < 0)
		return pinned;
	int64_t result = op_writes(r->op) && !pin.writable ? -EBADF : op_on_fd(vm, r, &pin);
	fd_release(vm, r->fd);
	return result;
}

static int64_t request_serve(struct vmm_vcpu *vcpu, const struct dbos_hc_request *r, bool may_block,
			     bool *exit_requested)
{
	switch (r->op) {
	case DBOS_HC_NOP: return 0;
	case DBOS_HC_CLOSE: return fd_close(vcpu->vm, r->fd);
	case DBOS_HC_CLOCK_GETTIME: return op_clock(r);
	case DBOS_HC_WAIT: return op_wait(vcpu->vm, r, may_block);
	case DBOS_HC_WAKE: return op_wake(vcpu->vm, r);
	case DBOS_HC_LOG: return op_log(vcpu->vm, r);
	case DBOS_HC_EXIT: *exit_requested = true; return 0;
	default: return r->op < DBOS_HC_OP_COUNT ? op_with_fd(vcpu, r) : -ENOSYS;
	}
}

static enum vmm_serve_result ring_corrupt(struct vmm_vcpu *vcpu, const char *what)
{
	struct dbos_guest_failure failure;
	memset(&failure, 0, sizeof(failure));
	failure.kind = DBOS_GUEST_FAILURE_PROTOCOL;
	failure.vcpu = vcpu->index;
	snprintf(failure.message, sizeof(failure.message), "vCPU %u: hypercall ring corrupt: %s", vcpu->index, what);
	vmm_fail(vcpu->vm, &failure);
	return VMM_SERVE_FAILED;
}

enum vmm_serve_result vmm_hypercall_serve(struct vmm_vcpu *vcpu, bool may_block)
{
	struct dbos_guest *vm = vcpu->vm;
	struct dbos_hc_ring *ring = vmm_memory_ring(vm, vcpu->index);
	enum vmm_serve_result outcome = VMM_SERVE_OK;
	bool exit_requested = false;
	int64_t exit_code = 0;
	pthread_mutex_lock(&vcpu->ring_lock);
	uint32_t sq_tail = __atomic_load_n(&ring->sq_tail, __ATOMIC_ACQUIRE);
	uint32_t cq_head = __atomic_load_n(&ring->cq_head, __ATOMIC_ACQUIRE);
	uint32_t pending = sq_tail - vcpu->sq_head;
	uint32_t used = vcpu->cq_tail - cq_head;
	if (pending > DBOS_HC_RING_ENTRIES || used > DBOS_HC_RING_ENTRIES) {
		pthread_mutex_unlock(&vcpu->ring_lock);
		return ring_corrupt(vcpu, pending > DBOS_HC_RING_ENTRIES ? "sq_tail is out of range"
									 : "cq_head is out of range");
	}
	uint32_t count = pending < DBOS_HC_RING_ENTRIES - used ? pending : DBOS_HC_RING_ENTRIES - used;
	for (uint32_t i = 0; i < count && !exit_requested; i++) {
		struct dbos_hc_request request;
		memcpy(&request, &ring->sq[vcpu->sq_head % DBOS_HC_RING_ENTRIES], sizeof(request));
		int64_t result = request_serve(vcpu, &request, may_block, &exit_requested);
		if (exit_requested)
			exit_code = (int64_t)request.args[0];
		struct dbos_hc_completion *completion = &ring->cq[vcpu->cq_tail % DBOS_HC_RING_ENTRIES];
		completion->user_data = request.user_data;
		completion->result = result;
		vcpu->sq_head++;
		vcpu->cq_tail++;
		if (request.flags & DBOS_HC_FLAG_INTERRUPT)
			outcome = VMM_SERVE_INTERRUPT;
	}
	__atomic_store_n(&ring->sq_head, vcpu->sq_head, __ATOMIC_RELEASE);
	__atomic_store_n(&ring->cq_tail, vcpu->cq_tail, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vcpu->ring_lock);
	if (exit_requested) {
		struct dbos_guest_failure failure;
		memset(&failure, 0, sizeof(failure));
		failure.kind = DBOS_GUEST_FAILURE_EXIT;
		failure.vcpu = vcpu->index;
		failure.exit_code = exit_code;
		snprintf(failure.message, sizeof(failure.message), "vCPU %u: guest exited with code %lld", vcpu->index,
			 (long long)exit_code);
		vmm_fail(vm, &failure);
		return VMM_SERVE_FAILED;
	}
	return outcome;
}
