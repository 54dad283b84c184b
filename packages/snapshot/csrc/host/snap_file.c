/*
 * snap_file.c - writing and verifying image files (host).
 *
 * EPOCH and UFFD_WP images are produced on a thread of their own: pages are located through
 * the snapshot (copy frames as they are, live pages copied and validated), checksummed, and
 * written as 1 MiB vectored requests through @dbos/hypercall's gateway (io_uring) with up to
 * SNAP_STREAM_BUFFER_COUNT - 1 in flight while the next one fills, with O_DIRECT where the file
 * system takes it; where the gateway is not linked or cannot open, plain pwritev(2) on this
 * thread.
 * FORK images are produced by the snapshot's child process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dbos/hypercall.h"
#include "snap_host.h"

static dbos_status snap_errno_status(int error)
{
	return error == ENOSPC || error == EFBIG || error == EDQUOT ? DBOS_ENOSPC : dbos_host_status_from_errno(error);
}

/* ---- Sinks ------------------------------------------------------------------------------ */

/*
 * Where image bytes go.  Whole aligned buffers go through `direct_fd`, a second open file
 * description of the same file with O_DIRECT (where the file system allows it), so a
 * gigabyte-sized image neither fills the page cache nor leaves gigabytes of dirty pages for the
 * kernel's writeback threads to push out later at the writers' expense.  The unaligned tail (the
 * checksum table's last bytes and the trailer) and every write where O_DIRECT is refused go
 * through the caller's `fd`.
 */
typedef struct snap_file_sink {
	int fd;
	int direct_fd; /* -1: none */
	bool seekable;
	dbos_gateway *gateway;
	dbos_io_op ops[SNAP_STREAM_BUFFER_COUNT];
	int64_t results[SNAP_STREAM_BUFFER_COUNT];
	dbos_io_batch batches[SNAP_STREAM_BUFFER_COUNT];
	bool pending[SNAP_STREAM_BUFFER_COUNT];
} snap_file_sink;

/* The stream's extents go to the kernel as they are: struct iovec and dbos_io_vec have their layout. */
_Static_assert(sizeof(snap_image_extent) == sizeof(struct iovec) &&
		       offsetof(snap_image_extent, bytes) == offsetof(struct iovec, iov_base) &&
		       offsetof(snap_image_extent, length) == offsetof(struct iovec, iov_len),
	       "an extent is an iovec");
_Static_assert(sizeof(snap_image_extent) == sizeof(dbos_io_vec) &&
		       offsetof(snap_image_extent, bytes) == offsetof(dbos_io_vec, address) &&
		       offsetof(snap_image_extent, length) == offsetof(dbos_io_vec, length),
	       "an extent is a dbos_io_vec");
_Static_assert(SNAP_STREAM_EXTENT_MAX <= DBOS_IO_VEC_COUNT_MAX && SNAP_STREAM_EXTENT_MAX <= IOV_MAX,
	       "one request is one vectored write");

/* Write everything through the caller's fd, retrying short writes and EINTR. */
static dbos_status snap_write_all(snap_file_sink *sink, uint64_t offset, const uint8_t *bytes, uint64_t length)
{
	while (length) {
		ssize_t written = sink->seekable ? pwrite(sink->fd, bytes, length, (off_t)offset)
						 : write(sink->fd, bytes, length);
		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			return written == 0 ? DBOS_EIO : snap_errno_status(errno);
		bytes += written;
		offset += (uint64_t)written;
		length -= (uint64_t)written;
	}
	return DBOS_OK;
}

/*
 * Write the extents from byte `skip` on through the caller's fd: one vectored call, then (after
 * a short write, rare: a full device, a signal) the rest extent by extent.
 */
static dbos_status snap_writev_all(snap_file_sink *sink, uint64_t offset, const snap_image_extent *extents,
				   uint32_t extent_count, uint64_t skip)
{
	if (skip == 0) {
		const struct iovec *vector = (const struct iovec *)extents;
		ssize_t written = sink->seekable ? pwritev(sink->fd, vector, (int)extent_count, (off_t)offset)
						 : writev(sink->fd, vector, (int)extent_count);
		if (written < 0 && errno != EINTR)
			return snap_errno_status(errno);
		skip = written > 0 ? (uint64_t)written : 0;
	}
	for (uint32_t i = 0; i < extent_count; i++) {
		const snap_image_extent *extent = &extents[i];
		if (skip >= extent->length) {
			skip -= extent->length;
			offset += extent->length;
			continue;
		}
		dbos_status status = snap_write_all(sink, offset + skip, extent->bytes + skip, extent->length - skip);
		if (status != DBOS_OK)
			return status;
		offset += extent->length;
		skip = 0;
	}
	return DBOS_OK;
}

