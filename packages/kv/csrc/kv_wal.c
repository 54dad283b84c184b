/*
 * kv_wal.c - the write-ahead log's front: open (cutting a torn tail), append,
 * wait, sync, listener, statistics, close.
 *
 * Appenders never wait for I/O: a record is copied into the filling buffer
 * under `lock` and the commit thread (kv_wal_commit.c) writes it later.  The
 * one exception is back-pressure: once KV_WAL_QUEUE_BYTES_MAX bytes are queued
 * and not yet taken by the commit thread, an appender waits for the next group
 * commit, so a writer faster than the disk cannot grow memory without bound.
 *
 * After a failed write or sync (kv_wal_commit.c) the log is poisoned: appends
 * return DBOS_EIO; waits that the failure left unsatisfied, kv_wal_sync and
 * kv_wal_close return the failure's own status (DBOS_ENOSPC for a full disk,
 * else DBOS_EIO), so the caller can say why.
 */
#include "dbos/io_linux.h"
#include "kv_wal.h"

/* ---- Open -------------------------------------------------------------------- */

/* Segments that begin after next_lsn hold records past the end of the log (after a torn one). */
static dbos_status kv_wal_drop_after(const char *dir, const struct kv_wal_segments *segments, uint64_t next_lsn)
{
	for (uint64_t i = segments->count; i-- > 0 && segments->lsns[i] > next_lsn;) {
		dbos_status status = kv_wal_segment_unlink(dir, segments->lsns[i]);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

/*
 * Position the commit side at next_lsn: in the segment that holds it, cut
 * after it; or in a new segment named next_lsn when none holds it (a new log,
 * or one whose end was lost: a gap is the end of the log at replay, so
 * nothing before next_lsn is looked for past it).
 */
static dbos_status kv_wal_position(struct kv_wal *wal, uint64_t next_lsn)
{
	struct kv_wal_segments segments;
	dbos_status status = kv_wal_segments_list(wal->dir, &segments);
	if (status != DBOS_OK)
		return status;
	status = kv_wal_drop_after(wal->dir, &segments, next_lsn);
	uint64_t holder = 0;
	for (uint64_t i = 0; i < segments.count; i++)
		if (segments.lsns[i] <= next_lsn)
			holder = segments.lsns[i];
	kv_wal_segments_free(&segments);
	uint64_t size = 0;
	if (status == DBOS_OK && holder) {
		status = kv_wal_segment_open(wal->gateway, wal->dir, holder, false, true, &wal->fd);
		if (status == DBOS_OK)
			status = kv_wal_segment_size(wal->gateway, wal->fd, &size);
		if (status == DBOS_OK && size < next_lsn - holder) {
			kv_wal_segment_close(wal->gateway, wal->fd); /* ends before next_lsn: not the holder */
			wal->fd = -1;
			holder = 0;
		}
	}
	if (status != DBOS_OK)
		return status;
	if (!holder) {
		holder = next_lsn;
		size = 0;
		status = kv_wal_segment_open(wal->gateway, wal->dir, holder, true, true, &wal->fd);
		if (status != DBOS_OK)
			return status;
	}
	wal->segment_lsn = holder;
	wal->segment_used = next_lsn - holder;
	wal->segment_stable = wal->segment_used;
	if (size > wal->segment_used) {
		dbos_io_op cut = { .opcode = DBOS_IO_FTRUNCATE, .fd = wal->fd, .offset = wal->segment_used };
		int64_t result = kv_io_run(wal->gateway, &cut);
		if (result < 0)
			return dbos_io_status(result);
	}
	/* Records before next_lsn may be in the page cache only (a killed process): make synced_lsn true. */
	dbos_io_op sync = { .opcode = DBOS_IO_FDATASYNC, .fd = wal->fd };
	int64_t result = kv_io_run(wal->gateway, &sync);
	return result < 0 ? dbos_io_status(result) : DBOS_OK;
}

static void kv_wal_free(struct kv_wal *wal)
{
	for (int i = 0; i < 2; i++)
		if (wal->buffers[i].bytes)
			dbos_platform_free(wal->buffers[i].bytes, wal->buffers[i].capacity);
	kv_wal_segment_close(wal->gateway, wal->fd);
	dbos_platform_free(wal, sizeof *wal);
}

dbos_status kv_wal_open_with(const char *dir, uint64_t next_lsn, dbos_gateway *gateway,
			     const struct kv_wal_options *options, struct kv_wal **wal_out)
{
	if (!dir || !wal_out || next_lsn < KV_WAL_FIRST_LSN || !DBOS_IS_ALIGNED(next_lsn, (uint64_t)KV_WAL_ALIGN))
		return DBOS_EINVAL;
	/* Room for "/wal.<16 hex>" after the directory. */
	if (kv_strlen(dir) + 1 + KV_NAME_MAX >= KV_PATH_MAX)
		return DBOS_EINVAL;
	*wal_out = NULL;
	dbos_status status = DBOS_OK;
	if (!gateway && (status = dbos_gateway_shared(&gateway)) != DBOS_OK)
		return status;
	struct kv_wal *wal = dbos_platform_alloc(sizeof *wal);
	if (!wal)
		return DBOS_ENOMEM;
	wal->gateway = gateway;
	wal->fd = -1;
	__builtin_memcpy(wal->dir, dir, kv_strlen(dir) + 1);
	wal->segment_bytes = options && options->segment_bytes ? options->segment_bytes : KV_WAL_SEGMENT_BYTES;
	wal->queue_bytes_max = options && options->queue_bytes_max ? options->queue_bytes_max : KV_WAL_QUEUE_BYTES_MAX;
	status = kv_wal_position(wal, next_lsn);
	if (status != DBOS_OK) {
		kv_wal_free(wal);
		return status;
	}
	atomic_store_explicit(&wal->current_segment_lsn, wal->segment_lsn, memory_order_relaxed);
	atomic_store_explicit(&wal->next_lsn, next_lsn, memory_order_relaxed);
	atomic_store_explicit(&wal->written_lsn, next_lsn, memory_order_relaxed);
	atomic_store_explicit(&wal->synced_lsn, next_lsn, memory_order_relaxed);
	wal->filling_lsn = next_lsn;
	wal->threadless = options && options->threadless;
	if (!wal->threadless) {
		status = dbos_platform_thread_start(kv_wal_commit_thread, wal, &wal->thread);
		if (status == DBOS_ENOTSUP)
			wal->threadless = true; /* the guest: whoever waits for the log writes it */
		else if (status != DBOS_OK) {
			kv_wal_free(wal);
			return status;
		}
	}
	*wal_out = wal;
	return DBOS_OK;
}

dbos_status kv_wal_open(const char *dir, uint64_t next_lsn, dbos_gateway *gateway, struct kv_wal **wal_out)
{
	return kv_wal_open_with(dir, next_lsn, gateway, NULL, wal_out);
}

/* ---- Append -------------------------------------------------------------------- */

/* Wake the commit thread if it sleeps.  Caller holds `lock`; returns whether to call wake after unlocking. */
static bool kv_wal_kick(struct kv_wal *wal)
{
	if (!wal->committer_sleeping)
		return false;
	wal->committer_sleeping = false;
	__atomic_fetch_add(&wal->work_seq, 1, __ATOMIC_RELEASE);
	return true;
}

/*
 * Sleep until the commit thread publishes or fails (threadless: commit here).
 * The caller holds `lock`, counts itself in `waiters` and read `seen` from
 * commit_seq before it checked its condition: the committer publishes, then
 * bumps commit_seq, then wakes if anyone is counted, so either the check saw
 * the new state or the wait sees the bump.
 */
static void kv_wal_sleep_locked(struct kv_wal *wal, uint32_t seen)
{
	if (wal->threadless) {
		dbos_mutex_unlock(&wal->lock);
		dbos_mutex_lock(&wal->commit_lock);
		kv_wal_commit_once(wal);
		dbos_mutex_unlock(&wal->commit_lock);
		dbos_mutex_lock(&wal->lock);
		return;
	}
	bool wake = kv_wal_kick(wal);
	dbos_mutex_unlock(&wal->lock);
	if (wake)
		dbos_platform_wake(&wal->work_seq, 1);
	dbos_platform_wait(&wal->commit_seq, seen, UINT64_MAX);
	dbos_mutex_lock(&wal->lock);
}

static uint32_t kv_wal_seen(struct kv_wal *wal)
{
	return __atomic_load_n(&wal->commit_seq, __ATOMIC_SEQ_CST);
}

static dbos_status kv_wal_failure(const struct kv_wal *wal)
{
	return (dbos_status)atomic_load_explicit(&wal->failure, memory_order_acquire);
}

/* Make the filling buffer hold `more` bytes beyond what it holds.  Caller holds `lock`. */
static dbos_status kv_wal_reserve(struct kv_wal_buffer *buffer, uint64_t more)
{
	uint64_t needed = buffer->used + more;
	if (needed <= buffer->capacity)
		return DBOS_OK;
	uint64_t capacity = buffer->capacity ? buffer->capacity : KV_WAL_BUFFER_BYTES_MIN;
	while (capacity < needed)
		capacity *= 2;
	uint8_t *bytes = dbos_platform_alloc(capacity);
	if (!bytes)
		return DBOS_ENOMEM;
	if (buffer->used)
		__builtin_memcpy(bytes, buffer->bytes, buffer->used);
	if (buffer->bytes)
		dbos_platform_free(buffer->bytes, buffer->capacity);
	buffer->bytes = bytes;
	buffer->capacity = capacity;
	return DBOS_OK;
}

dbos_status kv_wal_append(struct kv_wal *wal, const void *payload, uint32_t payload_size, bool sync, uint64_t *lsn_out)
{
	if (!wal || (!payload && payload_size))
		return DBOS_EINVAL;
	if (payload_size > KV_WAL_PAYLOAD_MAX)
		return DBOS_ELIMIT;
	uint64_t record_bytes = kv_wal_record_bytes(payload_size);
	dbos_mutex_lock(&wal->lock);
	struct kv_wal_buffer *buffer;
	for (;;) {
		buffer = &wal->buffers[wal->filling];
		/* Back-pressure; an empty buffer takes any record, so a huge one cannot wait for ever. */
		bool fits = buffer->used == 0 || buffer->used + record_bytes <= wal->queue_bytes_max;
		if (fits && kv_wal_failure(wal) == DBOS_OK)
			break;
		/* Only the commit thread's swap (under `lock`) empties the buffer; failure comes without it. */
		atomic_fetch_add_explicit(&wal->waiters, 1, memory_order_seq_cst);
		uint32_t seen = kv_wal_seen(wal);
		if (kv_wal_failure(wal) != DBOS_OK) {
			atomic_fetch_sub_explicit(&wal->waiters, 1, memory_order_relaxed);
			dbos_mutex_unlock(&wal->lock);
			return DBOS_EIO;
		}
		kv_wal_sleep_locked(wal, seen);
		atomic_fetch_sub_explicit(&wal->waiters, 1, memory_order_relaxed);
	}
	dbos_status status = kv_wal_reserve(buffer, record_bytes);
	if (status != DBOS_OK) {
		dbos_mutex_unlock(&wal->lock);
		return status;
	}
	uint64_t lsn = atomic_load_explicit(&wal->next_lsn, memory_order_relaxed);
	DBOS_ASSERT(lsn == wal->filling_lsn + buffer->used);
	uint8_t *record = buffer->bytes + buffer->used;
	kv_store_u32(record + 4, payload_size);
	kv_store_u64(record + 8, lsn);
	if (payload_size)
		__builtin_memcpy(record + KV_WAL_HEADER_SIZE, payload, payload_size);
	uint64_t filled = KV_WAL_HEADER_SIZE + (uint64_t)payload_size;
	__builtin_memset(record + filled, 0, record_bytes - filled);
	kv_store_u32(record, dbos_crc32c(0, record + 4, filled - 4));
	buffer->used += record_bytes;
	wal->filling_sync |= sync;
	atomic_store_explicit(&wal->next_lsn, lsn + record_bytes, memory_order_release);
	bool wake = kv_wal_kick(wal);
	dbos_mutex_unlock(&wal->lock);
	if (wake)
		dbos_platform_wake(&wal->work_seq, 1);
	if (lsn_out)
		*lsn_out = lsn;
	return DBOS_OK;
}

/* ---- Positions ----------------------------------------------------------------- */

uint64_t kv_wal_next_lsn(const struct kv_wal *wal)
{
	return atomic_load_explicit(&wal->next_lsn, memory_order_acquire);
}

uint64_t kv_wal_written_lsn(const struct kv_wal *wal)
{
	return atomic_load_explicit(&wal->written_lsn, memory_order_acquire);
}

uint64_t kv_wal_synced_lsn(const struct kv_wal *wal)
{
	return atomic_load_explicit(&wal->synced_lsn, memory_order_acquire);
}

uint64_t kv_wal_bytes_since(const struct kv_wal *wal, uint64_t lsn)
{
	uint64_t next_lsn = kv_wal_next_lsn(wal);
	return next_lsn > lsn ? next_lsn - lsn : 0;
}

void kv_wal_roll_at(struct kv_wal *wal, uint64_t lsn)
{
	DBOS_ASSERT(lsn <= kv_wal_next_lsn(wal));
	atomic_store_explicit(&wal->roll_at_lsn, lsn, memory_order_release);
}

void kv_wal_stats(const struct kv_wal *wal, struct kv_wal_stats *stats_out)
{
	stats_out->group_commits = atomic_load_explicit(&wal->group_commits, memory_order_relaxed);
	stats_out->syncs = atomic_load_explicit(&wal->syncs, memory_order_relaxed);
	stats_out->bytes = atomic_load_explicit(&wal->bytes, memory_order_relaxed);
}

void kv_wal_set_listener(struct kv_wal *wal, dbos_kv_commit_fn listener, void *context)
{
	dbos_mutex_lock(&wal->lock);
	wal->listener = listener;
	wal->listener_context = context;
	dbos_mutex_unlock(&wal->lock);
}

/* ---- Waiting ------------------------------------------------------------------- */

/*
 * Block until written_lsn (sync: synced_lsn) reaches end_lsn.  The status of
 * the failure once the log has failed short of it: DBOS_ENOSPC or DBOS_EIO.
 */
static dbos_status kv_wal_wait_end(struct kv_wal *wal, uint64_t end_lsn, bool sync)
{
	_Atomic uint64_t *reached = sync ? &wal->synced_lsn : &wal->written_lsn;
	dbos_status status = DBOS_OK;
	dbos_mutex_lock(&wal->lock);
	atomic_fetch_add_explicit(&wal->waiters, 1, memory_order_seq_cst);
	for (;;) {
		uint32_t seen = kv_wal_seen(wal);
		if (atomic_load_explicit(reached, memory_order_acquire) >= end_lsn)
			break;
		if ((status = kv_wal_failure(wal)) != DBOS_OK)
			break;
		/* A record queued without DBOS_KV_SYNC gets synced because someone waits for it. */
		if (sync && wal->sync_wanted_lsn < end_lsn)
			wal->sync_wanted_lsn = end_lsn;
		kv_wal_sleep_locked(wal, seen);
	}
	atomic_fetch_sub_explicit(&wal->waiters, 1, memory_order_relaxed);
	dbos_mutex_unlock(&wal->lock);
	return status;
}

dbos_status kv_wal_wait(struct kv_wal *wal, uint64_t lsn, bool sync)
{
	if (!wal)
		return DBOS_EINVAL;
	if (lsn >= kv_wal_next_lsn(wal))
		return DBOS_EINVAL; /* not appended: nothing would ever write it */
	return kv_wal_wait_end(wal, lsn + 1, sync);
}

dbos_status kv_wal_sync(struct kv_wal *wal)
{
	if (!wal)
		return DBOS_EINVAL;
	return kv_wal_wait_end(wal, kv_wal_next_lsn(wal), true);
}

/* ---- Close --------------------------------------------------------------------- */

dbos_status kv_wal_close(struct kv_wal *wal)
{
	if (!wal)
		return DBOS_EINVAL;
	dbos_status status = kv_wal_sync(wal);
	if (wal->thread) {
		dbos_mutex_lock(&wal->lock);
		wal->stopping = true;
		wal->committer_sleeping = false;
		__atomic_fetch_add(&wal->work_seq, 1, __ATOMIC_RELEASE);
		dbos_mutex_unlock(&wal->lock);
		dbos_platform_wake(&wal->work_seq, 1);
		dbos_platform_thread_join(wal->thread);
	}
	kv_wal_free(wal);
	return status;
}

void kv_wal_test_inject(struct kv_wal *wal, int32_t write_errno, int32_t sync_errno)
{
	if (write_errno)
		atomic_store_explicit(&wal->inject_write_errno, write_errno, memory_order_relaxed);
	if (sync_errno)
		atomic_store_explicit(&wal->inject_sync_errno, sync_errno, memory_order_relaxed);
}
