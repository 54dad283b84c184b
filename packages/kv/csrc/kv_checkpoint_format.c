/*
 * kv_checkpoint_format.c - sealing and checking the parts of a checkpoint file
 * (layout in kv_checkpoint_format.h), its names, and opening it through the gateway.
 */
#include "kv_checkpoint_format.h"

#include "dbos/io_linux.h"
#include "dbos/platform.h"

void kv_checkpoint_header_seal(struct kv_checkpoint_header *header)
{
	header->checksum = 0;
	header->checksum = dbos_crc32c(0, header, sizeof *header);
}

void kv_checkpoint_trailer_seal(struct kv_checkpoint_trailer *trailer)
{
	trailer->checksum = 0;
	trailer->checksum = dbos_crc32c(0, trailer, sizeof *trailer);
}

uint32_t kv_checkpoint_page_seal(uint8_t *page, uint32_t page_size, uint64_t pid)
{
	dbos_bp_page_header *header = (dbos_bp_page_header *)page;
	header->pid = pid;
	header->checksum = dbos_crc32c(0, page + sizeof header->checksum, page_size - sizeof header->checksum);
	return header->checksum;
}

void kv_checkpoint_name(char *name, uint64_t lsn, bool temporary)
{
	kv_name_with_lsn(name, KV_CHECKPOINT_PREFIX, lsn);
	if (temporary)
		__builtin_memcpy(name + kv_strlen(name), KV_CHECKPOINT_TMP_SUFFIX, sizeof KV_CHECKPOINT_TMP_SUFFIX);
}

bool kv_checkpoint_name_lsn(const char *name, uint64_t *lsn_out, bool *temporary_out)
{
	size_t prefix = sizeof KV_CHECKPOINT_PREFIX - 1, suffix = sizeof KV_CHECKPOINT_TMP_SUFFIX - 1;
	size_t length = kv_strlen(name);
	*temporary_out = false;
	if (length == prefix + 16)
		return kv_name_lsn(name, KV_CHECKPOINT_PREFIX, lsn_out);
	if (length != prefix + 16 + suffix ||
	    __builtin_memcmp(name + prefix + 16, KV_CHECKPOINT_TMP_SUFFIX, suffix) != 0)
		return false;
	char plain[KV_NAME_MAX + 1];
	__builtin_memcpy(plain, name, prefix + 16);
	plain[prefix + 16] = '\0';
	*temporary_out = true;
	return kv_name_lsn(plain, KV_CHECKPOINT_PREFIX, lsn_out);
}

int64_t kv_checkpoint_open_path(dbos_gateway *gateway, const char *path, uint32_t flags)
{
	dbos_io_op op = { .opcode = DBOS_IO_OPENAT,
			  .fd = DBOS_IO_AT_FDCWD,
			  .path = (uint64_t)(uintptr_t)path,
			  .flags = flags | DBOS_IO_O_CLOEXEC,
			  .mode = 0644 };
	return kv_io_run(gateway, &op);
}

int64_t kv_checkpoint_open_file(dbos_gateway *gateway, const char *dir, const char *name, uint32_t flags)
{
	char path[KV_PATH_MAX];
	if (!kv_path_join(path, sizeof path, dir, name))
		return -DBOS_IO_EINVAL;
	return kv_checkpoint_open_path(gateway, path, flags);
}

void kv_checkpoint_close_file(dbos_gateway *gateway, int32_t fd)
{
	dbos_io_op op = { .opcode = DBOS_IO_CLOSE, .fd = fd };
	(void)kv_io_run(gateway, &op); /* nothing was written through a descriptor that is still unsynced */
}

int64_t kv_checkpoint_sync_file(dbos_gateway *gateway, int32_t fd)
{
	dbos_io_op op = { .opcode = DBOS_IO_FDATASYNC, .fd = fd };
	return kv_io_run(gateway, &op);
}

/* Append text / a decimal number to a message of `size` bytes; returns the new length. */
static size_t kv_append(char *text, size_t size, size_t length, const char *piece)
{
	while (*piece && length + 1 < size)
		text[length++] = *piece++;
	text[length] = '\0';
	return length;
}

static size_t kv_append_u64(char *text, size_t size, size_t length, uint64_t value)
{
	char digits[21];
	int at = 20;
	digits[at] = '\0';
	do
		digits[--at] = (char)('0' + value % 10);
	while ((value /= 10) != 0);
	return kv_append(text, size, length, digits + at);
}

dbos_status kv_checkpoint_corrupt(const char *file, const char *problem, uint64_t number)
{
	char message[256];
	size_t length = kv_append(message, sizeof message, 0, "kv: checkpoint ");
	length = kv_append(message, sizeof message, length, file);
	length = kv_append(message, sizeof message, length, ": ");
	length = kv_append(message, sizeof message, length, problem);
	length = kv_append(message, sizeof message, length, " ");
	kv_append_u64(message, sizeof message, length, number);
	dbos_platform_log(DBOS_LOG_WARN, message);
	return DBOS_ECORRUPT;
}

