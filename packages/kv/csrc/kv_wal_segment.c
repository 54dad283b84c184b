/*
 * kv_wal_segment.c - the log's segment files wal.<16 hex first lsn>: listing
 * them in LSN order, opening, sizing, closing, unlinking, and dropping the
 * segments that lie wholly before an LSN.
 *
 * Segment names carry their first LSN, so the directory listing alone says
 * where every segment sits in the log; no index file has to be kept in step.
 */
#include "dbos/io_linux.h"
#include "kv_wal.h"

#define KV_WAL_SEGMENTS_CAPACITY_MIN 512u /* one page of LSNs */

struct kv_wal_list_context {
	struct kv_wal_segments *segments;
	dbos_status status; /* DBOS_ENOMEM when the array could not grow */
};

static void kv_wal_list_one(void *argument, const char *name)
{
	struct kv_wal_list_context *context = argument;
	struct kv_wal_segments *segments = context->segments;
	uint64_t lsn;
	if (context->status != DBOS_OK || !kv_name_lsn(name, KV_WAL_PREFIX, &lsn))
		return; /* wal.<something else>: not a segment (a temporary, a user's file) */
	if (segments->count == segments->capacity) {
		uint64_t capacity = segments->capacity ? segments->capacity * 2 : KV_WAL_SEGMENTS_CAPACITY_MIN;
		uint64_t *lsns = dbos_platform_alloc(capacity * sizeof *lsns);
		if (!lsns) {
			context->status = DBOS_ENOMEM;
			return;
		}
		if (segments->count)
			__builtin_memcpy(lsns, segments->lsns, segments->count * sizeof *lsns);
		if (segments->lsns)
			dbos_platform_free(segments->lsns, segments->capacity * sizeof *lsns);
		segments->lsns = lsns;
		segments->capacity = capacity;
	}
	segments->lsns[segments->count++] = lsn;
}

/* Heap sort: no recursion, no extra memory, n log n for however many segments a log has. */
static void kv_wal_sift_down(uint64_t *lsns, uint64_t root, uint64_t count)
{
	for (;;) {
		uint64_t child = 2 * root + 1;
		if (child >= count)
			return;
		if (child + 1 < count && lsns[child + 1] > lsns[child])
			child++;
		if (lsns[root] >= lsns[child])
			return;
		uint64_t swap = lsns[root];
		lsns[root] = lsns[child];
		lsns[child] = swap;
		root = child;
	}
}

static void kv_wal_sort(uint64_t *lsns, uint64_t count)
{
	for (uint64_t i = count / 2; i-- > 0;)
		kv_wal_sift_down(lsns, i, count);
	for (uint64_t end = count; end-- > 1;) {
		uint64_t swap = lsns[0];
		lsns[0] = lsns[end];
		lsns[end] = swap;
		kv_wal_sift_down(lsns, 0, end);
	}
}

dbos_status kv_wal_segments_list(const char *dir, struct kv_wal_segments *segments_out)
{
	__builtin_memset(segments_out, 0, sizeof *segments_out);
	struct kv_wal_list_context context = { .segments = segments_out, .status = DBOS_OK };
	dbos_status status = kv_fs_list(dir, KV_WAL_PREFIX, kv_wal_list_one, &context);
	if (status == DBOS_OK)
		status = context.status;
	if (status != DBOS_OK) {
		kv_wal_segments_free(segments_out);
		return status;
	}
	kv_wal_sort(segments_out->lsns, segments_out->count);
	for (uint64_t i = 1; i < segments_out->count; i++)
		DBOS_ASSERT(segments_out->lsns[i - 1] < segments_out->lsns[i]); /* names are unique */
	return DBOS_OK;
}

void kv_wal_segments_free(struct kv_wal_segments *segments)
{
	if (segments->lsns)
		dbos_platform_free(segments->lsns, segments->capacity * sizeof *segments->lsns);
	__builtin_memset(segments, 0, sizeof *segments);
}

