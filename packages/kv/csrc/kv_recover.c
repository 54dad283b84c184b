/*
 * kv_recover.c - bringing pages.db up to date at open.
 *
 * pages.db is a working copy and is never trusted after a crash: the pool writes
 * pages back in any order, at any time, so after a kill it holds a mix of old and
 * new pages.  Recovery therefore rebuilds it from the newest checkpoint (a
 * consistent image at some LSN C) and replays the log from C.  That is also why
 * the pool gets no durable_lsn hook: the order of page writes against the log
 * does not matter when no page written by a crashed process is ever read again.
 *
 * The one exception is a clean close: it wrote every page back and then recorded
 * {clean, end LSN L} in STATE, so pages.db is an image at L and is used as it is
 * (after checking that the log has nothing after L).
 */
#include "kv_store.h"

/* The pool's before_write hook: epochs are created after the pool, so the hook goes through the store. */
static void kv_store_before_write(void *hook_context, uint64_t pid, const void *page)
{
	dbos_kv *kv = hook_context;
	struct kv_epochs *epochs = atomic_load_explicit(&kv->epochs, memory_order_acquire);
	if (epochs) /* before the epochs exist no epoch can be open: nothing to copy */
		kv_epochs_before_write(epochs, pid, page);
}

dbos_status kv_pool_open(dbos_kv *kv, uint32_t bp_flags, bool format)
{
	dbos_bp_config config = { 0 };
	config.path = kv->pages_path;
	config.page_size = kv->page_size; /* 0: the file's */
	config.flags = bp_flags | ((kv->flags & DBOS_KV_BUFFERED) ? DBOS_BP_BUFFERED : 0);
	config.pool_bytes = kv->cache_bytes;
	config.gateway = kv->gateway;
	/* No durable_lsn hook: see the top of this file. */
	config.before_write = kv_store_before_write;
	config.hook_context = kv;
	dbos_bp_error pool_error = { 0 };
	dbos_status status = dbos_bp_open(&config, &kv->bp, &pool_error);
	if (status != DBOS_OK) {
		kv->bp = NULL;
		/* A page size that differs from the store's is a configuration error here. */
		return kv_fail_pool(status == DBOS_ERANGE ? DBOS_EINVAL : status, kv->pages_path, &pool_error);
	}
	kv->page_size = dbos_bp_page_size(kv->bp);
	if (kv->cache_bytes / kv->page_size < KV_CACHE_PAGES_MIN) {
		kv_pool_close(kv);
		return kv_fail_number(DBOS_EINVAL, 0, "config.cache_bytes", " holds fewer than ", KV_CACHE_PAGES_MIN,
				      false, " pages of the store's page size");
	}
	struct kv_epochs *epochs = kv_epochs_create(kv->bp);
	if (!epochs) {
		kv_pool_close(kv);
		return kv_fail(DBOS_ENOMEM, 0, "out of memory for the page epochs of ", kv->dir, NULL);
	}
	atomic_store_explicit(&kv->epochs, epochs, memory_order_release);
	if (format && (status = kv_tree_format(kv->bp)) != DBOS_OK) {
		kv_fail_from_pool(kv, status, "cannot format the tree in pages.db");
		kv_pool_close(kv);
		return status;
	}
	kv->tree = (struct kv_tree){ 0 };
	if ((status = kv_tree_attach(&kv->tree, kv->bp)) != DBOS_OK) {
		kv_fail_from_pool(kv, status, "pages.db: the tree's meta page (page 1) is not usable");
		kv_pool_close(kv);
		return status;
	}
	return DBOS_OK;
}

dbos_status kv_pool_close(dbos_kv *kv)
{
	struct kv_epochs *epochs = atomic_exchange_explicit(&kv->epochs, NULL, memory_order_acq_rel);
	if (epochs)
		kv_epochs_destroy(epochs); /* before the pool: the hook then sees no epochs, and none uses the pool */
	dbos_status status = DBOS_OK;
	if (kv->bp) {
		status = dbos_bp_close(kv->bp);
		if (status != DBOS_OK) {
			dbos_bp_error pool_error = { .status = status };
			kv_fail_pool(status, "cannot write pages.db back", &pool_error);
		}
		kv->bp = NULL;
	}
	return status;
}

/* ---- Replay ------------------------------------------------------------------- */

struct kv_replay {
	dbos_kv *kv;
	uint64_t lsn; /* of the record being applied */
};

static dbos_status kv_replay_op(void *context, const dbos_kv_op *op)
{
	struct kv_replay *replay = context;
	return kv_apply_op(replay->kv, op, replay->lsn);
}

