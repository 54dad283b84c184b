/*
 * dbos/io_linux.h - the Linux ABI numbers that gateway ops carry.
 *
 * A dbos_io_op holds Linux's own open flags, fallocate modes, statx masks and
 * (negated) errno values: the host passes them to the kernel as they are and
 * the guest forwards them to the host unchanged.  Freestanding cores may not
 * include <fcntl.h> or <errno.h>, so they name the values here, once.
 */
#ifndef DBOS_IO_LINUX_H
#define DBOS_IO_LINUX_H

/* open / openat flags */
#define DBOS_IO_O_RDONLY 00
#define DBOS_IO_O_WRONLY 01
#define DBOS_IO_O_RDWR 02
#define DBOS_IO_O_CREAT 0100
#define DBOS_IO_O_EXCL 0200
#define DBOS_IO_O_TRUNC 01000
#define DBOS_IO_O_APPEND 02000
#define DBOS_IO_O_CLOEXEC 02000000
#if defined(__aarch64__)
#define DBOS_IO_O_DIRECTORY 040000
#define DBOS_IO_O_DIRECT 0200000
#else
#define DBOS_IO_O_DIRECTORY 0200000
#define DBOS_IO_O_DIRECT 040000
#endif

/* statx: flags and mask */
#define DBOS_IO_AT_EMPTY_PATH 0x1000
#define DBOS_IO_STATX_SIZE 0x200u

/* fallocate modes */
#define DBOS_IO_FALLOC_KEEP_SIZE 0x01
#define DBOS_IO_FALLOC_PUNCH_HOLE 0x02

/* errno values (results are their negation) */
#define DBOS_IO_EPERM 1
#define DBOS_IO_ENOENT 2
#define DBOS_IO_EINTR 4
#define DBOS_IO_EIO 5
#define DBOS_IO_EBADF 9
#define DBOS_IO_EAGAIN 11
#define DBOS_IO_ENOMEM 12
#define DBOS_IO_EACCES 13
#define DBOS_IO_EEXIST 17
#define DBOS_IO_ENOTDIR 20
#define DBOS_IO_EISDIR 21
#define DBOS_IO_EINVAL 22
#define DBOS_IO_EFBIG 27
#define DBOS_IO_ENOSPC 28
#define DBOS_IO_EROFS 30
#define DBOS_IO_EOPNOTSUPP 95
#define DBOS_IO_EDQUOT 122
#define DBOS_IO_ECANCELED 125

#include <stdint.h>

#include "dbos/status.h"

/*
 * The status for a gateway op's negative errno result (0 and positive results are DBOS_OK).
 * A file-size limit counts as a full disk: for the file being written it is one.
 */
static inline dbos_status dbos_io_status(int64_t result)
{
	if (result >= 0)
		return DBOS_OK;
	switch (-result) {
	case DBOS_IO_ENOENT: return DBOS_ENOENT;
	case DBOS_IO_EPERM:
	case DBOS_IO_EACCES:
	case DBOS_IO_EROFS: return DBOS_EPERM;
	case DBOS_IO_ENOSPC:
	case DBOS_IO_EDQUOT:
	case DBOS_IO_EFBIG: return DBOS_ENOSPC;
	case DBOS_IO_ENOMEM: return DBOS_ENOMEM;
	case DBOS_IO_EEXIST: return DBOS_EEXIST;
	case DBOS_IO_EINVAL: return DBOS_EINVAL;
	default: return DBOS_EIO;
	}
}

#endif /* DBOS_IO_LINUX_H */
