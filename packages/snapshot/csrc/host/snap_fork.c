/*
 * snap_fork.c - FORK: a child process made by fork() holds the frozen image.
 *
 * The kernel's copy-on-write keeps the child's view of the space frozen while the parent
 * keeps writing (with transparent huge pages, fork copies one PMD per 2 MiB instead of 512
 * PTEs, so it is fast; each first write then copies 2 MiB).  The child serves two commands
 * over a SOCK_SEQPACKET pair: READ (copy a range into a shared window) and WRITE (stream the
 * image to a file descriptor passed with SCM_RIGHTS, reporting progress).
 *
 * The child is a copy of one thread of a Node process: other threads' locks may be held
 * forever in it.  So it calls only raw system calls and the snapshot core's pure code (image
 * framing, CRC32C) with memory it maps itself: no malloc, no stdio, no JavaScript.  It blocks
 * every signal, dies with its parent (PR_SET_PDEATHSIG) and leaves with exit_group.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snap_host.h"

#define SNAP_FORK_WINDOW_SIZE ((size_t)1 << 20)

enum snap_fork_command {
	SNAP_FORK_READ = 1,
	SNAP_FORK_WRITE = 2,
	SNAP_FORK_EXIT = 3
};
enum snap_fork_reply {
	SNAP_FORK_DONE = 1,
	SNAP_FORK_PROGRESS = 2
};

typedef struct snap_fork_request {
	uint32_t command;
	uint16_t seekable;
	uint16_t background; /* lower the child's priority first */
	uint64_t offset;
	uint64_t length;
	uint64_t progress_interval_bytes;
} snap_fork_request;

typedef struct snap_fork_message {
	uint32_t kind;
	uint32_t status;
	uint64_t done;
	uint64_t total;
} snap_fork_message;

typedef struct snap_fork_child {
	pid_t pid;
	int socket;
	uint8_t *window;  /* MAP_SHARED: the child copies READ results here */
	dbos_mutex mutex; /* one command at a time */
} snap_fork_child;

/* ---- The child: raw system calls only ------------------------------------------ */

typedef struct snap_child_sink {
	int fd;
	bool seekable;
	int socket;
	int error; /* errno of the first failed write */
} snap_child_sink;

static long snap_raw(long number, long a, long b, long c, long d)
{
	return syscall(number, a, b, c, d, 0, 0);
}

static void snap_child_send(int socket, uint32_t kind, dbos_status status, uint64_t done, uint64_t total)
{
	snap_fork_message message = { kind, (uint32_t)status, done, total };
	snap_raw(SYS_sendto, socket, (long)&message, sizeof(message), MSG_NOSIGNAL);
}

/* One extent through the raw pwrite64 / write calls, retrying short writes and EINTR. */
static dbos_status snap_child_write_extent(snap_child_sink *sink, uint64_t offset, const uint8_t *from, uint64_t length)
{
	while (length) {
		long written = sink->seekable ? snap_raw(SYS_pwrite64, sink->fd, (long)from, (long)length, (long)offset)
					      : snap_raw(SYS_write, sink->fd, (long)from, (long)length, 0);
		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0) {
			sink->error = written == 0 ? EIO : errno;
			return sink->error == ENOSPC || sink->error == EFBIG ? DBOS_ENOSPC : DBOS_EIO;
		}
		from += written;
		offset += (uint64_t)written;
		length -= (uint64_t)written;
	}
	return DBOS_OK;
}

