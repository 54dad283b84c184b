/*
 * bp_lock.c - one pool per file (host): an flock(2) on the pool's own file description.
 *
 * Two pools writing one file would overwrite each other's pages and header, so open takes
 * an exclusive lock (shared for read-only pools) and fails at once when another holds it.
 * flock locks belong to the open file description, so a second open in the same process
 * conflicts like one in another process, and the lock goes away with the descriptor,
 * also when the process dies.  The gateway has no lock op: this is the one direct system
 * call the pool makes, at open.
 */
#include <errno.h>
#include <sys/file.h>

#include "../bp_internal.h"

dbos_status bp_runtime_lock_file(int32_t fd, bool exclusive, int32_t *errno_out)
{
	int result;
	do
		result = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
	while (result != 0 && errno == EINTR);
	*errno_out = result == 0 ? 0 : errno;
	if (result == 0)
		return DBOS_OK;
	return errno == EWOULDBLOCK ? DBOS_EBUSY : DBOS_EIO;
}
