/* test_io_linux.c - dbos/io_linux.h names the same numbers as the C library (a mismatch fails the build). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include "dbos/io_linux.h"
_Static_assert(DBOS_IO_O_RDONLY == O_RDONLY && DBOS_IO_O_WRONLY == O_WRONLY && DBOS_IO_O_RDWR == O_RDWR,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_O_CREAT == O_CREAT && DBOS_IO_O_EXCL == O_EXCL && DBOS_IO_O_TRUNC == O_TRUNC,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_O_APPEND == O_APPEND && DBOS_IO_O_CLOEXEC == O_CLOEXEC,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_O_DIRECTORY == O_DIRECTORY && DBOS_IO_O_DIRECT == O_DIRECT,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_AT_EMPTY_PATH == AT_EMPTY_PATH && DBOS_IO_STATX_SIZE == STATX_SIZE,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_FALLOC_KEEP_SIZE == FALLOC_FL_KEEP_SIZE && DBOS_IO_FALLOC_PUNCH_HOLE == FALLOC_FL_PUNCH_HOLE,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_EPERM == EPERM && DBOS_IO_ENOENT == ENOENT && DBOS_IO_EINTR == EINTR && DBOS_IO_EIO == EIO,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_EBADF == EBADF && DBOS_IO_EAGAIN == EAGAIN && DBOS_IO_ENOMEM == ENOMEM &&
		       DBOS_IO_EACCES == EACCES,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_EEXIST == EEXIST && DBOS_IO_ENOTDIR == ENOTDIR && DBOS_IO_EISDIR == EISDIR &&
		       DBOS_IO_EINVAL == EINVAL,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_EFBIG == EFBIG && DBOS_IO_ENOSPC == ENOSPC && DBOS_IO_EROFS == EROFS,
	       "dbos/io_linux.h disagrees with the C library");
_Static_assert(DBOS_IO_EOPNOTSUPP == EOPNOTSUPP && DBOS_IO_EDQUOT == EDQUOT && DBOS_IO_ECANCELED == ECANCELED,
	       "dbos/io_linux.h disagrees with the C library");
#include "dbos_test.h"

/* The build is the test; one case so the run reports it. */
static void test_io_linux_matches_libc(void)
{
	CHECK_EQ(DBOS_IO_O_DIRECT, O_DIRECT);
	CHECK_EQ(-DBOS_IO_ENOSPC, -ENOSPC);
}

int main(void)
{
	RUN_TEST(test_io_linux_matches_libc);
	return TEST_EXIT_STATUS();
}
