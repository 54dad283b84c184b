/*
 * kv_wal_commit.c - the group commit: everything appenders queued since the
 * last commit goes to the log in one write, and one fdatasync when any of it
 * asked for one.
 *
 * One commit, in phases:
 *   1. take the batch: under `lock`, swap the filling buffer with the empty
 *      one, so appenders go on copying while this batch is written;
 *   2. write it: one pwrite per segment it touches; a record that would carry
 *      the segment past segment_bytes starts a new one (the old one is synced
 *      first, so that the log is durable in order);
 *   3. fdatasync when a record of the batch, kv_wal_sync or a kv_wal_wait(sync)
 *      asked for it;
 *   4. call the listener, publish written / synced LSNs, wake waiters.
 * A failed write or sync poisons the log: the batch is cut off the segment
 * (its records must not come back at replay, since their writers were told
 * the log failed), `failure` is set, and every later batch is dropped.
 */
#include "dbos/io_linux.h"
#include "kv_wal.h"

/* seq_cst pairs with the waiter's waiters++ then load of commit_seq: one of us sees the other. */
static void kv_wal_wake_waiters(struct kv_wal *wal)
{
	__atomic_fetch_add(&wal->commit_seq, 1, __ATOMIC_SEQ_CST);
	if (atomic_load_explicit(&wal->waiters, memory_order_seq_cst))
		dbos_platform_wake(&wal->commit_seq, UINT32_MAX);
}

struct kv_wal_batch {
	const uint8_t *bytes;
	uint64_t length;
	uint64_t lsn; /* LSN of bytes[0] */
	bool sync;
	dbos_kv_commit_fn listener;
	void *listener_context;
};

static int64_t kv_wal_take_injected(_Atomic int32_t *slot)
{
	int32_t injected = atomic_exchange_explicit(slot, 0, memory_order_relaxed);
	return injected ? -(int64_t)injected : 0;
}

static dbos_status kv_wal_write_run(struct kv_wal *wal, const uint8_t *bytes, uint64_t length)
{
	if (!length)
		return DBOS_OK;
	int64_t result = kv_wal_take_injected(&wal->inject_write_errno);
	if (result == 0)
		result = kv_io_write_all(wal->gateway, wal->fd, bytes, length, wal->segment_used);
	if (result < 0)
		return dbos_io_status(result);
	DBOS_ASSERT((uint64_t)result == length);
	wal->segment_used += length;
	return DBOS_OK;
}

static dbos_status kv_wal_datasync(struct kv_wal *wal)
{
	int64_t result = kv_wal_take_injected(&wal->inject_sync_errno);
	if (result == 0) {
		dbos_io_op op = { .opcode = DBOS_IO_FDATASYNC, .fd = wal->fd };
		result = kv_io_run(wal->gateway, &op);
	}
	return result < 0 ? dbos_io_status(result) : DBOS_OK;
}

/*
 * Phase 4: tell the listener, then make the new LSNs visible, then wake
 * waiters - in that order, so that whoever sees an LSN (or returns from a
 * wait) knows the listener has already heard of it.
 */
static void kv_wal_publish(struct kv_wal *wal, uint64_t written_lsn, uint64_t synced_lsn,
			   const struct kv_wal_batch *batch)
{
	DBOS_ASSERT(synced_lsn <= written_lsn);
	if (batch && batch->listener)
		batch->listener(batch->listener_context, written_lsn, synced_lsn, DBOS_OK);
	atomic_store_explicit(&wal->written_lsn, written_lsn, memory_order_release);
	atomic_store_explicit(&wal->synced_lsn, synced_lsn, memory_order_release);
	wal->segment_stable = wal->segment_used;
	kv_wal_wake_waiters(wal);
}

