/*
 * kv_store_checkpoint.c - checkpoints: on request (dbos_kv_checkpoint) and in the
 * background once the log has grown checkpoint_wal_bytes past the last one.  The
 * background thread also frees the page copies of closed views (kv_epoch_retire).
 *
 * Writers never wait for a checkpoint: it holds the write lock only to begin its
 * epoch and note the log position X (so the epoch is exactly the state after
 * every record before X), then writes the image from the epoch while writers go
 * on.  Only one checkpoint runs at a time (checkpoint_lock).
 *
 * A runtime without threads of its own (the guest) gets no background thread:
 * the write that crosses the threshold writes the checkpoint itself.
 */
#include "kv_store.h"

/* After a background checkpoint fails, wait this long before trying again (no busy loop on a full disk). */
#define KV_CHECKPOINT_RETRY_NS (1000ull * 1000 * 1000)

static dbos_status kv_store_checkpoint_locked(dbos_kv *kv)
{
	/* 1. A consistent point: the epoch and X under the write lock. */
	dbos_mutex_lock(&kv->write_lock);
	if (atomic_load(&kv->failed)) {
		/* The tree holds half a batch the log does not: an image of it must never be written. */
		dbos_mutex_unlock(&kv->write_lock);
		return kv_fail(DBOS_EIO, 0, "checkpoint: the store ", kv->dir, " failed earlier: close and reopen it");
	}
	uint64_t lsn = kv_wal_next_lsn(kv->wal);
	if (lsn == atomic_load(&kv->checkpoint_lsn)) {
		dbos_mutex_unlock(&kv->write_lock);
		return DBOS_OK; /* nothing written since the last checkpoint: it is this one */
	}
	struct kv_epoch *epoch = NULL;
	dbos_status status = kv_epoch_begin(atomic_load(&kv->epochs), &epoch);
	/* The log goes on in a new segment from X: once the image is written, the old one can go. */
	if (status == DBOS_OK)
		kv_wal_roll_at(kv->wal, lsn);
	dbos_mutex_unlock(&kv->write_lock);
	if (status != DBOS_OK)
		return kv_fail(status, 0, "checkpoint: cannot begin a page epoch on ", kv->dir, NULL);

	/*
	 * 2. The log before X on the device first: the checkpoint claims to contain every
	 *    record before X, and after a crash the log must go on from X, not from an
	 *    earlier end that lost records the checkpoint has.
	 */
	status = kv_wal_sync(kv->wal);
	if (status != DBOS_OK)
		kv_fail(status, 0, "checkpoint: cannot sync the log of ", kv->dir, NULL);
	/* 3. The image. */
	if (status == DBOS_OK) {
		status = kv_checkpoint_write(epoch, kv->dir, lsn, kv->gateway, NULL, NULL);
		if (status != DBOS_OK)
			kv_fail_number(status, 0, kv->dir, ": cannot write the checkpoint at lsn ", lsn, true, NULL);
	}
	kv_epoch_end(epoch);
	if (status != DBOS_OK)
		return status;
	/* 4. Older checkpoints and the log before X are no longer needed. */
	atomic_store(&kv->checkpoint_lsn, lsn);
	kv_checkpoint_prune(kv->dir, lsn);
	status = kv_wal_truncate_before(kv->wal, lsn);
	if (status != DBOS_OK) /* the checkpoint stands; the old log only takes space until the next one */
		dbos_platform_log(DBOS_LOG_WARN, "dbos kv: checkpoint written, but the log before it was not removed");
	/*
	 * Counted last, once the older checkpoints are gone: whoever sees the count (stats) sees
	 * the whole checkpoint.  Counted before the prune, a reader of the stats could still find
	 * the checkpoint this one replaced (a background checkpoint under ThreadSanitizer did).
	 */
	atomic_fetch_add(&kv->checkpoints, 1);
	return DBOS_OK;
}

dbos_status kv_store_checkpoint(dbos_kv *kv)
{
	dbos_mutex_lock(&kv->checkpoint_lock);
	dbos_status status = kv_store_checkpoint_locked(kv);
	dbos_mutex_unlock(&kv->checkpoint_lock);
	return status;
}