static dbos_status snap_pwrite_start(void *context, uint32_t buffer_index, uint64_t offset,
				     const snap_image_extent *extents, uint32_t extent_count, uint64_t length)
{
	return snap_writev_all(context, offset, extents, extent_count, 0);
}

static dbos_status snap_pwrite_finish(void *context, uint32_t buffer_index)
{
	return DBOS_OK;
}

/*
 * A second description of fd's file with O_DIRECT, or -1 where the file system refuses it
 * (tmpfs) or /proc is missing.  Reopening through /proc leaves the caller's fd and its flags
 * untouched.
 */
static int snap_direct_open(int fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

/* O_DIRECT wants the offset, the length and every segment's address and length aligned. */
static bool snap_direct_fits(uint64_t offset, const snap_image_extent *extents, uint32_t extent_count, uint64_t length)
{
	if (!DBOS_IS_ALIGNED(offset, (uint64_t)DBOS_PAGE_SIZE) || !DBOS_IS_ALIGNED(length, (uint64_t)DBOS_PAGE_SIZE))
		return false;
	for (uint32_t i = 0; i < extent_count; i++)
		if (!DBOS_IS_ALIGNED((uintptr_t)extents[i].bytes, DBOS_PAGE_SIZE) ||
		    !DBOS_IS_ALIGNED(extents[i].length, (uint64_t)DBOS_PAGE_SIZE))
			return false;
	return true;
}

static dbos_status snap_gateway_finish(void *context, uint32_t buffer_index);

static dbos_status snap_gateway_start(void *context, uint32_t buffer_index, uint64_t offset,
				      const snap_image_extent *extents, uint32_t extent_count, uint64_t length)
{
	snap_file_sink *sink = context;
	bool direct = sink->direct_fd >= 0 && snap_direct_fits(offset, extents, extent_count, length);
	if (sink->direct_fd >= 0 && !direct) {
		/* The buffered tail must not race the direct writes of the same pages: let them land. */
		for (uint32_t i = 0; i < SNAP_STREAM_BUFFER_COUNT; i++) {
			dbos_status status = sink->pending[i] ? snap_gateway_finish(sink, i) : DBOS_OK;
			if (status != DBOS_OK)
				return status;
		}
		return snap_writev_all(sink, offset, extents, extent_count, 0);
	}
	dbos_io_op *op = &sink->ops[buffer_index];
	memset(op, 0, sizeof(*op));
	op->opcode = DBOS_IO_PWRITEV;
	op->fd = direct ? sink->direct_fd : sink->fd;
	op->offset = offset;
	op->address = (uintptr_t)extents; /* stays untouched until finish */
	op->length = extent_count;
	dbos_io_batch_init(&sink->batches[buffer_index], op, &sink->results[buffer_index], 1);
	dbos_status status = dbos_gateway_submit(sink->gateway, &sink->batches[buffer_index]);
	sink->pending[buffer_index] = status == DBOS_OK;
	return status;
}

static dbos_status snap_gateway_finish(void *context, uint32_t buffer_index)
{
	snap_file_sink *sink = context;
	if (!sink->pending[buffer_index])
		return DBOS_OK; /* written synchronously at start */
	sink->pending[buffer_index] = false;
	dbos_status status = dbos_gateway_wait(sink->gateway, &sink->batches[buffer_index], UINT64_MAX);
	if (status != DBOS_OK)
		return status;
	int64_t result = sink->results[buffer_index];
	const dbos_io_op *op = &sink->ops[buffer_index];
	const snap_image_extent *extents = (const snap_image_extent *)(uintptr_t)op->address;
	uint32_t extent_count = (uint32_t)op->length;
	/*
	 * EINVAL from an O_DIRECT write: the device wants a larger alignment than a page.  Write this
	 * request through the caller's fd and stop using O_DIRECT (writes in flight finish as they are).
	 */
	if (result == -EINVAL && op->fd == sink->direct_fd) {
		close(sink->direct_fd);
		sink->direct_fd = -1;
		return snap_writev_all(sink, op->offset, extents, extent_count, 0);
	}
	if (result < 0)
		return snap_errno_status((int)-result);
	/* A short write (rare: the device filled up mid-way) finishes synchronously and reports why. */
	uint64_t length = 0;
	for (uint32_t i = 0; i < extent_count; i++)
		length += extents[i].length;
	if ((uint64_t)result < length)
		return snap_writev_all(sink, op->offset, extents, extent_count, (uint64_t)result);
	return DBOS_OK;
}

/*
 * The gateway is @dbos/hypercall's; where it cannot open, images fall back to plain pwritev.
 *
 * O_DIRECT writes go to the gateway's threads, not io_uring.  The file is preallocated, so
 * every direct write lands in unwritten extents, and an asynchronous direct write (io_uring's)
 * converts them when the device completes it, in a kernel worker bound to whichever CPU took the
 * disk interrupt.  A writer busy on that CPU (one at SCHED_FIFO, as the benchmark's are) starves
 * that worker: a gigabyte image then waits seconds for its completions (traced here: median
 * 0.17 ms, worst 948 ms, the whole image's duration summed).  A synchronous direct write
 * converts in the thread that waits for it, which is ours, at the image's priority.
 */
static dbos_gateway *snap_gateway_open(bool direct)
{
	dbos_gateway_config config = {
		.backend = direct ? DBOS_GATEWAY_THREADS : DBOS_GATEWAY_AUTO,
		.queue_depth = SNAP_STREAM_BUFFER_COUNT,
		.thread_count = SNAP_STREAM_BUFFER_COUNT / 2,
	};
	dbos_gateway *gateway = NULL;
	return dbos_gateway_open(&config, &gateway) == DBOS_OK ? gateway : NULL;
}

static const char *snap_gateway_path(const snap_file_sink *sink)
{
	bool uring = dbos_gateway_backend_of(sink->gateway) == DBOS_GATEWAY_IO_URING;
	if (sink->direct_fd >= 0)
		return uring ? "gateway:io_uring+O_DIRECT" : "gateway:threads+O_DIRECT";
	return uring ? "gateway:io_uring" : "gateway:threads";
}

/* ---- Writing -------------------------------------------------------------------------- */

typedef struct snap_source_context {
	dbos_snap_space *space;
	snap_slot *slot;
} snap_source_context;

static dbos_status snap_slot_source(void *context, uint64_t first, uint64_t count, uint8_t *staging,
				    const uint8_t **pages_out)
{
	snap_source_context *source = context;
	return snap_pages_locate(source->space, source->slot, first, count, staging, pages_out);
}

static dbos_status snap_cow_image_write(dbos_snap_space *space, snap_slot *slot, snap_file_sink *sink, bool regular,
					const dbos_snap_write_options *options, dbos_snap_write_result *result)
{
	/* Page aligned, as O_DIRECT wants its buffers; returned to the system when the image is done.
	 * Copy frames the image points at stay put: the slot is pinned until the job ends. */
	size_t memory_size = snap_image_stream_memory_size(space->page_count);
	void *reserved = NULL;
	dbos_status status = dbos_platform_reserve(memory_size, DBOS_PAGE_SIZE, &reserved);
	if (status == DBOS_OK &&
	    (status = dbos_platform_commit(reserved, memory_size, DBOS_PROT_READ_WRITE)) != DBOS_OK)
		dbos_platform_unreserve(reserved, memory_size);
	if (status != DBOS_OK)
		return status;
	uint8_t *memory = reserved;
	snap_source_context source = { space, slot };
	snap_image_stream stream = {
		.page_count = space->page_count,
		.epoch = atomic_load(&slot->epoch),
		.taken_ns = slot->taken_ns,
		.mechanism = slot->mechanism,
		.source = snap_slot_source,
		.source_context = &source,
		.sink = { snap_pwrite_start, snap_pwrite_finish, sink },
		.on_progress = options ? options->on_progress : NULL,
		.progress_context = options ? options->progress_context : NULL,
		.progress_interval_bytes = options && options->progress_interval_bytes
						   ? options->progress_interval_bytes
						   : SNAP_PROGRESS_INTERVAL_DEFAULT,
		.cancel = options ? options->cancel : NULL,
	};
	snap_image_stream_memory_set(&stream, memory);
	result->path = sink->seekable ? "pwrite" : "write";
	if (sink->seekable && regular)
		sink->direct_fd = snap_direct_open(sink->fd);
	if (sink->seekable)
		sink->gateway = snap_gateway_open(sink->direct_fd >= 0);
	if (sink->gateway) {
		stream.sink.start = snap_gateway_start;
		stream.sink.finish = snap_gateway_finish;
	} else if (sink->direct_fd >= 0) {
		close(sink->direct_fd); /* plain pwritev goes through the caller's fd */
		sink->direct_fd = -1;
	}
	status = snap_image_produce(&stream, &result->bytes_written);
	if (sink->gateway) {
		result->path = snap_gateway_path(sink); /* after the write: O_DIRECT may have been dropped */
		dbos_gateway_close(sink->gateway);
	}
	if (sink->direct_fd >= 0)
		close(sink->direct_fd);
	dbos_platform_unreserve(memory, memory_size);
	return status;
}

typedef struct snap_write_job {
	dbos_snap_space *space;
	snap_slot *slot;
	int fd;
	const dbos_snap_write_options *options;
	dbos_snap_write_result result;
	dbos_status status;
} snap_write_job;

static void snap_write_job_run(snap_write_job *job)
{
	dbos_snap_space *space = job->space;
	snap_slot *slot = job->slot;
	const dbos_snap_write_options *options = job->options;
	int fd = job->fd;
	dbos_snap_write_result result = { 0, "none" };
	dbos_status status = DBOS_OK;
	struct stat info;
	if (fstat(fd, &info) != 0)
		status = dbos_host_status_from_errno(errno);
	bool regular = status == DBOS_OK && S_ISREG(info.st_mode);
	snap_file_sink sink = {
		.fd = fd,
		.direct_fd = -1,
		.seekable = regular || (status == DBOS_OK && S_ISBLK(info.st_mode)),
	};
	uint64_t size = dbos_snap_image_size(space->page_count);
	/* Reserve the space up front where the file system can: a full disk fails before any write. */
	if (status == DBOS_OK && regular && ftruncate(fd, 0) != 0)
		status = snap_errno_status(errno);
	if (status == DBOS_OK && regular && fallocate(fd, 0, 0, (off_t)size) != 0 && errno != EOPNOTSUPP &&
	    errno != ENOSYS)
		status = snap_errno_status(errno);
	if (status == DBOS_OK && slot->mechanism == DBOS_SNAP_FORK) {
		result.path = sink.seekable ? "fork-child:pwrite" : "fork-child:write";
		status = snap_fork_image_write(space, slot, fd, sink.seekable, options, &result.bytes_written);
	} else if (status == DBOS_OK) {
		status = snap_cow_image_write(space, slot, &sink, regular, options, &result);
	}
	if (status == DBOS_OK && slot->mechanism == DBOS_SNAP_UFFD_WP && snap_uffd_failed(space))
		status = DBOS_ENOMEM; /* a pre-image could not be kept: the image is not trustworthy */
	if (status == DBOS_OK && options && options->sync && fdatasync(fd) != 0)
		status = snap_errno_status(errno);
	if (status != DBOS_OK && regular && ftruncate(fd, 0) != 0)
		dbos_platform_log(DBOS_LOG_WARN, "snapshot: truncating a failed image failed");
	job->result = result;
	job->status = status;
}

static void *snap_write_job_thread(void *argument)
{
	snap_write_job *job = argument;
	/* Lower this thread only (Linux nice is per thread); the gateway's workers inherit it. */
	pid_t tid = (pid_t)syscall(SYS_gettid);
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, (id_t)tid);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)tid, nice + DBOS_SNAP_WRITE_NICE);
	snap_write_job_run(job);
	return NULL;
}

