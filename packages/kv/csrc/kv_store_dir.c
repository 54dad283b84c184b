/*
 * kv_store_dir.c - what a data directory holds, by file name.
 *
 * A store is there once it has a checkpoint or a STATE file: a new store writes
 * its first checkpoint before anything else can depend on it, so a directory with
 * only pages.db / log segments / temporary files is a creation that never
 * finished (nothing in it was ever acknowledged) and may be started over.  Any
 * name a store never writes means the directory belongs to someone else, and
 * the store refuses to touch it.
 */
#include "kv_store.h"

static bool kv_name_is(const char *name, const char *expected)
{
	size_t length = kv_strlen(expected);
	return __builtin_memcmp(name, expected, length) == 0 && name[length] == '\0';
}

static bool kv_name_starts(const char *name, const char *prefix)
{
	size_t length = kv_strlen(prefix);
	for (size_t i = 0; i < length; i++)
		if (name[i] != prefix[i])
			return false;
	return true;
}

static void kv_dir_scan_entry(void *context, const char *name)
{
	struct kv_dir_scan *scan = context;
	uint64_t lsn;
	if (kv_name_is(name, ".") || kv_name_is(name, "..") || kv_name_is(name, "LOCK") ||
	    kv_name_is(name, KV_PAGES_NAME) || kv_name_is(name, KV_PAGES_TEMP_NAME) ||
	    kv_name_is(name, KV_STATE_TEMP_NAME) || kv_name_starts(name, KV_WAL_PREFIX))
		return;
	if (kv_name_is(name, KV_STATE_NAME)) {
		scan->has_state = true;
		return;
	}
	if (kv_name_starts(name, KV_CHECKPOINT_PREFIX)) {
		/* Only a finished checkpoint (its final name) makes a store; temporary ones do not. */
		if (kv_name_lsn(name, KV_CHECKPOINT_PREFIX, &lsn))
			scan->has_checkpoint = true;
		return;
	}
	if (scan->foreign_name[0] == '\0') {
		size_t length = kv_strlen(name);
		__builtin_memcpy(scan->foreign_name, name, length + 1);
	}
}

dbos_status kv_dir_scan(const char *dir, struct kv_dir_scan *scan_out)
{
	__builtin_memset(scan_out, 0, sizeof *scan_out);
	dbos_status status = kv_fs_list(dir, "", kv_dir_scan_entry, scan_out);
	if (status != DBOS_OK)
		return kv_fail_fs(status, "cannot list", dir, NULL);
	if (scan_out->foreign_name[0])
		scan_out->kind = KV_DIR_FOREIGN;
	else if (scan_out->has_state || scan_out->has_checkpoint)
		scan_out->kind = KV_DIR_STORE;
	else
		scan_out->kind = KV_DIR_EMPTY;
	return DBOS_OK;
}

struct kv_dir_removal {
	const char *dir;
	dbos_status status;
};

static void kv_dir_remove_entry(void *context, const char *name)
{
	struct kv_dir_removal *removal = context;
	dbos_status status = kv_fs_unlink(removal->dir, name);
	if (status != DBOS_OK && removal->status == DBOS_OK)
		removal->status = kv_fail_fs(status, "cannot remove", removal->dir, name);
}

dbos_status kv_dir_remove_leftovers(const char *dir)
{
	struct kv_dir_removal removal = { dir, DBOS_OK };
	dbos_status status = kv_fs_list(dir, KV_WAL_PREFIX, kv_dir_remove_entry, &removal);
	if (status == DBOS_OK)
		status = kv_fs_list(dir, KV_CHECKPOINT_PREFIX, kv_dir_remove_entry, &removal);
	if (status != DBOS_OK)
		return kv_fail_fs(status, "cannot list", dir, NULL);
	kv_dir_remove_entry(&removal, KV_PAGES_NAME);
	kv_dir_remove_entry(&removal, KV_PAGES_TEMP_NAME);
	kv_dir_remove_entry(&removal, KV_STATE_TEMP_NAME);
	return removal.status;
}

struct kv_dir_bytes {
	const char *dir;
	uint64_t bytes;
};

static void kv_dir_add_bytes(void *context, const char *name)
{
	struct kv_dir_bytes *sum = context;
	uint64_t size = 0;
	if (kv_fs_size(sum->dir, name, &size) == DBOS_OK)
		sum->bytes += size;
}

uint64_t kv_dir_file_bytes(const char *dir)
{
	struct kv_dir_bytes sum = { dir, 0 };
	kv_fs_list(dir, KV_WAL_PREFIX, kv_dir_add_bytes, &sum);
	kv_fs_list(dir, KV_CHECKPOINT_PREFIX, kv_dir_add_bytes, &sum);
	kv_dir_add_bytes(&sum, KV_PAGES_NAME);
	return sum.bytes;
}

static void kv_dir_count_entry(void *context, const char *name)
{
	if (!kv_name_is(name, ".") && !kv_name_is(name, ".."))
		(*(uint64_t *)context)++;
}

dbos_status kv_dir_require_empty(const char *dir)
{
	uint64_t entries = 0;
	dbos_status status = kv_fs_list(dir, "", kv_dir_count_entry, &entries);
	if (status != DBOS_OK)
		return kv_fail_fs(status, "cannot list", dir, NULL);
	if (entries)
		return kv_fail(DBOS_EEXIST, 0, "backup destination is not empty: ", dir, NULL);
	return DBOS_OK;
}