static bool kv_page_size_valid(uint32_t page_size)
{
	return page_size >= DBOS_BP_PAGE_SIZE_MIN && page_size <= DBOS_BP_PAGE_SIZE_MAX &&
	       DBOS_IS_POWER_OF_TWO(page_size);
}

static dbos_status kv_checkpoint_check_header(const char *name, uint64_t lsn, struct kv_checkpoint_header header)
{
	if (header.magic != KV_CHECKPOINT_MAGIC)
		return kv_checkpoint_corrupt(name, "header: not a checkpoint, magic", header.magic);
	uint32_t stored = header.checksum;
	kv_checkpoint_header_seal(&header);
	if (stored != header.checksum)
		return kv_checkpoint_corrupt(name, "header: checksum mismatch, stored", stored);
	if (header.format_version != KV_CHECKPOINT_FORMAT_VERSION)
		return kv_checkpoint_corrupt(name, "header: unknown format version", header.format_version);
	if (!kv_page_size_valid(header.page_size))
		return kv_checkpoint_corrupt(name, "header: bad page size", header.page_size);
	if (header.page_count == 0 || header.free_head >= header.page_count || header.free_count >= header.page_count)
		return kv_checkpoint_corrupt(name, "header: page count / free chain inconsistent, page count",
					     header.page_count);
	/* So large that the file size computed from it wraps around (and could match the real size). */
	if (header.page_count >
	    (UINT64_MAX - KV_CHECKPOINT_HEADER_BYTES - sizeof(struct kv_checkpoint_trailer)) / header.page_size)
		return kv_checkpoint_corrupt(name, "header: page count too large, page count", header.page_count);
	if (header.lsn != lsn)
		return kv_checkpoint_corrupt(name, "header: LSN differs from the file name's, LSN", header.lsn);
	return DBOS_OK;
}

static dbos_status kv_checkpoint_check_trailer(const char *name, const struct kv_checkpoint_header *header,
					       struct kv_checkpoint_trailer trailer)
{
	if (trailer.magic != KV_CHECKPOINT_TRAILER_MAGIC)
		return kv_checkpoint_corrupt(name, "trailer: missing (incomplete file), magic", trailer.magic);
	uint32_t stored = trailer.checksum;
	kv_checkpoint_trailer_seal(&trailer);
	if (stored != trailer.checksum)
		return kv_checkpoint_corrupt(name, "trailer: checksum mismatch, stored", stored);
	if (trailer.lsn != header->lsn || trailer.page_count != header->page_count)
		return kv_checkpoint_corrupt(name, "trailer: does not match the header, page count",
					     trailer.page_count);
	return DBOS_OK;
}

dbos_status kv_checkpoint_open_verified(dbos_gateway *gateway, const char *dir, uint64_t lsn, int32_t *fd_out,
					struct kv_checkpoint_header *header_out,
					struct kv_checkpoint_trailer *trailer_out)
{
	char name[KV_NAME_MAX + 1];
	kv_checkpoint_name(name, lsn, false);
	uint64_t size = 0;
	dbos_status status = kv_fs_size(dir, name, &size);
	if (status != DBOS_OK)
		return status;
	int64_t fd = kv_checkpoint_open_file(gateway, dir, name, DBOS_IO_O_RDONLY);
	if (fd < 0)
		return dbos_io_status(fd);
	struct kv_checkpoint_header header = { 0 };
	struct kv_checkpoint_trailer trailer = { 0 };
	int64_t got = kv_io_read_all(gateway, (int32_t)fd, &header, sizeof header, 0);
	if (got < 0)
		status = dbos_io_status(got);
	else if (got != (int64_t)sizeof header)
		status = kv_checkpoint_corrupt(name, "header: file too short, bytes", (uint64_t)got);
	else
		status = kv_checkpoint_check_header(name, lsn, header);
	if (status == DBOS_OK && size != kv_checkpoint_file_size(header.page_size, header.page_count))
		status = kv_checkpoint_corrupt(name, "size differs from the header's page count (truncated?), bytes",
					       size);
	if (status == DBOS_OK) {
		got = kv_io_read_all(gateway, (int32_t)fd, &trailer, sizeof trailer, size - sizeof trailer);
		if (got < 0)
			status = dbos_io_status(got);
		else if (got != (int64_t)sizeof trailer)
			status = kv_checkpoint_corrupt(name, "trailer: short read, bytes", (uint64_t)got);
		else
			status = kv_checkpoint_check_trailer(name, &header, trailer);
	}
	if (status != DBOS_OK) {
		kv_checkpoint_close_file(gateway, (int32_t)fd);
		return status;
	}
	*fd_out = (int32_t)fd;
	*header_out = header;
	*trailer_out = trailer;
	return DBOS_OK;
}