dbos_status dbos_snap_image_write_fd(dbos_snap_space *space, dbos_snap_id id, int fd,
				     const dbos_snap_write_options *options, dbos_snap_write_result *result_out)
{
	if (fd < 0)
		return DBOS_EINVAL;
	snap_write_job job = { .space = space, .fd = fd, .options = options, .result = { 0, "none" } };
	dbos_status status = snap_slot_pin(space, id, &job.slot);
	if (status != DBOS_OK)
		return status;
	pthread_t thread;
	if (options && options->foreground)
		snap_write_job_run(&job);
	else if (pthread_create(&thread, NULL, snap_write_job_thread, &job) == 0)
		pthread_join(thread, NULL);
	else
		snap_write_job_run(&job); /* no thread to spare: write at our own priority */
	snap_slot_unpin(job.slot);
	if (result_out)
		*result_out = job.result;
	return job.status;
}

/* ---- Verifying ---------------------------------------------------------------------------- */

static dbos_status snap_read_all(int fd, uint64_t offset, void *target, uint64_t length)
{
	uint8_t *bytes = target;
	while (length) {
		ssize_t got = pread(fd, bytes, length, (off_t)offset);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return dbos_host_status_from_errno(errno);
		if (got == 0)
			return DBOS_ECORRUPT; /* truncated */
		bytes += got;
		offset += (uint64_t)got;
		length -= (uint64_t)got;
	}
	return DBOS_OK;
}