static dbos_status kv_replay_record(void *context, uint64_t lsn, const void *payload, uint32_t payload_size)
{
	struct kv_replay *replay = context;
	replay->lsn = lsn;
	dbos_status status = kv_record_decode(payload, payload_size, kv_replay_op, replay);
	if (status != DBOS_OK)
		kv_fail_number(status, 0, replay->kv->dir, ": recovery cannot apply the log record at lsn ", lsn, true,
			       status == DBOS_ECORRUPT ? " (it passed its CRC but does not decode)" : NULL);
	return status;
}

static dbos_status kv_count_record(void *context, uint64_t lsn, const void *payload, uint32_t payload_size)
{
	(*(uint64_t *)context)++;
	return DBOS_OK;
}

dbos_status kv_recover(dbos_kv *kv, uint64_t *next_lsn_out)
{
	/* 1. The newest checkpoint that verifies. */
	uint64_t checkpoint_lsn = 0;
	dbos_status status = kv_checkpoint_find(kv->dir, kv->gateway, &checkpoint_lsn);
	if (status == DBOS_ENOENT)
		return kv_fail(DBOS_ECORRUPT, 0, "no valid checkpoint in ", kv->dir, ": the store cannot be recovered");
	if (status != DBOS_OK)
		return kv_fail(status, 0, "cannot look for checkpoints in ", kv->dir, NULL);
	/*
	 * 2. A new pages.db from it.  The old file is unlinked first: a killed predecessor's
	 *    page writes may still be in flight in the kernel, and they then land on the old
	 *    inode, never on the restored file.
	 */
	if ((status = kv_fs_unlink(kv->dir, KV_PAGES_NAME)) != DBOS_OK)
		return kv_fail_fs(status, "cannot remove", kv->dir, KV_PAGES_NAME);
	status = kv_checkpoint_restore(kv->dir, checkpoint_lsn, kv->pages_path, kv->gateway);
	if (status != DBOS_OK)
		return kv_fail_number(status, 0, kv->dir, ": cannot restore pages.db from the checkpoint at lsn ",
				      checkpoint_lsn, true, NULL);
	/* 3. Open it and apply every log record from the checkpoint on. */
	if ((status = kv_pool_open(kv, 0, false)) != DBOS_OK)
		return status;
	struct kv_replay replay = { kv, 0 };
	uint64_t records = 0;
	status = kv_wal_replay(kv->dir, checkpoint_lsn, kv->gateway, kv_replay_record, &replay, next_lsn_out, &records);
	if (status != DBOS_OK) {
		if (kv_error_slot()->status != status) /* replay_record has said which record */
			kv_fail_number(status, 0, kv->dir, ": cannot read the log from lsn ", checkpoint_lsn, true,
				       NULL);
		kv_pool_close(kv);
		return status;
	}
	atomic_store(&kv->checkpoint_lsn, checkpoint_lsn);
	kv->recovered_records = records;
	return DBOS_OK;
}

dbos_status kv_log_records_after(dbos_kv *kv, uint64_t lsn, uint64_t *records_out, uint64_t *next_lsn_out)
{
	*records_out = 0;
	uint64_t counted = 0;
	dbos_status status = kv_wal_replay(kv->dir, lsn, kv->gateway, kv_count_record, &counted, next_lsn_out, NULL);
	if (status != DBOS_OK)
		return kv_fail_number(status, 0, kv->dir, ": cannot read the log from lsn ", lsn, true, NULL);
	*records_out = counted;
	return DBOS_OK;
}

dbos_status kv_open_clean(dbos_kv *kv, uint64_t clean_lsn, uint64_t *next_lsn_out)
{
	uint64_t size = 0;
	if (kv_fs_size(kv->dir, KV_PAGES_NAME, &size) != DBOS_OK)
		return DBOS_EAGAIN; /* pages.db is gone: rebuild it */
	dbos_status status = kv_pool_open(kv, 0, false);
	if (status == DBOS_ECORRUPT || status == DBOS_EIO)
		return DBOS_EAGAIN; /* a damaged working copy: the checkpoint and the log still have everything */
	if (status != DBOS_OK)
		return status;
	uint64_t records = 0, next_lsn = 0;
	if ((status = kv_log_records_after(kv, clean_lsn, &records, &next_lsn)) != DBOS_OK) {
		kv_pool_close(kv);
		return status;
	}
	if (records != 0 || next_lsn < clean_lsn) {
		/* The log does not end where STATE says: it is the authority, so recover from it. */
		kv_pool_close(kv);
		return DBOS_EAGAIN;
	}
	*next_lsn_out = next_lsn;
	return DBOS_OK;
}
