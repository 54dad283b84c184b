/*
 * kv.c - the store's lifecycle and maintenance: close, check, stats and the
 * mechanism line.  Open is in kv_open.c, writes in kv_write.c, reads in kv_read.c.
 */
#include "kv_store.h"

dbos_status dbos_kv_close(dbos_kv *kv)
{
	if (!kv)
		return kv_fail(DBOS_EINVAL, 0, "close: kv is NULL", NULL, NULL);
	uint64_t open_handles = atomic_load(&kv->open_handles);
	if (open_handles)
		return kv_fail_number(DBOS_EBUSY, 0, "close: ", "views or cursors still open: ", open_handles, false,
				      " (nothing closed)");
	/* 1. No more checkpoints (waits for one in progress). */
	kv_checkpoint_thread_stop(kv);
	/* 2. Every log record on the device; the commit thread ends. */
	dbos_status status = DBOS_OK;
	uint64_t end_lsn = 0;
	if (kv->wal) {
		end_lsn = kv_wal_next_lsn(kv->wal);
		status = kv_wal_close(kv->wal);
		if (status != DBOS_OK)
			kv_fail(status, 0, "close: cannot sync the log of ", kv->dir, NULL);
		kv->wal = NULL;
	}
	/* 3. Every page back in pages.db (the pool flushes and syncs it). */
	dbos_status pool_status = kv_pool_close(kv);
	if (status == DBOS_OK)
		status = pool_status;
	/*
	 * 4. Clean at the log's end: pages.db now holds every record before end_lsn.  Not
	 *    after any failure (the next open then recovers), and never for a store whose
	 *    tree holds half a batch.
	 */
	if (!(kv->flags & DBOS_KV_READ_ONLY) && status == DBOS_OK && !atomic_load(&kv->failed)) {
		struct kv_state state = { .page_size = kv->page_size, .clean = true, .clean_lsn = end_lsn };
		status = kv_state_write(kv->dir, kv->gateway, &state);
	}
	if (status == DBOS_OK && atomic_load(&kv->failed))
		status = kv_fail(DBOS_EIO, 0, "close: the store ", kv->dir, " had failed; the next open recovers it");
	/* 5. Memory and LOCK. */
	kv_handles_free(kv);
	if (kv->record_buffer)
		dbos_platform_free(kv->record_buffer, kv->record_buffer_size);
	kv_fs_unlock(kv->lock);
	dbos_platform_free(kv, sizeof *kv);
	return status;
}

dbos_status dbos_kv_check(dbos_kv *kv, dbos_kv_progress_fn progress, void *context)
{
	if (!kv)
		return kv_fail(DBOS_EINVAL, 0, "check: kv is NULL", NULL, NULL);
	/* 1. The tree's structure: order, bounds, chains. */
	uint64_t bad_pid = 0;
	dbos_status status = kv_tree_check(&kv->tree, progress, context, &bad_pid);
	if (status == DBOS_ECORRUPT)
		return kv_fail_number(DBOS_ECORRUPT, 0, "check: ", "the tree is damaged at page ", bad_pid, false,
				      NULL);
	if (status == DBOS_ECANCELED)
		return kv_fail(status, 0, "check: stopped by the progress callback", NULL, NULL);
	if (status != DBOS_OK)
		return kv_fail_from_pool(kv, status, "check: walking the tree failed");
	/* 2. Every page of the file, reachable or not: the pool verifies each checksum it reads. */
	uint64_t page_count = dbos_bp_page_count(kv->bp);
	for (uint64_t pid = 1; pid < page_count; pid++) {
		void *page;
		status = dbos_bp_fix_shared(kv->bp, pid, &page);
		if (status != DBOS_OK)
			return kv_fail_from_pool(kv, status, "check: reading pages.db failed");
		dbos_bp_unfix_shared(kv->bp, pid);
		if (progress && (pid & 255) == 0 &&
		    !progress(context, pid * (uint64_t)kv->page_size, page_count * (uint64_t)kv->page_size))
			return kv_fail(DBOS_ECANCELED, 0, "check: stopped by the progress callback", NULL, NULL);
	}
	return DBOS_OK;
}

void dbos_kv_stats(dbos_kv *kv, struct dbos_kv_stats *stats_out)
{
	if (!stats_out)
		return;
	__builtin_memset(stats_out, 0, sizeof *stats_out);
	if (!kv)
		return;
	struct kv_tree_info info = { 0 };
	if (kv_tree_info(&kv->tree, NULL, &info) == DBOS_OK) {
		stats_out->entries = info.entries;
		stats_out->tree_height = info.height;
	}
	struct dbos_bp_stats pool = { 0 };
	dbos_bp_stats(kv->bp, &pool);
	stats_out->pages = pool.page_count;
	stats_out->free_pages = pool.free_pages;
	stats_out->page_size = kv->page_size;
	stats_out->cache_hits = pool.hits;
	stats_out->cache_misses = pool.misses;
	stats_out->resident_bytes = pool.resident_bytes;
	stats_out->cache_bytes = kv->cache_bytes;
	stats_out->optimistic_restarts = pool.optimistic_restarts;
	stats_out->file_bytes = kv_dir_file_bytes(kv->dir);
	stats_out->checkpoint_lsn = atomic_load(&kv->checkpoint_lsn);
	stats_out->checkpoints = atomic_load(&kv->checkpoints);
	stats_out->written_lsn = dbos_kv_written_lsn(kv);
	stats_out->synced_lsn = dbos_kv_synced_lsn(kv);
	struct kv_epochs *epochs = atomic_load(&kv->epochs);
	stats_out->epoch_pages_copied = epochs ? kv_epoch_pages_copied(epochs) : 0;
	stats_out->epoch_pages_held = epochs ? kv_epoch_pages_held(epochs) : 0;
	stats_out->recovered_records = kv->recovered_records;
	if (kv->wal) {
		struct kv_wal_stats wal = { 0 };
		kv_wal_stats(kv->wal, &wal);
		stats_out->group_commits = wal.group_commits;
		stats_out->syncs = wal.syncs;
		stats_out->wal_bytes = kv_wal_bytes_since(kv->wal, stats_out->checkpoint_lsn);
	}
}

void dbos_kv_mechanism(dbos_kv *kv, char *text, size_t text_size)
{
	if (!text || !text_size)
		return;
	struct kv_text line = { text, text_size, 0 };
	text[0] = '\0';
	kv_text_add(&line, "pages: ");
	if (kv && kv->bp) {
		char pool[DBOS_BP_MECHANISM_LINE_SIZE];
		dbos_bp_mechanism(kv->bp, pool, sizeof pool);
		kv_text_add(&line, pool);
	} else {
		kv_text_add(&line, "none");
	}
	kv_text_add(&line,
		    kv && !kv->wal ? "; log: none (read-only)" : "; log: group commit, fdatasync on sync writes");
	kv_text_add(&line, "; checkpoints: copy-on-write page epochs, CRC32C per page (");
	kv_text_add(&line, dbos_crc32c_implementation());
	kv_text_add(&line, ")");
}
