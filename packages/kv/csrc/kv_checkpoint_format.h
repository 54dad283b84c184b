/*
 * kv_checkpoint_format.h - the layout of a checkpoint file and the checks on it,
 * shared by writing (kv_checkpoint.c) and finding / restoring (kv_checkpoint_restore.c).
 *
 *   [0, 4096)                    struct kv_checkpoint_header, then zeros
 *   4096 + (pid - 1) * page_size page pid, for pid 1 .. page_count - 1, sealed as the
 *                                buffer pool seals pages it writes (own pid, CRC32C of
 *                                bytes [4, page_size)), so a restore copies them through
 *   after the last page          struct kv_checkpoint_trailer
 *
 * The header block is 4 KiB so that the pages lie at 4 KiB-aligned offsets.  The
 * trailer's pages_crc chains CRC32C over every page's stored checksum in pid order:
 * with the header and the trailer checked, a file is complete; each page is checked
 * when it is restored.
 */
#ifndef KV_CHECKPOINT_FORMAT_H
#define KV_CHECKPOINT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "kv_internal.h"

/* "dbosKVc1" and "dbosKVt1", little-endian. */
#define KV_CHECKPOINT_MAGIC 0x3163564b736f6264ull
#define KV_CHECKPOINT_TRAILER_MAGIC 0x3174564b736f6264ull
#define KV_CHECKPOINT_FORMAT_VERSION 1u
#define KV_CHECKPOINT_HEADER_BYTES 4096u
#define KV_CHECKPOINT_PREFIX "checkpoint."
#define KV_CHECKPOINT_TMP_SUFFIX ".tmp"
/* Reads and writes move this much at a time (a multiple of every page size). */
#define KV_CHECKPOINT_IO_BYTES ((uint64_t)4 << 20)
/* A checkpoint being written is synced every this many bytes (see kv_checkpoint_submit). */
#define KV_CHECKPOINT_SYNC_BYTES ((uint64_t)64 << 20)

struct kv_checkpoint_header {
	uint64_t magic;          /* KV_CHECKPOINT_MAGIC */
	uint32_t format_version; /* KV_CHECKPOINT_FORMAT_VERSION */
	uint32_t page_size;
	uint64_t page_count; /* the pool's, header page included: the image holds pages 1 .. page_count - 1 */
	uint64_t free_head;  /* the pool's free chain at the epoch */
	uint64_t free_count;
	uint64_t lsn;      /* the log position the image is consistent with (also in the file name) */
	uint32_t checksum; /* CRC32C of this struct, checksum field zeroed */
	uint32_t reserved; /* zero */
};
_Static_assert(sizeof(struct kv_checkpoint_header) == 56, "the checkpoint header is a 56-byte on-disk layout");

struct kv_checkpoint_trailer {
	uint64_t magic; /* KV_CHECKPOINT_TRAILER_MAGIC */
	uint64_t lsn;
	uint64_t page_count;
	uint32_t pages_crc; /* CRC32C chained over every page's checksum field, pid order */
	uint32_t checksum;  /* CRC32C of this struct, checksum field zeroed */
};
_Static_assert(sizeof(struct kv_checkpoint_trailer) == 32, "the checkpoint trailer is a 32-byte on-disk layout");

/* Buffers hold whole pages of any size, and the first one the header block too. */
_Static_assert(KV_CHECKPOINT_IO_BYTES % DBOS_BP_PAGE_SIZE_MAX == 0, "I/O buffers hold whole pages");
_Static_assert(KV_CHECKPOINT_IO_BYTES >= KV_CHECKPOINT_HEADER_BYTES + DBOS_BP_PAGE_SIZE_MAX,
	       "the first buffer holds the header block and a page");
_Static_assert(KV_CHECKPOINT_HEADER_BYTES >= sizeof(struct kv_checkpoint_header), "the header fits its block");

static inline uint64_t kv_checkpoint_page_offset(uint32_t page_size, uint64_t pid)
{
	return KV_CHECKPOINT_HEADER_BYTES + (pid - 1) * page_size;
}

static inline uint64_t kv_checkpoint_file_size(uint32_t page_size, uint64_t page_count)
{
	return kv_checkpoint_page_offset(page_size, page_count) + sizeof(struct kv_checkpoint_trailer);
}

/* Fill in the checksum fields. */
void kv_checkpoint_header_seal(struct kv_checkpoint_header *header);
void kv_checkpoint_trailer_seal(struct kv_checkpoint_trailer *trailer);

/* Seal a page image as the pool would write it: its pid and checksum. Returns the checksum. */
uint32_t kv_checkpoint_page_seal(uint8_t *page, uint32_t page_size, uint64_t pid);

/* "checkpoint.<16 hex>" and "checkpoint.<16 hex>.tmp" into name (KV_NAME_MAX + 1 bytes). */
void kv_checkpoint_name(char *name, uint64_t lsn, bool temporary);
/* The LSN of a checkpoint's name; *temporary_out says whether it is a .tmp. false: another name. */
bool kv_checkpoint_name_lsn(const char *name, uint64_t *lsn_out, bool *temporary_out);

/* Open dir/name through the gateway (flags DBOS_IO_O_*). A negative errno on failure. */
int64_t kv_checkpoint_open_file(dbos_gateway *gateway, const char *dir, const char *name, uint32_t flags);
/* The same for a full path. */
int64_t kv_checkpoint_open_path(dbos_gateway *gateway, const char *path, uint32_t flags);
void kv_checkpoint_close_file(dbos_gateway *gateway, int32_t fd);
int64_t kv_checkpoint_sync_file(dbos_gateway *gateway, int32_t fd);

/*
 * Open checkpoint `lsn` in dir and check its header, its size and its trailer.
 * DBOS_ECORRUPT (logged, naming the file and the check) when one fails,
 * DBOS_ENOENT when it is missing.  On success *fd_out is open for reading.
 */
dbos_status kv_checkpoint_open_verified(dbos_gateway *gateway, const char *dir, uint64_t lsn, int32_t *fd_out,
					struct kv_checkpoint_header *header_out,
					struct kv_checkpoint_trailer *trailer_out);

/* Log "<what> <file>: <problem> <number>" as a warning and return DBOS_ECORRUPT. */
dbos_status kv_checkpoint_corrupt(const char *file, const char *problem, uint64_t number);

#endif /* KV_CHECKPOINT_FORMAT_H */
