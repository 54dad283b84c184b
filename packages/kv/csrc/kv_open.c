/*
 * kv_open.c - dbos_kv_open: check the config, take LOCK, then one of
 *
 *   create     an empty directory (DBOS_KV_CREATE): pages.db, an empty tree, and
 *              the first checkpoint at LSN 8 before anything else, so that a crash
 *              at any later moment finds a checkpoint to recover from;
 *   open       a store: STATE says clean -> use pages.db (kv_open_clean), else
 *              rebuild it from the newest checkpoint and the log (kv_recover);
 *   read-only  a cleanly closed store only, writing nothing (recovery would
 *              rewrite pages.db: a crashed store must be opened writable once).
 *
 * Before the pool may write any page of pages.db, STATE must not say clean:
 * otherwise a crash in this session would leave a half-written pages.db that
 * the next open trusts.
 */
#include "kv_store.h"

#define KV_KNOWN_FLAGS (DBOS_KV_CREATE | DBOS_KV_READ_ONLY | DBOS_KV_BUFFERED)

static dbos_status kv_config_check(const dbos_kv_config *config)
{
	if (!config->dir || !config->dir[0])
		return kv_fail(DBOS_EINVAL, 0, "config.dir must name a directory", NULL, NULL);
	if (kv_strlen(config->dir) > KV_DIR_MAX)
		return kv_fail(DBOS_EINVAL, 0, "config.dir is too long", NULL, NULL);
	if (config->flags & ~(uint32_t)KV_KNOWN_FLAGS)
		return kv_fail(DBOS_EINVAL, 0, "config.flags has unknown bits", NULL, NULL);
	if ((config->flags & DBOS_KV_CREATE) && (config->flags & DBOS_KV_READ_ONLY))
		return kv_fail(DBOS_EINVAL, 0, "config.flags: DBOS_KV_CREATE and DBOS_KV_READ_ONLY exclude each other",
			       NULL, NULL);
	uint32_t page_size = config->page_size;
	if (page_size && (!DBOS_IS_POWER_OF_TWO(page_size) || page_size < DBOS_BP_PAGE_SIZE_MIN ||
			  page_size > DBOS_BP_PAGE_SIZE_MAX))
		return kv_fail_number(DBOS_EINVAL, 0, "config.page_size ", "", page_size, false,
				      " is not a power of two in [4096, 65536]");
	uint64_t cache_bytes = config->cache_bytes ? config->cache_bytes : DBOS_KV_CACHE_BYTES_DEFAULT;
	if (cache_bytes / (page_size ? page_size : DBOS_BP_PAGE_SIZE_DEFAULT) < KV_CACHE_PAGES_MIN)
		return kv_fail_number(DBOS_EINVAL, 0, "config.cache_bytes ", "holds fewer than ", KV_CACHE_PAGES_MIN,
				      false, " pages");
	if (config->reserved != 0)
		return kv_fail(DBOS_EINVAL, 0, "config.reserved must be zero", NULL, NULL);
	return DBOS_OK;
}

static dbos_kv *kv_store_new(const dbos_kv_config *config)
{
	dbos_kv *kv = dbos_platform_alloc(sizeof *kv);
	if (!kv)
		return NULL;
	__builtin_memcpy(kv->dir, config->dir, kv_strlen(config->dir) + 1);
	DBOS_ASSERT(kv_path_join(kv->pages_path, sizeof kv->pages_path, kv->dir, KV_PAGES_NAME));
	kv->flags = config->flags;
	kv->page_size = config->page_size;
	kv->cache_bytes = config->cache_bytes ? config->cache_bytes : DBOS_KV_CACHE_BYTES_DEFAULT;
	kv->checkpoint_wal_bytes =
		config->checkpoint_wal_bytes ? config->checkpoint_wal_bytes : DBOS_KV_CHECKPOINT_WAL_BYTES_DEFAULT;
	kv->lock = -1;
	return kv;
}

/* Undo a failed open: everything kv holds goes, nothing is written (STATE stays as it was). */
static void kv_store_discard(dbos_kv *kv)
{
	kv_checkpoint_thread_stop(kv);
	if (kv->wal)
		kv_wal_close(kv->wal);
	kv->wal = NULL;
	kv_pool_close(kv);
	kv_handles_free(kv);
	if (kv->record_buffer)
		dbos_platform_free(kv->record_buffer, kv->record_buffer_size);
	kv_fs_unlock(kv->lock);
	dbos_platform_free(kv, sizeof *kv);
}

