/*
 * bp_lock.c - one pool per file (host): an flock(2) on the pool's own file description.
 *
 * Two pools writing one file would overwrite each other's pages and header, so open takes
 * an exclusive lock (shared for read-only pools).  flock locks belong to the open file
 * description, so a second open in the same process conflicts like one in another process,
 * and the lock goes away with the description, also when the process dies.
 *
 * "Goes away" is not instant after a kill: the dead pool's io_uring still holds the file
 * for the reads and writes it had in flight, and the kernel tears the ring down in the
 * background.  The lock is on the very description those writes use, so it also says "a
 * dead pool's writes may still land".  Open therefore retries for BP_LOCK_WAIT_NS (a
 * restart right after kill -9 must work) and only then reports DBOS_EBUSY.  The gateway
 * has no lock op: flock and the short sleeps between tries are the pool's only direct
 * system calls, all at open.
 */
#include <errno.h>
#include <sys/file.h>
#include <time.h>

#include "../bp_internal.h"

#define BP_LOCK_WAIT_NS 1000000000ull /* how long open waits for a holder's I/O to drain */
#define BP_LOCK_RETRY_NS 2000000ull   /* between tries */

static uint64_t monotonic_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

dbos_status bp_runtime_lock_file(int32_t fd, bool exclusive, int32_t *errno_out)
{
	const uint64_t deadline = monotonic_ns() + BP_LOCK_WAIT_NS;
	const struct timespec retry = { 0, (long)BP_LOCK_RETRY_NS };
	for (;;) {
		if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) {
			*errno_out = 0;
			return DBOS_OK;
		}
		*errno_out = errno;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return DBOS_EIO;
		if (monotonic_ns() >= deadline)
			return DBOS_EBUSY;
		nanosleep(&retry, NULL);
	}
}