/* Phase 2, at a segment boundary: sync and close the full segment, start the one at `lsn`. */
static dbos_status kv_wal_roll(struct kv_wal *wal, uint64_t lsn)
{
	DBOS_ASSERT(lsn == wal->segment_lsn + wal->segment_used);
	dbos_status status = kv_wal_datasync(wal);
	if (status != DBOS_OK)
		return status;
	int32_t fd = -1;
	status = kv_wal_segment_open(wal->gateway, wal->dir, lsn, true, true, &fd);
	if (status != DBOS_OK)
		return status;
	kv_wal_segment_close(wal->gateway, wal->fd);
	wal->fd = fd;
	wal->segment_lsn = lsn;
	wal->segment_used = 0;
	atomic_store_explicit(&wal->current_segment_lsn, lsn, memory_order_release);
	/* A checkpoint at this LSN already complete asked for the log before it to go (its own
	   truncation ran before this segment existed).  Space only: a failure leaves files behind. */
	if (atomic_load_explicit(&wal->truncate_lsn, memory_order_acquire) >= lsn)
		(void)kv_wal_truncate_before(wal, lsn);
	atomic_fetch_add_explicit(&wal->syncs, 1, memory_order_relaxed);
	/* Everything before the new segment is written and synced: say so now (the listener hears at the end). */
	kv_wal_publish(wal, lsn, lsn, NULL);
	return DBOS_OK;
}

/* Phase 2: write the batch, one run of whole records per segment. */
static dbos_status kv_wal_write_batch(struct kv_wal *wal, const struct kv_wal_batch *batch)
{
	DBOS_ASSERT(batch->lsn == wal->segment_lsn + wal->segment_used);
	uint64_t run_start = 0, offset = 0;
	while (offset < batch->length) {
		DBOS_ASSERT(batch->length - offset >= KV_WAL_HEADER_SIZE);
		uint64_t record_bytes = kv_wal_record_bytes(kv_load_u32(batch->bytes + offset + 4));
		DBOS_ASSERT(record_bytes <= batch->length - offset);
		uint64_t filled = wal->segment_used + (offset - run_start);
		/* A record bigger than a segment gets an empty one of its own; a checkpoint's LSN starts a
		   new one, so that the segment before it holds only records the checkpoint made redundant. */
		uint64_t roll_at = atomic_load_explicit(&wal->roll_at_lsn, memory_order_acquire);
		bool roll_asked = roll_at > wal->segment_lsn && batch->lsn + offset == roll_at;
		if (filled > 0 && (filled + record_bytes > wal->segment_bytes || roll_asked)) {
			dbos_status status = kv_wal_write_run(wal, batch->bytes + run_start, offset - run_start);
			if (status == DBOS_OK)
				status = kv_wal_roll(wal, batch->lsn + offset);
			if (status != DBOS_OK)
				return status;
			run_start = offset;
		}
		offset += record_bytes;
	}
	return kv_wal_write_run(wal, batch->bytes + run_start, offset - run_start);
}

/* Phase 1: take what appenders queued; false when there is nothing to write or sync. */
static bool kv_wal_take_batch(struct kv_wal *wal, struct kv_wal_batch *batch)
{
	dbos_mutex_lock(&wal->lock);
	struct kv_wal_buffer *full = &wal->buffers[wal->filling];
	uint64_t synced_lsn = atomic_load_explicit(&wal->synced_lsn, memory_order_relaxed);
	bool sync_asked = wal->sync_wanted_lsn > synced_lsn;
	if (full->used == 0 && !sync_asked) {
		dbos_mutex_unlock(&wal->lock);
		return false;
	}
	uint64_t next_lsn = atomic_load_explicit(&wal->next_lsn, memory_order_relaxed);
	*batch = (struct kv_wal_batch){ .bytes = full->bytes,
					.length = full->used,
					.lsn = wal->filling_lsn,
					.sync = wal->filling_sync || sync_asked,
					.listener = wal->listener,
					.listener_context = wal->listener_context };
	DBOS_ASSERT(batch->lsn + batch->length == next_lsn);
	DBOS_ASSERT(wal->sync_wanted_lsn <= next_lsn);
	wal->sync_wanted_lsn = 0; /* this batch syncs up to next_lsn, past every request made so far */
	wal->filling ^= 1;
	wal->buffers[wal->filling].used = 0;
	wal->filling_lsn = next_lsn;
	wal->filling_sync = false;
	dbos_mutex_unlock(&wal->lock);
	return true;
}