/* What the directory holds; the refusals for "no store" and "not a store". */
static dbos_status kv_open_scan(dbos_kv *kv, struct kv_dir_scan *scan)
{
	dbos_status status = kv_dir_scan(kv->dir, scan);
	if (status == DBOS_ENOENT)
		return kv_fail(DBOS_ENOENT, kv_fs_errno(), "no store in ", kv->dir,
			       (kv->flags & DBOS_KV_CREATE)
				       ? NULL
				       : ": the directory does not exist (DBOS_KV_CREATE makes it)");
	if (status != DBOS_OK)
		return status;
	if (scan->kind == KV_DIR_FOREIGN)
		return kv_fail(DBOS_EINVAL, 0, "not a store: ", kv->dir, " holds files a store does not have");
	if (scan->kind == KV_DIR_EMPTY && !(kv->flags & DBOS_KV_CREATE))
		return kv_fail(DBOS_ENOENT, 0, "no store in ", kv->dir, " (DBOS_KV_CREATE makes one)");
	return DBOS_OK;
}

static dbos_status kv_open_create(dbos_kv *kv)
{
	/* 1. A fresh pages.db (after whatever an unfinished creation left) with an empty tree. */
	dbos_status status = kv_dir_remove_leftovers(kv->dir);
	if (status != DBOS_OK)
		return status;
	if ((status = kv_pool_open(kv, DBOS_BP_CREATE, true)) != DBOS_OK)
		return status;
	/* 2. The first checkpoint: from here on the directory is a store that can always be recovered. */
	dbos_mutex_lock(&kv->write_lock);
	struct kv_epoch *epoch = NULL;
	status = kv_epoch_begin(atomic_load(&kv->epochs), &epoch);
	dbos_mutex_unlock(&kv->write_lock);
	if (status != DBOS_OK)
		return kv_fail(status, 0, "cannot begin the first checkpoint of ", kv->dir, NULL);
	status = kv_checkpoint_write(epoch, kv->dir, KV_FIRST_LSN, kv->gateway, NULL, NULL);
	kv_epoch_end(epoch);
	if (status != DBOS_OK)
		return kv_fail(status, 0, "cannot write the first checkpoint of ", kv->dir, NULL);
	atomic_store(&kv->checkpoint_lsn, KV_FIRST_LSN);
	/* 3. STATE (not clean: pages.db is being written from now on) and the log. */
	struct kv_state state = { .page_size = kv->page_size, .clean = false };
	if ((status = kv_state_write(kv->dir, kv->gateway, &state)) != DBOS_OK)
		return status;
	if ((status = kv_wal_open(kv->dir, KV_FIRST_LSN, kv->gateway, &kv->wal)) != DBOS_OK)
		return kv_fail(status, 0, "cannot open the log of ", kv->dir, NULL);
	return DBOS_OK;
}

