/*
 * kv_checkpoint_restore.c - using checkpoint files: finding the newest one that
 * is complete, rebuilding the page file from one, deleting old ones.
 *
 * Find checks the header, the file size and the trailer (a crash while a
 * checkpoint was written leaves only a .tmp, but a damaged disk or a copied
 * directory can leave anything).  Restore checks every page as it copies it:
 * its checksum, its pid, and at the end the chained CRC of all of them
 * against the trailer.  The page file is built under a .tmp name, synced and
 * renamed, so a crash during restore leaves the old pages.db or the new one.
 */
#include "dbos/io_linux.h"
#include "dbos/platform.h"
#include "kv_checkpoint_format.h"

/* ---- Finding ------------------------------------------------------------------ */

struct kv_checkpoint_search {
	bool bounded; /* only LSNs below `bound` count */
	uint64_t bound;
	bool found;
	uint64_t newest;
};

static void kv_checkpoint_consider(void *context, const char *name)
{
	struct kv_checkpoint_search *search = context;
	uint64_t lsn;
	bool temporary;
	if (!kv_checkpoint_name_lsn(name, &lsn, &temporary) || temporary)
		return;
	if (search->bounded && lsn >= search->bound)
		return;
	if (!search->found || lsn > search->newest) {
		search->found = true;
		search->newest = lsn;
	}
}

dbos_status kv_checkpoint_find(const char *dir, dbos_gateway *gateway, uint64_t *lsn_out)
{
	if (!dir || !gateway || !lsn_out)
		return DBOS_EINVAL;
	struct kv_checkpoint_search search = { 0 };
	/* Newest first; a damaged one sends the search to the next older (each round lists again:
	 * a directory holds a handful of checkpoints).  The bound falls every round: it ends. */
	for (;;) {
		search.found = false;
		dbos_status status = kv_fs_list(dir, KV_CHECKPOINT_PREFIX, kv_checkpoint_consider, &search);
		if (status != DBOS_OK)
			return status;
		if (!search.found)
			return DBOS_ENOENT;
		int32_t fd;
		struct kv_checkpoint_header header;
		struct kv_checkpoint_trailer trailer;
		status = kv_checkpoint_open_verified(gateway, dir, search.newest, &fd, &header, &trailer);
		if (status == DBOS_OK) {
			kv_checkpoint_close_file(gateway, fd);
			*lsn_out = search.newest;
			return DBOS_OK;
		}
		if (status != DBOS_ECORRUPT && status != DBOS_ENOENT) /* ENOENT: pruned while we looked */
			return status;
		search.bounded = true;
		search.bound = search.newest;
	}
}

/* ---- Restoring ------------------------------------------------------------------ */

struct kv_restore {
	dbos_gateway *gateway;
	int32_t source;   /* the checkpoint */
	int32_t target;   /* the new page file */
	const char *name; /* the checkpoint's, for messages */
	struct kv_checkpoint_header header;
	uint8_t *buffer; /* KV_CHECKPOINT_IO_BYTES */
};

/* Page 0 of a buffer-pool file: the file header as dbos_bp_flush writes it, zeros after it. */
static dbos_status kv_restore_header_page(struct kv_restore *restore)
{
	dbos_bp_file_header header = { .magic = DBOS_BP_FILE_MAGIC,
				       .format_version = DBOS_BP_FORMAT_VERSION,
				       .page_size = restore->header.page_size,
				       .page_count = restore->header.page_count,
				       .free_head = restore->header.free_head,
				       .free_count = restore->header.free_count };
	header.checksum = dbos_crc32c(0, &header, sizeof header);
	__builtin_memset(restore->buffer, 0, restore->header.page_size);
	__builtin_memcpy(restore->buffer, &header, sizeof header);
	int64_t result =
		kv_io_write_all(restore->gateway, restore->target, restore->buffer, restore->header.page_size, 0);
	return result < 0 ? dbos_io_status(result) : DBOS_OK;
}

/* Check pages [first, first + count) in the buffer; pages_crc continues over their checksums. */
static dbos_status kv_restore_verify(struct kv_restore *restore, uint64_t first, uint64_t count, uint32_t *pages_crc)
{
	uint32_t page_size = restore->header.page_size;
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *page = restore->buffer + i * page_size;
		const dbos_bp_page_header *header = (const dbos_bp_page_header *)page;
		uint32_t computed = dbos_crc32c(0, page + sizeof header->checksum, page_size - sizeof header->checksum);
		if (header->checksum != computed)
			return kv_checkpoint_corrupt(restore->name, "page checksum mismatch, page", first + i);
		if (header->pid != first + i)
			return kv_checkpoint_corrupt(restore->name, "page carries another page's id, page", first + i);
		*pages_crc = dbos_crc32c(*pages_crc, &header->checksum, sizeof header->checksum);
	}
	return DBOS_OK;
}