/* Synchronous: the child has nothing else to do while the kernel copies. */
static dbos_status snap_child_start(void *context, uint32_t buffer_index, uint64_t offset,
				    const snap_image_extent *extents, uint32_t extent_count, uint64_t length)
{
	snap_child_sink *sink = context;
	/* Extents hold the frozen pages where they are: one system call per 1 MiB request. */
	long written = sink->seekable ? snap_raw(SYS_pwritev, sink->fd, (long)extents, (long)extent_count, (long)offset)
				      : snap_raw(SYS_writev, sink->fd, (long)extents, (long)extent_count, 0);
	uint64_t skip = written > 0 ? (uint64_t)written : 0;
	for (uint32_t i = 0; i < extent_count && skip < length; i++) {
		if (skip >= extents[i].length) {
			skip -= extents[i].length;
			offset += extents[i].length;
			continue;
		}
		dbos_status status =
			snap_child_write_extent(sink, offset + skip, extents[i].bytes + skip, extents[i].length - skip);
		if (status != DBOS_OK)
			return status;
		offset += extents[i].length;
		skip = 0;
	}
	return DBOS_OK;
}

static dbos_status snap_child_finish(void *context, uint32_t buffer_index)
{
	return DBOS_OK; /* writes are synchronous */
}

/* The child's memory is the frozen image: pages are written from where they are, not copied. */
static dbos_status snap_child_source(void *context, uint64_t first, uint64_t count, uint8_t *staging,
				     const uint8_t **pages_out)
{
	dbos_snap_space *space = context;
	for (uint64_t i = 0; i < count; i++)
		pages_out[i] = space->base + (first + i) * DBOS_PAGE_SIZE;
	return DBOS_OK;
}

static void snap_child_progress(void *context, uint64_t done, uint64_t total)
{
	snap_child_sink *sink = context;
	snap_child_send(sink->socket, SNAP_FORK_PROGRESS, DBOS_OK, done, total);
}

static void *snap_child_map(size_t size)
{
	long address = syscall(SYS_mmap, 0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return address < 0 && address > -4096 ? NULL : (void *)address;
}

static dbos_status snap_child_write(dbos_snap_space *space, const snap_fork_request *request, int fd, int socket,
				    uint64_t *done_out)
{
	size_t map_size = snap_image_stream_memory_size(space->page_count);
	uint8_t *memory = snap_child_map(map_size);
	if (!memory)
		return DBOS_ENOMEM;
	snap_child_sink sink = { .fd = fd, .seekable = request->seekable != 0, .socket = socket };
	snap_image_stream stream = {
		.page_count = space->page_count,
		.epoch = 0,
		.taken_ns = 0,
		.mechanism = DBOS_SNAP_FORK,
		.source = snap_child_source,
		.source_context = space,
		.sink = { snap_child_start, snap_child_finish, &sink },
		.on_progress = snap_child_progress,
		.progress_context = &sink,
		.progress_interval_bytes = request->progress_interval_bytes,
	};
	snap_image_stream_memory_set(&stream, memory);
	dbos_status status = snap_image_produce(&stream, done_out);
	syscall(SYS_munmap, memory, map_size);
	return status;
}

/* Receive one request, with a file descriptor when one rides along. */
static long snap_child_receive(int socket, snap_fork_request *request, int *fd_out)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec vector = { request, sizeof(*request) };
	struct msghdr header = {
		.msg_iov = &vector, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)
	};
	long received = snap_raw(SYS_recvmsg, socket, (long)&header, 0, 0);
	*fd_out = -1;
	struct cmsghdr *cmsg = received > 0 ? CMSG_FIRSTHDR(&header) : NULL;
	if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
		__builtin_memcpy(fd_out, CMSG_DATA(cmsg), sizeof(int));
	return received;
}