/* Read every page (into `target` when loading, else a scratch buffer) and check its CRC32C. */
static dbos_status snap_verify_pages(int fd, const dbos_snap_image_header *header, const uint32_t *table,
				     uint8_t *target, uint64_t *bad_page_out)
{
	uint8_t *scratch = target ? NULL : malloc(SNAP_STREAM_BUFFER_SIZE);
	if (!target && !scratch)
		return DBOS_ENOMEM;
	dbos_status status = DBOS_OK;
	for (uint64_t page = 0; page < header->page_count && status == DBOS_OK;) {
		uint64_t count = header->page_count - page;
		if (count > SNAP_STREAM_BUFFER_PAGES)
			count = SNAP_STREAM_BUFFER_PAGES;
		uint8_t *buffer = target ? target + page * DBOS_PAGE_SIZE : scratch;
		status = snap_read_all(fd, DBOS_SNAP_IMAGE_HEADER_SIZE + page * DBOS_PAGE_SIZE, buffer,
				       count * DBOS_PAGE_SIZE);
		for (uint64_t i = 0; i < count && status == DBOS_OK; i++) {
			if (dbos_crc32c(0, buffer + i * DBOS_PAGE_SIZE, DBOS_PAGE_SIZE) != table[page + i]) {
				*bad_page_out = page + i;
				status = DBOS_ECORRUPT;
			}
		}
		page += count;
	}
	free(scratch);
	return status;
}

