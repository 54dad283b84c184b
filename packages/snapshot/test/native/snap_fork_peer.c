/*
 * snap_fork_peer.c - the benchmark's peer for image streaming: what a fork()-based saver
 * (Redis' BGSAVE) does at best.  A child made by fork() holds the memory as it was; it writes
 * the raw bytes with pwrite(2), 8 MiB per call, through the page cache, with no format, no
 * checksum and no fsync, and exits.  Never shipped: built into the test-only workload addon.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snap_workload.h"

#define SNAP_FORK_PEER_CHUNK ((uint64_t)8 << 20)

static uint64_t snap_fork_peer_now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* The child: raw system calls only (it is a copy of one thread of a Node process). */
static _Noreturn void snap_fork_peer_child(const uint8_t *base, uint64_t size, int fd)
{
	int code = 0;
	for (uint64_t offset = 0; offset < size && code == 0;) {
		uint64_t length = size - offset < SNAP_FORK_PEER_CHUNK ? size - offset : SNAP_FORK_PEER_CHUNK;
		long written = syscall(SYS_pwrite64, fd, base + offset, length, offset);
		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			code = 1;
		else
			offset += (uint64_t)written;
	}
	syscall(SYS_exit_group, code);
	__builtin_unreachable();
}

dbos_status snap_fork_peer_write(const uint8_t *base, uint64_t size, int fd, uint64_t *ns_out)
{
	uint64_t started_ns = snap_fork_peer_now_ns();
	/* A raw clone(SIGCHLD) is fork() without the atfork handlers of any library in the process. */
	long child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (child < 0)
		return DBOS_ENOMEM;
	if (child == 0)
		snap_fork_peer_child(base, size, fd);
	int wait_status = 0;
	while (waitpid((pid_t)child, &wait_status, 0) < 0)
		if (errno != EINTR)
			return DBOS_EIO;
	*ns_out = snap_fork_peer_now_ns() - started_ns;
	return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0 ? DBOS_OK : DBOS_EIO;
}