static _Noreturn void snap_child_main(dbos_snap_space *space, int socket, uint8_t *window, long parent)
{
	uint64_t all_signals = ~(uint64_t)0;
	snap_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all_signals, 0, sizeof(all_signals));
	snap_raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0);
	if (snap_raw(SYS_getppid, 0, 0, 0, 0) != parent)
		syscall(SYS_exit_group, 0);
	for (;;) {
		snap_fork_request request;
		int fd;
		long received = snap_child_receive(socket, &request, &fd);
		if (received < 0 && errno == EINTR)
			continue;
		if (received != (long)sizeof(request) || request.command == SNAP_FORK_EXIT)
			break;
		if (request.command == SNAP_FORK_READ) {
			uint64_t size = space->page_count * DBOS_PAGE_SIZE;
			bool fits = request.length <= SNAP_FORK_WINDOW_SIZE && request.offset <= size &&
				    request.length <= size - request.offset;
			if (fits)
				__builtin_memcpy(window, space->base + request.offset, request.length);
			snap_child_send(socket, SNAP_FORK_DONE, fits ? DBOS_OK : DBOS_ERANGE, request.length, 0);
		} else if (request.command == SNAP_FORK_WRITE && fd >= 0) {
			uint64_t done = 0;
			if (request.background) {
				long nice = 20 - snap_raw(SYS_getpriority, PRIO_PROCESS, 0, 0,
							  0); /* the raw call returns 20 - nice */
				snap_raw(SYS_setpriority, PRIO_PROCESS, 0, nice + DBOS_SNAP_WRITE_NICE, 0);
			}
			dbos_status status = snap_child_write(space, &request, fd, socket, &done);
			snap_raw(SYS_close, fd, 0, 0, 0);
			snap_child_send(socket, SNAP_FORK_DONE, status, done, dbos_snap_image_size(space->page_count));
		} else {
			if (fd >= 0)
				snap_raw(SYS_close, fd, 0, 0, 0);
			snap_child_send(socket, SNAP_FORK_DONE, DBOS_EINVAL, 0, 0);
		}
	}
	syscall(SYS_exit_group, 0);
	__builtin_unreachable();
}

/* ---- The parent ------------------------------------------------------------------------ */

static dbos_status snap_fork_attach(dbos_snap_space *space)
{
	return DBOS_OK; /* nothing per space: each snapshot is its own child */
}

static void snap_fork_detach(dbos_snap_space *space)
{}

static void snap_fork_child_free(snap_fork_child *child)
{
	if (child->socket >= 0)
		close(child->socket);
	if (child->window)
		munmap(child->window, SNAP_FORK_WINDOW_SIZE);
	dbos_platform_free(child, sizeof(*child));
}

static dbos_status snap_fork_freeze(dbos_snap_space *space, snap_slot *slot)
{
	snap_fork_child *child = dbos_platform_alloc(sizeof(*child));
	if (!child)
		return DBOS_ENOMEM;
	child->socket = -1;
	child->window = mmap(NULL, SNAP_FORK_WINDOW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int pair[2];
	if (child->window == MAP_FAILED) {
		child->window = NULL;
		snap_fork_child_free(child);
		return DBOS_ENOMEM;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
		dbos_status status = dbos_host_status_from_errno(errno);
		snap_fork_child_free(child);
		return status;
	}
	long parent = getpid();
	/* A raw fork: glibc's fork() would run atfork handlers of every library in the process. */
	long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		snap_raw(SYS_close, pair[0], 0, 0, 0);
		snap_child_main(space, pair[1], child->window, parent);
	}
	close(pair[1]);
	child->socket = pair[0];
	if (pid < 0) {
		dbos_status status = dbos_host_status_from_errno(errno);
		snap_fork_child_free(child);
		return status;
	}
	child->pid = (pid_t)pid;
	slot->host = child;
	atomic_store(&slot->epoch, 0); /* FORK snapshots take no part in the epoch protocol */
	return DBOS_OK;
}

static void snap_fork_release(dbos_snap_space *space, snap_slot *slot, bool last)
{
	snap_fork_child *child = slot->host;
	if (!child)
		return;
	snap_fork_request request = { .command = SNAP_FORK_EXIT };
	if (send(child->socket, &request, sizeof(request), MSG_NOSIGNAL) != (ssize_t)sizeof(request))
		kill(child->pid, SIGKILL);
	int status;
	while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
	}
	snap_fork_child_free(child);
	slot->host = NULL;
}