/* Check pages as they are read into `target` (when not NULL) or a scratch buffer. */
static dbos_status snap_image_check(int fd, uint8_t *target, uint64_t target_pages, dbos_snap_image_header *header_out,
				    uint64_t *bad_page_out);

dbos_status dbos_snap_image_verify_fd(int fd, dbos_snap_image_header *header_out, uint64_t *bad_page_out)
{
	return snap_image_check(fd, NULL, 0, header_out, bad_page_out);
}

dbos_status dbos_snap_image_load_fd(dbos_snap_space *space, int fd, dbos_snap_image_header *header_out,
				    uint64_t *bad_page_out)
{
	if (!space || fd < 0)
		return DBOS_EINVAL;
	/* Raw stores into memory a snapshot still reads would corrupt it: only with none live. */
	dbos_mutex_lock(&space->mutex);
	dbos_status status = snap_live_count(space) == 0 ? DBOS_OK : DBOS_EBUSY;
	if (status == DBOS_OK)
		status = snap_image_check(fd, space->base, space->page_count, header_out, bad_page_out);
	dbos_mutex_unlock(&space->mutex);
	return status;
}

static dbos_status snap_image_check(int fd, uint8_t *target, uint64_t target_pages, dbos_snap_image_header *header_out,
				    uint64_t *bad_page_out)
{
	uint64_t bad_page = UINT64_MAX;
	dbos_snap_image_header header;
	dbos_snap_image_trailer trailer;
	uint32_t *table = NULL;
	memset(&header, 0, sizeof(header));
	struct stat info;
	dbos_status status = fstat(fd, &info) == 0 ? DBOS_OK : dbos_host_status_from_errno(errno);
	uint8_t header_block[DBOS_SNAP_IMAGE_HEADER_SIZE];
	if (status == DBOS_OK)
		status = snap_read_all(fd, 0, header_block, sizeof(header_block));
	if (status == DBOS_OK)
		status = snap_image_header_block_check(header_block, &header);
	if (status == DBOS_OK && (uint64_t)info.st_size != dbos_snap_image_size(header.page_count))
		status = DBOS_ECORRUPT;
	if (status == DBOS_OK && target && header.page_count != target_pages)
		status = DBOS_ERANGE;
	uint64_t table_offset = DBOS_SNAP_IMAGE_HEADER_SIZE + header.page_count * DBOS_PAGE_SIZE;
	uint64_t table_size = header.page_count * sizeof(uint32_t);
	if (status == DBOS_OK)
		status = snap_read_all(fd, table_offset + table_size, &trailer, sizeof(trailer));
	if (status == DBOS_OK)
		status = snap_image_trailer_check(&trailer, &header);
	if (status == DBOS_OK) {
		table = malloc(table_size ? table_size : 1);
		status = table ? snap_read_all(fd, table_offset, table, table_size) : DBOS_ENOMEM;
	}
	if (status == DBOS_OK && dbos_crc32c(0, table, table_size) != trailer.table_crc32c)
		status = DBOS_ECORRUPT;
	if (status == DBOS_OK)
		status = snap_verify_pages(fd, &header, table, target, &bad_page);
	free(table);
	if (header_out && status != DBOS_EIO)
		*header_out = header;
	if (bad_page_out)
		*bad_page_out = bad_page;
	return status;
}
