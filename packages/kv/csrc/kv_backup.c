/*
 * kv_backup.c - dbos_kv_backup: a consistent copy of the store in another directory.
 *
 * The copy is one checkpoint image, written from an epoch begun under the write
 * lock (writers go on meanwhile) at the log position X of that moment.  That is a
 * whole store: opening a directory with a checkpoint and no STATE recovers from
 * the checkpoint, finds no log after X and starts the log there.
 */
#include "kv_store.h"

dbos_status dbos_kv_backup(dbos_kv *kv, const char *dest_dir, dbos_kv_progress_fn progress, void *context)
{
	if (!kv || !dest_dir || !dest_dir[0])
		return kv_fail(DBOS_EINVAL, 0, "backup: kv and dest_dir must be given", NULL, NULL);
	if (kv_strlen(dest_dir) > KV_DIR_MAX)
		return kv_fail(DBOS_EINVAL, 0, "backup: the destination's name is too long", NULL, NULL);
	/* 1. An empty destination: a copy never mixes with other files (or overwrites a store). */
	dbos_status status = kv_fs_mkdir(dest_dir);
	if (status != DBOS_OK)
		return kv_fail_fs(status, "backup: cannot create", dest_dir, NULL);
	if ((status = kv_dir_require_empty(dest_dir)) != DBOS_OK)
		return status;
	/* 2. The point in time: an epoch and the log position, under the write lock. */
	dbos_mutex_lock(&kv->write_lock);
	if (atomic_load(&kv->failed)) {
		dbos_mutex_unlock(&kv->write_lock);
		return kv_fail(DBOS_EIO, 0, "backup: the store ", kv->dir, " failed earlier: close and reopen it");
	}
	uint64_t lsn = kv->wal ? kv_wal_next_lsn(kv->wal) : kv->base_lsn;
	struct kv_epoch *epoch = NULL;
	status = kv_epoch_begin(atomic_load(&kv->epochs), &epoch);
	dbos_mutex_unlock(&kv->write_lock);
	if (status != DBOS_OK)
		return kv_fail(status, 0, "backup: cannot begin a page epoch on ", kv->dir, NULL);
	/* 3. The image. */
	status = kv_checkpoint_write(epoch, dest_dir, lsn, kv->gateway, progress, context);
	kv_epoch_end(epoch);
	if (status != DBOS_OK) {
		kv_dir_remove_leftovers(dest_dir); /* it was empty: whatever is there is this backup's */
		if (status == DBOS_ECANCELED)
			return kv_fail(status, 0, "backup: stopped by the progress callback", NULL, NULL);
		return kv_fail(status, 0, "backup: cannot write the checkpoint into ", dest_dir, NULL);
	}
	return DBOS_OK;
}