dbos_status dbos_kv_checkpoint(dbos_kv *kv)
{
	if (!kv)
		return kv_fail(DBOS_EINVAL, 0, "checkpoint: kv is NULL", NULL, NULL);
	if (!kv->wal)
		return kv_fail(DBOS_EPERM, 0, "checkpoint: the store ", kv->dir, " is open read-only");
	return kv_store_checkpoint(kv);
}

/*
 * How much log since the last checkpoint makes the next one due: the page file's size (never below
 * KV_CHECKPOINT_WAL_MIN), capped at checkpoint_wal_bytes.  An image costs about the page file's
 * size to write and the log it replaces holds the store's space, so while the page file is under
 * the cap a checkpoint both bounds the disk space (pages.db + one image + a log no larger than
 * them) and costs at most one page-file write per page file of log.  Past the cap each checkpoint
 * still writes the whole file, page file / cap times per page file of log: the cap trades that
 * write traffic for a shorter recovery, which is why its default is large.
 */
static uint64_t kv_checkpoint_wal_threshold(dbos_kv *kv)
{
	uint64_t page_file_bytes = dbos_bp_page_count(kv->bp) * kv->page_size;
	uint64_t relative = page_file_bytes > KV_CHECKPOINT_WAL_MIN ? page_file_bytes : KV_CHECKPOINT_WAL_MIN;
	return relative < kv->checkpoint_wal_bytes ? relative : kv->checkpoint_wal_bytes;
}

static bool kv_checkpoint_due(dbos_kv *kv)
{
	return kv->checkpoint_wal_bytes != UINT64_MAX && !atomic_load(&kv->failed) &&
	       kv_wal_bytes_since(kv->wal, atomic_load(&kv->checkpoint_lsn)) >= kv_checkpoint_wal_threshold(kv);
}

static void kv_checkpoint_thread_main(void *argument)
{
	dbos_kv *kv = argument;
	while (!atomic_load(&kv->checkpoint_stop)) {
		uint32_t seen = __atomic_load_n(&kv->checkpoint_signal, __ATOMIC_ACQUIRE);
		if (atomic_load(&kv->checkpoint_stop))
			break;
		struct kv_epochs *epochs = atomic_load(&kv->epochs);
		if (epochs)
			kv_epochs_reclaim(epochs);
		if (!kv_checkpoint_due(kv)) {
			dbos_platform_wait(&kv->checkpoint_signal, seen, UINT64_MAX);
			continue;
		}
		if (kv_store_checkpoint(kv) != DBOS_OK) {
			dbos_platform_log(DBOS_LOG_WARN, "dbos kv: a background checkpoint failed; retrying later");
			dbos_platform_wait(&kv->checkpoint_signal, seen, KV_CHECKPOINT_RETRY_NS);
		}
	}
}

void kv_checkpoint_thread_start(dbos_kv *kv)
{
	atomic_store(&kv->checkpoint_stop, false);
	/* Started even when checkpoints come only on request: it frees closed views' memory too. */
	if (dbos_platform_thread_start(kv_checkpoint_thread_main, kv, &kv->checkpoint_thread) != DBOS_OK)
		kv->checkpoint_thread = NULL; /* no threads here: writers checkpoint inline (kv_checkpoint_poke) */
}

void kv_checkpoint_thread_stop(dbos_kv *kv)
{
	if (!kv->checkpoint_thread)
		return;
	atomic_store(&kv->checkpoint_stop, true);
	__atomic_fetch_add(&kv->checkpoint_signal, 1, __ATOMIC_RELEASE);
	dbos_platform_wake(&kv->checkpoint_signal, UINT32_MAX);
	dbos_platform_thread_join(kv->checkpoint_thread); /* waits for a checkpoint in progress */
	kv->checkpoint_thread = NULL;
}

void kv_background_poke(dbos_kv *kv)
{
	__atomic_fetch_add(&kv->checkpoint_signal, 1, __ATOMIC_RELEASE);
	dbos_platform_wake(&kv->checkpoint_signal, 1);
}

void kv_checkpoint_poke(dbos_kv *kv)
{
	if (!kv_checkpoint_due(kv))
		return;
	if (kv->checkpoint_thread) {
		kv_background_poke(kv);
	} else if (dbos_mutex_try_lock(&kv->checkpoint_lock)) {
		/* No thread: this writer does it, unless another is at it already. */
		kv_store_checkpoint_locked(kv);
		dbos_mutex_unlock(&kv->checkpoint_lock);
	}
}