/* After a batch: a buffer grown for a huge record is given back rather than kept for ever. */
static void kv_wal_trim_buffer(struct kv_wal *wal, const uint8_t *bytes)
{
	dbos_mutex_lock(&wal->lock);
	struct kv_wal_buffer *written = &wal->buffers[wal->filling ^ 1];
	DBOS_ASSERT(written->bytes == bytes);
	if (written->capacity > KV_WAL_BUFFER_KEEP_BYTES) {
		dbos_platform_free(written->bytes, written->capacity);
		written->bytes = NULL;
		written->capacity = 0;
	}
	dbos_mutex_unlock(&wal->lock);
}

/* The batch failed: cut its records off, poison the log, tell waiters and the listener. */
static void kv_wal_poison(struct kv_wal *wal, dbos_status status, const struct kv_wal_batch *batch)
{
	DBOS_ASSERT(status != DBOS_OK);
	if (wal->segment_used != wal->segment_stable) {
		dbos_io_op op = { .opcode = DBOS_IO_FTRUNCATE, .fd = wal->fd, .offset = wal->segment_stable };
		if (kv_io_run(wal->gateway, &op) == 0)
			wal->segment_used = wal->segment_stable;
	}
	if (batch->listener)
		batch->listener(batch->listener_context, atomic_load_explicit(&wal->written_lsn, memory_order_relaxed),
				atomic_load_explicit(&wal->synced_lsn, memory_order_relaxed), status);
	uint32_t expected = DBOS_OK;
	atomic_compare_exchange_strong_explicit(&wal->failure, &expected, (uint32_t)status, memory_order_release,
						memory_order_relaxed);
	kv_wal_wake_waiters(wal);
}

bool kv_wal_commit_once(struct kv_wal *wal)
{
	struct kv_wal_batch batch;
	if (!kv_wal_take_batch(wal, &batch))
		return false;
	dbos_status failure = (dbos_status)atomic_load_explicit(&wal->failure, memory_order_acquire);
	if (failure != DBOS_OK) {
		/* A failed log writes nothing more: a record after a hole would never be replayed anyway. */
		kv_wal_trim_buffer(wal, batch.bytes);
		return true;
	}
	dbos_status status = kv_wal_write_batch(wal, &batch);
	if (status == DBOS_OK && batch.sync)
		status = kv_wal_datasync(wal);
	if (batch.length)
		kv_wal_trim_buffer(wal, batch.bytes);
	if (status != DBOS_OK) {
		kv_wal_poison(wal, status, &batch);
		return true;
	}
	uint64_t end_lsn = batch.lsn + batch.length;
	uint64_t synced_lsn = batch.sync ? end_lsn : atomic_load_explicit(&wal->synced_lsn, memory_order_relaxed);
	atomic_fetch_add_explicit(&wal->group_commits, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&wal->bytes, batch.length, memory_order_relaxed);
	if (batch.sync)
		atomic_fetch_add_explicit(&wal->syncs, 1, memory_order_relaxed);
	kv_wal_publish(wal, end_lsn, synced_lsn, &batch);
	return true;
}

/* Is there work for the commit thread?  Caller holds `lock`. */
static bool kv_wal_has_work(const struct kv_wal *wal)
{
	return wal->buffers[wal->filling].used > 0 ||
	       wal->sync_wanted_lsn > atomic_load_explicit(&wal->synced_lsn, memory_order_relaxed);
}

void kv_wal_commit_thread(void *argument)
{
	struct kv_wal *wal = argument;
	for (;;) {
		dbos_mutex_lock(&wal->lock);
		while (!kv_wal_has_work(wal) && !wal->stopping) {
			/* Appenders bump work_seq under `lock` when they see this flag: no wake-up is lost. */
			wal->committer_sleeping = true;
			uint32_t seen = __atomic_load_n(&wal->work_seq, __ATOMIC_ACQUIRE);
			dbos_mutex_unlock(&wal->lock);
			dbos_platform_wait(&wal->work_seq, seen, UINT64_MAX);
			dbos_mutex_lock(&wal->lock);
			wal->committer_sleeping = false;
		}
		bool done = wal->stopping && !kv_wal_has_work(wal);
		dbos_mutex_unlock(&wal->lock);
		if (done)
			return;
		dbos_mutex_lock(&wal->commit_lock);
		kv_wal_commit_once(wal);
		dbos_mutex_unlock(&wal->commit_lock);
	}
}
