/* gateway_syscall.c - one gateway op as a plain system call (threads backend, io_uring fallback). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gateway_host.h"

_Static_assert(DBOS_IO_AT_FDCWD == AT_FDCWD, "dbos and Linux agree on AT_FDCWD");
_Static_assert(sizeof(dbos_statx) == sizeof(struct statx), "dbos_statx is struct statx");
_Static_assert(sizeof(dbos_io_vec) == sizeof(struct iovec), "dbos_io_vec is struct iovec");

static int64_t syscall_result(long rc)
{
	return rc < 0 ? -(int64_t)errno : (int64_t)rc;
}

int64_t gateway_syscall_run(const dbos_io_op *op)
{
	void *address = (void *)(uintptr_t)op->address;
	const char *path = (const char *)(uintptr_t)op->path;
	off_t offset = (off_t)op->offset;
	switch (op->opcode) {
	case DBOS_IO_PREAD: return syscall_result(pread(op->fd, address, op->length, offset));
	case DBOS_IO_PWRITE: return syscall_result(pwrite(op->fd, address, op->length, offset));
	case DBOS_IO_PREADV: return syscall_result(preadv2(op->fd, address, (int)op->length, offset, (int)op->flags));
	case DBOS_IO_PWRITEV: return syscall_result(pwritev2(op->fd, address, (int)op->length, offset, (int)op->flags));
	case DBOS_IO_FSYNC: return syscall_result(fsync(op->fd));
	case DBOS_IO_FDATASYNC: return syscall_result(fdatasync(op->fd));
	case DBOS_IO_OPENAT:
		/* O_CLOEXEC is the caller's choice, as with io_uring's openat. */
		return syscall_result(openat(op->fd, path, (int)op->flags, (mode_t)op->mode));
	case DBOS_IO_CLOSE: return syscall_result(close(op->fd));
	case DBOS_IO_FALLOCATE: return syscall_result(fallocate(op->fd, (int)op->flags, offset, (off_t)op->length));
	case DBOS_IO_FTRUNCATE: return syscall_result(ftruncate(op->fd, offset));
	case DBOS_IO_STATX: return syscall_result(statx(op->fd, path, (int)op->flags, op->mode, address));
	}
	return -EINVAL;
}
