/*
 * kv_state.c - the STATE file: did the store close cleanly, and where.
 *
 * A clean close writes every page back to pages.db and then records
 * {clean, the log's end LSN}; the next open may then use pages.db as it is.
 * Any other state (no STATE, clean = 0, a STATE that fails its CRC) means
 * "pages.db cannot be trusted: rebuild it from the newest checkpoint and the log".
 * Opening for writing therefore records clean = 0 before the pool may write a
 * single page, so a crash after that point can never pass pages.db off as clean.
 *
 * On disk (little-endian, 48 bytes):
 *   u64 magic "dbosKVs1" | u32 format version | u32 page size | u64 clean LSN |
 *   u32 clean (0 / 1) | u32 zero | u64 zero | u32 zero | u32 CRC32C of the bytes before it
 * Replaced atomically: written to STATE.tmp, fdatasync'ed, renamed over STATE,
 * directory synced.  A torn STATE is therefore impossible; a bad CRC is damage.
 */
#include "dbos/crc32c.h"
#include "dbos/io_linux.h"
#include "kv_store.h"

#define KV_STATE_MAGIC 0x3173564b736f6264ull /* "dbosKVs1" read little-endian */
#define KV_STATE_FORMAT_VERSION 1u

struct kv_state_record {
	uint64_t magic;
	uint32_t format_version;
	uint32_t page_size;
	uint64_t clean_lsn;
	uint32_t clean;
	uint32_t reserved0;
	uint64_t reserved1;
	uint32_t reserved2;
	uint32_t checksum; /* CRC32C of every byte before this field */
};

_Static_assert(sizeof(struct kv_state_record) == 48, "STATE is a 48-byte on-disk layout");

static uint32_t kv_state_checksum(const struct kv_state_record *record)
{
	return dbos_crc32c(0, record, __builtin_offsetof(struct kv_state_record, checksum));
}

static int64_t kv_state_open_file(dbos_gateway *gateway, const char *path, uint32_t flags)
{
	dbos_io_op op = { 0 };
	op.opcode = DBOS_IO_OPENAT;
	op.fd = DBOS_IO_AT_FDCWD;
	op.path = (uint64_t)(uintptr_t)path;
	op.flags = flags | DBOS_IO_O_CLOEXEC;
	op.mode = 0644;
	return kv_io_run(gateway, &op);
}

static int64_t kv_state_file_op(dbos_gateway *gateway, uint8_t opcode, int32_t fd)
{
	dbos_io_op op = { 0 };
	op.opcode = opcode;
	op.fd = fd;
	return kv_io_run(gateway, &op);
}

dbos_status kv_state_read(const char *dir, dbos_gateway *gateway, struct kv_state *state_out)
{
	char path[KV_PATH_MAX];
	if (!kv_path_join(path, sizeof path, dir, KV_STATE_NAME))
		return kv_fail(DBOS_EINVAL, 0, "directory name too long: ", dir, NULL);
	int64_t fd = kv_state_open_file(gateway, path, DBOS_IO_O_RDONLY);
	if (fd == -DBOS_IO_ENOENT)
		return DBOS_ENOENT; /* not an error: a store that never closed, or a backup */
	if (fd < 0)
		return kv_fail(dbos_io_status(fd), (int32_t)-fd, "cannot open ", path, NULL);
	struct kv_state_record record = { 0 };
	int64_t got = kv_io_read_all(gateway, (int32_t)fd, &record, sizeof record, 0);
	kv_state_file_op(gateway, DBOS_IO_CLOSE, (int32_t)fd);
	if (got < 0)
		return kv_fail(dbos_io_status(got), (int32_t)-got, "cannot read ", path, NULL);
	/*
	 * A wrong magic number is damage like any other: the directory was recognised as a store
	 * by its names (kv_store_dir.c), and the checkpoint and the log can rebuild what STATE
	 * only summarises.  Refusing here would lock the user out of an intact store.
	 */
	if ((size_t)got < sizeof record)
		return kv_fail(DBOS_ECORRUPT, 0, "damaged state file: ", path, " is too short");
	if (record.magic != KV_STATE_MAGIC)
		return kv_fail(DBOS_ECORRUPT, 0, "damaged state file: ", path, " has a wrong magic number");
	if (record.checksum != kv_state_checksum(&record))
		return kv_fail(DBOS_ECORRUPT, 0, "damaged state file: ", path, " fails its checksum");
	if (record.format_version > KV_STATE_FORMAT_VERSION)
		return kv_fail_number(DBOS_ENOTSUP, 0, path, " has format version ", record.format_version, false,
				      ", newer than this code's");
	state_out->page_size = record.page_size;
	state_out->clean = record.clean == 1;
	state_out->clean_lsn = record.clean_lsn;
	return DBOS_OK;
}

dbos_status kv_state_write(const char *dir, dbos_gateway *gateway, const struct kv_state *state)
{
	char path[KV_PATH_MAX];
	if (!kv_path_join(path, sizeof path, dir, KV_STATE_TEMP_NAME))
		return kv_fail(DBOS_EINVAL, 0, "directory name too long: ", dir, NULL);
	struct kv_state_record record = { 0 };
	record.magic = KV_STATE_MAGIC;
	record.format_version = KV_STATE_FORMAT_VERSION;
	record.page_size = state->page_size;
	record.clean_lsn = state->clean ? state->clean_lsn : 0;
	record.clean = state->clean ? 1u : 0u;
	record.checksum = kv_state_checksum(&record);

	/* 1. Write the temporary file in full and make it durable. */
	int64_t fd = kv_state_open_file(gateway, path, DBOS_IO_O_WRONLY | DBOS_IO_O_CREAT | DBOS_IO_O_TRUNC);
	if (fd < 0)
		return kv_fail(dbos_io_status(fd), (int32_t)-fd, "cannot create ", path, NULL);
	int64_t result = kv_io_write_all(gateway, (int32_t)fd, &record, sizeof record, 0);
	if (result >= 0)
		result = kv_state_file_op(gateway, DBOS_IO_FDATASYNC, (int32_t)fd);
	kv_state_file_op(gateway, DBOS_IO_CLOSE, (int32_t)fd);
	if (result < 0)
		return kv_fail(dbos_io_status(result), (int32_t)-result, "cannot write ", path, NULL);
	/* 2. Put it in place: the rename is atomic and kv_fs_rename syncs the directory. */
	dbos_status status = kv_fs_rename(dir, KV_STATE_TEMP_NAME, KV_STATE_NAME);
	if (status != DBOS_OK)
		return kv_fail_fs(status, "cannot rename STATE.tmp to STATE in", dir, NULL);
	return DBOS_OK;
}