static dbos_status snap_fork_request_send(snap_fork_child *child, const snap_fork_request *request, int fd)
{
	char control[CMSG_SPACE(sizeof(int))];
	__builtin_memset(control, 0, sizeof(control));
	struct iovec vector = { (void *)request, sizeof(*request) };
	struct msghdr header = { .msg_iov = &vector, .msg_iovlen = 1 };
	if (fd >= 0) {
		header.msg_control = control;
		header.msg_controllen = sizeof(control);
		struct cmsghdr *cmsg = CMSG_FIRSTHDR(&header);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		__builtin_memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	ssize_t sent;
	do
		sent = sendmsg(child->socket, &header, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	return sent == (ssize_t)sizeof(*request) ? DBOS_OK : DBOS_EIO;
}

static dbos_status snap_fork_reply_receive(snap_fork_child *child, snap_fork_message *message)
{
	ssize_t received;
	do
		received = recv(child->socket, message, sizeof(*message), 0);
	while (received < 0 && errno == EINTR);
	return received == (ssize_t)sizeof(*message) ? DBOS_OK : DBOS_EIO; /* the child died */
}

static dbos_status snap_fork_read(dbos_snap_space *space, snap_slot *slot, uint64_t offset, uint64_t length,
				  void *target)
{
	snap_fork_child *child = slot->host;
	uint8_t *bytes = target;
	dbos_status status = DBOS_OK;
	dbos_mutex_lock(&child->mutex);
	while (length && status == DBOS_OK) {
		uint64_t chunk = length < SNAP_FORK_WINDOW_SIZE ? length : SNAP_FORK_WINDOW_SIZE;
		snap_fork_request request = { .command = SNAP_FORK_READ, .offset = offset, .length = chunk };
		snap_fork_message reply;
		status = snap_fork_request_send(child, &request, -1);
		if (status == DBOS_OK)
			status = snap_fork_reply_receive(child, &reply);
		if (status == DBOS_OK)
			status = (dbos_status)reply.status;
		if (status == DBOS_OK)
			__builtin_memcpy(bytes, child->window, chunk);
		bytes += chunk;
		offset += chunk;
		length -= chunk;
	}
	dbos_mutex_unlock(&child->mutex);
	return status;
}

dbos_status snap_fork_image_write(dbos_snap_space *space, snap_slot *slot, int fd, bool seekable,
				  const dbos_snap_write_options *options, uint64_t *bytes_out)
{
	snap_fork_child *child = slot->host;
	snap_fork_request request = {
		.command = SNAP_FORK_WRITE,
		.seekable = seekable,
		.background = !(options && options->foreground),
		.progress_interval_bytes = options && options->progress_interval_bytes
						   ? options->progress_interval_bytes
						   : SNAP_PROGRESS_INTERVAL_DEFAULT,
	};
	dbos_mutex_lock(&child->mutex);
	dbos_status status = snap_fork_request_send(child, &request, fd);
	snap_fork_message message = { 0 };
	volatile const uint32_t *cancel = options ? options->cancel : NULL;
	while (status == DBOS_OK) {
		status = snap_fork_reply_receive(child, &message);
		if (status != DBOS_OK || message.kind == SNAP_FORK_DONE)
			break;
		if (options && options->on_progress && !(cancel && *cancel))
			options->on_progress(options->progress_context, message.done, message.total);
	}
	dbos_mutex_unlock(&child->mutex);
	if (status == DBOS_OK)
		status = (dbos_status)message.status;
	/* The child cannot be interrupted mid-image (it reads no command meanwhile): a cancel takes
	 * effect when it is done, and the caller empties the file as for any failure. */
	if (status == DBOS_OK && cancel && *cancel)
		status = DBOS_ECLOSED;
	*bytes_out = message.done; /* the child reported the final progress itself */
	return status;
}

const snap_mechanism_ops snap_fork_ops = {
	.attach = snap_fork_attach,
	.detach = snap_fork_detach,
	.freeze = snap_fork_freeze,
	.release = snap_fork_release,
	.read = snap_fork_read,
};