static dbos_status kv_restore_pages(struct kv_restore *restore, const struct kv_checkpoint_trailer *trailer)
{
	uint32_t page_size = restore->header.page_size;
	uint64_t batch = KV_CHECKPOINT_IO_BYTES / page_size;
	uint32_t pages_crc = 0;
	for (uint64_t pid = 1; pid < restore->header.page_count; pid += batch) {
		uint64_t count = restore->header.page_count - pid < batch ? restore->header.page_count - pid : batch;
		uint64_t bytes = count * page_size;
		int64_t got = kv_io_read_all(restore->gateway, restore->source, restore->buffer, bytes,
					     kv_checkpoint_page_offset(page_size, pid));
		if (got < 0)
			return dbos_io_status(got);
		if ((uint64_t)got != bytes)
			return kv_checkpoint_corrupt(restore->name, "file ends inside the pages, at page",
						     pid + (uint64_t)got / page_size);
		dbos_status status = kv_restore_verify(restore, pid, count, &pages_crc);
		if (status != DBOS_OK)
			return status;
		int64_t result =
			kv_io_write_all(restore->gateway, restore->target, restore->buffer, bytes, pid * page_size);
		if (result < 0)
			return dbos_io_status(result);
	}
	if (pages_crc != trailer->pages_crc)
		return kv_checkpoint_corrupt(restore->name, "pages do not match the trailer's CRC, stored",
					     trailer->pages_crc);
	int64_t result = kv_checkpoint_sync_file(restore->gateway, restore->target);
	return result < 0 ? dbos_io_status(result) : DBOS_OK;
}

/* pages_path as a directory and a name, for the rename. */
static bool kv_split_path(const char *path, char *dir, size_t dir_capacity, char *name, size_t name_capacity)
{
	size_t length = kv_strlen(path), slash = length;
	while (slash > 0 && path[slash - 1] != '/')
		slash--;
	size_t name_length = length - slash;
	if (name_length == 0 || name_length + 1 > name_capacity)
		return false;
	if (slash == 0) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		size_t dir_length = slash > 1 ? slash - 1 : 1; /* "/x" lives in "/" */
		if (dir_length + 1 > dir_capacity)
			return false;
		__builtin_memcpy(dir, path, dir_length);
		dir[dir_length] = '\0';
	}
	__builtin_memcpy(name, path + slash, name_length + 1);
	return true;
}

dbos_status kv_checkpoint_restore(const char *dir, uint64_t lsn, const char *pages_path, dbos_gateway *gateway)
{
	if (!dir || !pages_path || !gateway)
		return DBOS_EINVAL;
	char pages_dir[KV_PATH_MAX], pages_name[KV_NAME_MAX + 1], temporary[KV_NAME_MAX + 8];
	if (!kv_split_path(pages_path, pages_dir, sizeof pages_dir, pages_name, KV_NAME_MAX + 1))
		return DBOS_EINVAL;
	size_t name_length = kv_strlen(pages_name);
	__builtin_memcpy(temporary, pages_name, name_length);
	__builtin_memcpy(temporary + name_length, KV_CHECKPOINT_TMP_SUFFIX, sizeof KV_CHECKPOINT_TMP_SUFFIX);

	char checkpoint_name[KV_NAME_MAX + 1];
	kv_checkpoint_name(checkpoint_name, lsn, false);
	struct kv_restore restore = { .gateway = gateway, .name = checkpoint_name };
	struct kv_checkpoint_trailer trailer;
	dbos_status status = kv_checkpoint_open_verified(gateway, dir, lsn, &restore.source, &restore.header, &trailer);
	if (status != DBOS_OK)
		return status;
	restore.buffer = dbos_platform_alloc(KV_CHECKPOINT_IO_BYTES);
	int64_t fd = -DBOS_IO_ENOMEM;
	if (restore.buffer)
		fd = kv_checkpoint_open_file(gateway, pages_dir, temporary,
					     DBOS_IO_O_WRONLY | DBOS_IO_O_CREAT | DBOS_IO_O_TRUNC);
	status = fd < 0 ? dbos_io_status(fd) : DBOS_OK;
	if (status == DBOS_OK) {
		restore.target = (int32_t)fd;
		status = kv_restore_header_page(&restore);
		if (status == DBOS_OK)
			status = kv_restore_pages(&restore, &trailer);
		kv_checkpoint_close_file(gateway, restore.target);
		if (status == DBOS_OK)
			status = kv_fs_rename(pages_dir, temporary, pages_name);
		if (status != DBOS_OK)
			(void)kv_fs_unlink(pages_dir, temporary);
	}
	if (restore.buffer)
		dbos_platform_free(restore.buffer, KV_CHECKPOINT_IO_BYTES);
	kv_checkpoint_close_file(gateway, restore.source);
	return status;
}

/* ---- Pruning --------------------------------------------------------------------- */

struct kv_checkpoint_pruning {
	const char *dir;
	uint64_t keep_lsn;
};

static void kv_checkpoint_prune_one(void *context, const char *name)
{
	struct kv_checkpoint_pruning *pruning = context;
	uint64_t lsn;
	bool temporary;
	if (!kv_checkpoint_name_lsn(name, &lsn, &temporary))
		return;
	/* A .tmp newer than the kept checkpoint may be one being written now; older ones are left
	 * over from a crash or a failed write. */
	if (temporary ? lsn <= pruning->keep_lsn : lsn < pruning->keep_lsn)
		(void)kv_fs_unlink(pruning->dir, name); /* one that stays is deleted next time */
}

void kv_checkpoint_prune(const char *dir, uint64_t keep_lsn)
{
	struct kv_checkpoint_pruning pruning = { .dir = dir, .keep_lsn = keep_lsn };
	(void)kv_fs_list(dir, KV_CHECKPOINT_PREFIX, kv_checkpoint_prune_one, &pruning);
}
