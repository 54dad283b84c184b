/*
 * pt_host_frames.c - frame pools on the host: one memfd per pool.
 *
 * A memfd is what lets a frame appear at several slots (and move between
 * them) without copying: every MAP_SHARED mapping of an offset shows the
 * same page-cache page.  Memory is used only for frames written or
 * populated; punching a hole frees a frame everywhere at once.
 */
#include "pt_host.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

dbos_status dbos_pt_rt_frames_init(dbos_pt_frames *frames)
{
	struct dbos_pt_rt_frames *rt = dbos_platform_alloc(sizeof(*rt));
	if (rt == NULL)
		return DBOS_ENOMEM;
	size_t size = frames->count * DBOS_PAGE_SIZE;
	rt->memfd = memfd_create("dbos-frames", MFD_CLOEXEC);
	if (rt->memfd < 0)
		goto fail;
	if (ftruncate(rt->memfd, (off_t)size) != 0)
		goto fail_fd;
	void *address = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, rt->memfd, 0);
	if (address == MAP_FAILED)
		goto fail_fd;
	frames->address = address;
	frames->rt = rt;
	return DBOS_OK;

fail_fd:;
	int saved = errno;
	close(rt->memfd);
	errno = saved;
fail:;
	dbos_status status = dbos_host_status_from_errno(errno);
	dbos_platform_free(rt, sizeof(*rt));
	return status;
}

void dbos_pt_rt_frames_fini(dbos_pt_frames *frames)
{
	struct dbos_pt_rt_frames *rt = frames->rt;
	DBOS_ASSERT(rt != NULL);
	munmap(frames->address, frames->count * DBOS_PAGE_SIZE);
	close(rt->memfd);
	dbos_platform_free(rt, sizeof(*rt));
	frames->rt = NULL;
	frames->address = NULL;
}

dbos_status dbos_pt_rt_frames_release(dbos_pt_frames *frames, uint64_t first, uint64_t count)
{
	DBOS_ASSERT(first + count <= frames->count);
	if (fallocate(frames->rt->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(first * DBOS_PAGE_SIZE),
		      (off_t)(count * DBOS_PAGE_SIZE)) != 0)
		return dbos_host_status_from_errno(errno);
	return DBOS_OK;
}