static dbos_status kv_open_existing(dbos_kv *kv)
{
	/* 1. STATE: a missing or damaged one just means "not known to be clean". */
	struct kv_state state = { 0 };
	dbos_status status = kv_state_read(kv->dir, kv->gateway, &state);
	bool have_state = status == DBOS_OK;
	if (status != DBOS_OK && status != DBOS_ENOENT && status != DBOS_ECORRUPT)
		return status;
	if (have_state && kv->page_size && state.page_size && state.page_size != kv->page_size)
		return kv_fail_number(DBOS_EINVAL, 0, "config.page_size differs from the store's: ", "",
				      state.page_size, false, NULL);
	/* 2. Not clean from now on, before the pool can write a page. */
	struct kv_state unclean = { .page_size = have_state ? state.page_size : kv->page_size, .clean = false };
	bool state_written = false;
	if (have_state && state.clean) {
		if ((status = kv_state_write(kv->dir, kv->gateway, &unclean)) != DBOS_OK)
			return status;
		state_written = true;
	}
	/* 3. pages.db as closed, or rebuilt. */
	uint64_t next_lsn = 0;
	bool recovered = true;
	status = DBOS_EAGAIN;
	if (have_state && state.clean) {
		status = kv_open_clean(kv, state.clean_lsn, &next_lsn);
		recovered = status != DBOS_OK;
	}
	if (status == DBOS_EAGAIN)
		status = kv_recover(kv, &next_lsn);
	if (status != DBOS_OK)
		return status;
	if (!state_written || unclean.page_size != kv->page_size) {
		unclean.page_size = kv->page_size;
		if ((status = kv_state_write(kv->dir, kv->gateway, &unclean)) != DBOS_OK)
			return status;
	}
	/* 4. The log goes on where it ends. */
	if ((status = kv_wal_open(kv->dir, next_lsn, kv->gateway, &kv->wal)) != DBOS_OK)
		return kv_fail_number(status, 0, kv->dir, ": cannot open the log at lsn ", next_lsn, true, NULL);
	if (!recovered) {
		/* A clean open: which checkpoint a crash would restart from.  None that verifies (deleted,
		   damaged) would leave the store unrecoverable, so write one now. */
		uint64_t checkpoint_lsn = 0;
		if (kv_checkpoint_find(kv->dir, kv->gateway, &checkpoint_lsn) == DBOS_OK)
			atomic_store(&kv->checkpoint_lsn, checkpoint_lsn);
		else if ((status = kv_store_checkpoint(kv)) != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

static dbos_status kv_open_read_only(dbos_kv *kv)
{
	struct kv_state state = { 0 };
	dbos_status status = kv_state_read(kv->dir, kv->gateway, &state);
	if (status == DBOS_EINVAL || status == DBOS_ENOTSUP)
		return status;
	uint64_t size = 0;
	if (status != DBOS_OK || !state.clean || kv_fs_size(kv->dir, KV_PAGES_NAME, &size) != DBOS_OK)
		return kv_fail(DBOS_EBUSY, 0, "the store in ", kv->dir,
			       " was not closed cleanly and needs recovery: open it writable once");
	if (kv->page_size && state.page_size != kv->page_size)
		return kv_fail_number(DBOS_EINVAL, 0, "config.page_size differs from the store's: ", "",
				      state.page_size, false, NULL);
	if ((status = kv_pool_open(kv, DBOS_BP_READ_ONLY, false)) != DBOS_OK)
		return status;
	uint64_t records = 0, next_lsn = 0;
	if ((status = kv_log_records_after(kv, state.clean_lsn, &records, &next_lsn)) != DBOS_OK)
		return status;
	if (records != 0)
		return kv_fail(DBOS_EBUSY, 0, "the log of ", kv->dir,
			       " has records after its clean close and needs recovery: open it writable once");
	kv->base_lsn = state.clean_lsn;
	uint64_t checkpoint_lsn = 0;
	if (kv_checkpoint_find(kv->dir, kv->gateway, &checkpoint_lsn) == DBOS_OK)
		atomic_store(&kv->checkpoint_lsn, checkpoint_lsn);
	return DBOS_OK;
}

dbos_status dbos_kv_open(const dbos_kv_config *config, dbos_kv **kv_out)
{
	if (!config || !kv_out)
		return kv_fail(DBOS_EINVAL, 0, "open: config and kv_out must not be NULL", NULL, NULL);
	*kv_out = NULL;
	dbos_status status = kv_config_check(config);
	if (status != DBOS_OK)
		return status;
	dbos_kv *kv = kv_store_new(config);
	if (!kv)
		return kv_fail(DBOS_ENOMEM, 0, "open: out of memory", NULL, NULL);
	bool read_only = (config->flags & DBOS_KV_READ_ONLY) != 0;
	/* 1. Look before touching anything: no LOCK file is left in a directory that is refused. */
	struct kv_dir_scan scan;
	if ((config->flags & DBOS_KV_CREATE) && (status = kv_fs_mkdir(kv->dir)) != DBOS_OK)
		status = kv_fail_fs(status, "cannot create", kv->dir, NULL);
	if (status == DBOS_OK)
		status = kv_open_scan(kv, &scan);
	/* 2. LOCK, then look again: another process may have created the store meanwhile. */
	int32_t holder_pid = 0;
	if (status == DBOS_OK) {
		status = kv_fs_lock(kv->dir, !read_only, config->wait_for_lock_ms, &kv->lock, &holder_pid);
		if (status == DBOS_ELOCKED)
			kv_fail_locked(kv->dir, holder_pid);
		else if (status != DBOS_OK)
			kv_fail_fs(status, "cannot lock", kv->dir, "LOCK");
	}
	if (status == DBOS_OK)
		status = kv_open_scan(kv, &scan);
	/* 3. The gateway is taken only now, so a refused open starts no I/O threads. */
	if (status == DBOS_OK) {
		kv->gateway = config->gateway;
		if (!kv->gateway && (status = dbos_gateway_shared(&kv->gateway)) != DBOS_OK)
			kv_fail(status, 0, "open: no I/O gateway", NULL, NULL);
	}
	/* 4. A killed writer's last log writes may still be landing: wait them out before reading. */
	if (status == DBOS_OK && !read_only && scan.kind != KV_DIR_EMPTY &&
	    (status = kv_wal_wait_for_writers(kv->dir, kv->gateway)) != DBOS_OK)
		kv_fail(status, 0, "open: a log segment stays locked (a killed writer's I/O has not finished) in ",
			kv->dir, NULL);
	if (status == DBOS_OK) {
		if (read_only)
			status = kv_open_read_only(kv);
		else if (scan.kind == KV_DIR_EMPTY)
			status = kv_open_create(kv);
		else
			status = kv_open_existing(kv);
	}
	if (status != DBOS_OK) {
		kv_store_discard(kv);
		return status;
	}
	if (!read_only)
		kv_checkpoint_thread_start(kv);
	kv_error_clear();
	*kv_out = kv;
	return DBOS_OK;
}