dbos_status kv_wal_segment_open(dbos_gateway *gateway, const char *dir, uint64_t lsn, bool create, bool writable,
				int32_t *fd_out)
{
	char name[KV_NAME_MAX], path[KV_PATH_MAX];
	kv_name_with_lsn(name, KV_WAL_PREFIX, lsn);
	if (!kv_path_join(path, sizeof path, dir, name))
		return DBOS_EINVAL;
	uint32_t flags = DBOS_IO_O_CLOEXEC | (writable ? DBOS_IO_O_RDWR : DBOS_IO_O_RDONLY);
	if (create)
		flags |= DBOS_IO_O_CREAT; /* truncated below, once no late write can land after it */
	dbos_io_op op = { .opcode = DBOS_IO_OPENAT,
			  .fd = DBOS_IO_AT_FDCWD,
			  .path = (uint64_t)(uintptr_t)path,
			  .flags = flags,
			  .mode = 0644 };
	int64_t result = kv_io_run(gateway, &op);
	if (result < 0)
		return dbos_io_status(result);
	/* The appender locks what it writes: see kv_wal_wait_for_writers. */
	if (writable) {
		dbos_status locked = kv_fs_lock_fd((int32_t)result, true, KV_WAL_DRAIN_WAIT_MS);
		if (locked != DBOS_OK) {
			kv_wal_segment_close(gateway, (int32_t)result);
			return locked;
		}
	}
	if (create) {
		/* A leftover of an abandoned tail starts empty. */
		dbos_io_op truncate = { .opcode = DBOS_IO_FTRUNCATE, .fd = (int32_t)result, .offset = 0 };
		int64_t truncated = kv_io_run(gateway, &truncate);
		if (truncated < 0) {
			kv_wal_segment_close(gateway, (int32_t)result);
			return dbos_io_status(truncated);
		}
		/* The new name must survive a crash before any record in the file counts as synced. */
		dbos_status status = kv_fs_sync_dir(dir);
		if (status != DBOS_OK) {
			kv_wal_segment_close(gateway, (int32_t)result);
			return status;
		}
	}
	*fd_out = (int32_t)result;
	return DBOS_OK;
}

dbos_status kv_wal_segment_size(dbos_gateway *gateway, int32_t fd, uint64_t *size_out)
{
	dbos_statx statx;
	__builtin_memset(&statx, 0, sizeof statx);
	dbos_io_op op = { .opcode = DBOS_IO_STATX,
			  .fd = fd,
			  .path = (uint64_t)(uintptr_t) "",
			  .flags = DBOS_IO_AT_EMPTY_PATH,
			  .mode = DBOS_IO_STATX_SIZE,
			  .address = (uint64_t)(uintptr_t)&statx };
	int64_t result = kv_io_run(gateway, &op);
	if (result < 0)
		return dbos_io_status(result);
	*size_out = statx.size;
	return DBOS_OK;
}

void kv_wal_segment_close(dbos_gateway *gateway, int32_t fd)
{
	if (fd < 0)
		return;
	dbos_io_op op = { .opcode = DBOS_IO_CLOSE, .fd = fd };
	kv_io_run(gateway, &op); /* nothing to do about a failed close of a file already synced or abandoned */
}

dbos_status kv_wal_segment_unlink(const char *dir, uint64_t lsn)
{
	char name[KV_NAME_MAX];
	kv_name_with_lsn(name, KV_WAL_PREFIX, lsn);
	return kv_fs_unlink(dir, name);
}

/*
 * A segment lies wholly before `lsn` when the next segment begins at or before
 * it: segments are contiguous, so every record of the earlier one ends there.
 * The segment being appended is never removed, even if a newer name exists.
 */
dbos_status kv_wal_truncate_before(struct kv_wal *wal, uint64_t lsn)
{
	if (!wal)
		return DBOS_EINVAL;
	/* Remembered for the roll at `lsn` (kv_wal_roll), which may only come after this call. */
	uint64_t truncate = atomic_load_explicit(&wal->truncate_lsn, memory_order_acquire);
	while (truncate < lsn && !atomic_compare_exchange_weak_explicit(&wal->truncate_lsn, &truncate, lsn,
									memory_order_acq_rel, memory_order_acquire))
		;
	struct kv_wal_segments segments;
	dbos_status status = kv_wal_segments_list(wal->dir, &segments);
	if (status != DBOS_OK)
		return status;
	uint64_t current = atomic_load_explicit(&wal->current_segment_lsn, memory_order_acquire);
	for (uint64_t i = 0; i + 1 < segments.count && status == DBOS_OK; i++) {
		if (segments.lsns[i + 1] > lsn || segments.lsns[i] >= current)
			break;
		status = kv_wal_segment_unlink(wal->dir, segments.lsns[i]);
	}
	kv_wal_segments_free(&segments);
	return status;
}

dbos_status kv_wal_wait_for_writers(const char *dir, dbos_gateway *gateway)
{
	struct kv_wal_segments segments;
	dbos_status status = kv_wal_segments_list(dir, &segments);
	if (status != DBOS_OK)
		return status;
	for (uint64_t i = 0; i < segments.count && status == DBOS_OK; i++) {
		int32_t fd = -1;
		status = kv_wal_segment_open(gateway, dir, segments.lsns[i], false, true, &fd);
		if (status == DBOS_ENOENT)
			status = DBOS_OK; /* removed meanwhile: nothing can land in it for us */
		kv_wal_segment_close(gateway, fd);
	}
	kv_wal_segments_free(&segments);
	return status;
}
