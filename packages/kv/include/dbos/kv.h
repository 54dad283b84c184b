/*
 * dbos/kv.h - the reference key-value store: an ordered map of byte-string
 * keys to byte-string values in one data directory.
 *
 * Keys are 1..DBOS_KV_KEY_MAX bytes and sort bytewise (memcmp, shorter first
 * on a common prefix); values are 0..DBOS_KV_VALUE_MAX bytes.  The map is a
 * B+tree on a @dbos/bufferpool page file; every change is a redo record in a
 * write-ahead log (WAL) before it is acknowledged; checkpoints write a
 * consistent image of every page from a copy-on-write page epoch while
 * writers go on; opening after a crash restores the newest checkpoint and
 * replays the log after it.
 *
 * Durability, precisely:
 *   - dbos_kv_write returns once the change is applied in memory and its log
 *     record is queued: readers see it at once, a crash may lose it.
 *   - Once dbos_kv_written_lsn() > the write's LSN, the record is in the
 *     operating system (a killed process loses nothing).
 *   - Once dbos_kv_synced_lsn() > the LSN, the record is on the device
 *     (fdatasync): it survives power loss.  A write with DBOS_KV_SYNC asks the
 *     commit thread to sync; without it the log is synced by the next sync
 *     write, a checkpoint, or close.
 * Writes from many threads are serialized (one writer at a time, inside the
 * store); reads never wait for writers (optimistic page reads that restart).
 *
 * Directory layout (the store owns the directory):
 *   LOCK                       flock'ed by the process that has the store open; holds its pid
 *   STATE                      clean-shutdown record (replaced atomically)
 *   pages.db                   the buffer-pool page file (the working copy)
 *   checkpoint.<16 hex lsn>    consistent page images; the newest valid one is used
 *   wal.<16 hex lsn>           log segments, named by their first LSN
 *
 * Errors are dbos_status codes; dbos_kv_last_error() gives the detail of the
 * most recent failure on the calling thread.
 */
#ifndef DBOS_KV_H
#define DBOS_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/hypercall.h"
#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DBOS_KV_KEY_MAX 1024u
#define DBOS_KV_VALUE_MAX (512u << 20)
/* Most operations one dbos_kv_write may carry. */
#define DBOS_KV_BATCH_MAX 1000000u
#define DBOS_KV_CACHE_BYTES_DEFAULT (256ull << 20)
/* A checkpoint rewrites the whole page file, so the log it replaces should be about as large:
   this cap only bounds recovery time (log replayed) for stores larger than it. */
#define DBOS_KV_CHECKPOINT_WAL_BYTES_DEFAULT (4ull << 30)

typedef struct dbos_kv dbos_kv;

enum dbos_kv_open_flags {
	DBOS_KV_CREATE = 1u << 0,    /* create the directory's store when there is none */
	DBOS_KV_READ_ONLY = 1u << 1, /* no writes; other read-only openers may share the store */
	DBOS_KV_BUFFERED = 1u << 2,  /* page file through the page cache (default: O_DIRECT) */
};

typedef struct dbos_kv_config {
	const char *dir;               /* the data directory (NUL-terminated) */
	uint32_t flags;                /* enum dbos_kv_open_flags */
	uint32_t page_size;            /* 0: 4096 (or the existing store's); power of two in [4 KiB, 64 KiB] */
	uint64_t cache_bytes;          /* buffer-pool budget; 0: DBOS_KV_CACHE_BYTES_DEFAULT */
	uint64_t checkpoint_wal_bytes; /* checkpoint in the background once the log grows this much
					  past the last one, or sooner once it outgrows the page file
					  (never below 4 MiB); 0: the default; UINT64_MAX: only when asked */
	uint32_t wait_for_lock_ms;     /* another process holds LOCK: wait this long, then DBOS_ELOCKED */
	uint32_t reserved;             /* zero */
	dbos_gateway *gateway;         /* NULL: dbos_gateway_shared() */
} dbos_kv_config;

/* What went wrong, for the last failed call on this thread. */
typedef struct dbos_kv_error {
	dbos_status status;
	int32_t errno_value; /* the host's errno where one was involved, else 0 */
	int32_t holder_pid;  /* DBOS_ELOCKED: the pid recorded in LOCK (0 when unknown) */
	uint32_t reserved;
	char message[256]; /* one line, names the file / page / record involved */
} dbos_kv_error;

void dbos_kv_last_error(dbos_kv_error *error_out);

/*
 * Open (DBOS_KV_CREATE: or create) the store in config->dir.  Refusals:
 *   DBOS_EINVAL    bad config; the directory holds something that is not a store
 *   DBOS_ENOTSUP   the store's format is newer than this code's
 *   DBOS_ECORRUPT  no valid checkpoint, or a damaged page file / log that cannot be recovered
 *   DBOS_ELOCKED   another process has the store open for writing (error.holder_pid)
 *   DBOS_ENOENT    no store there and no DBOS_KV_CREATE
 *   DBOS_EPERM / DBOS_EIO / DBOS_ENOSPC from the file system
 */
dbos_status dbos_kv_open(const dbos_kv_config *config, dbos_kv **kv_out);

/*
 * Make every write durable (sync the log), write every page back, record a
 * clean shutdown and free the store.  No cursor or view may be open
 * (DBOS_EBUSY, nothing closed).  The store is freed even when the final
 * writes fail; that status is returned (the next open then recovers).
 */
dbos_status dbos_kv_close(dbos_kv *kv);

/* ---- Writing ---------------------------------------------------------------- */

enum dbos_kv_op_type {
	DBOS_KV_PUT = 1,
	DBOS_KV_DEL = 2,
};

typedef struct dbos_kv_op {
	uint32_t type; /* enum dbos_kv_op_type */
	uint32_t key_size;
	uint64_t value_size; /* DBOS_KV_PUT only */
	const void *key;
	const void *value;
} dbos_kv_op;

enum dbos_kv_write_flags {
	DBOS_KV_SYNC = 1u << 0, /* the commit thread fdatasyncs the log up to this write */
};

/*
 * Apply `count` operations atomically, in order: after a crash either all of
 * them are there or none.  *lsn_out (may be NULL) receives the write's LSN
 * for dbos_kv_wait / dbos_kv_synced_lsn.  DBOS_EINVAL / DBOS_ERANGE for a bad
 * operation (nothing applied); DBOS_EPERM on a read-only store; DBOS_ENOSPC /
 * DBOS_EIO when the pages or the log cannot grow: the store then refuses
 * further writes (DBOS_EIO) until reopened, and the failed batch is not in
 * it after reopening.
 */
dbos_status dbos_kv_write(dbos_kv *kv, const dbos_kv_op *ops, uint32_t count, uint32_t flags, uint64_t *lsn_out);

/*
 * Where the log written to the OS / synced to the device ends.  A write's LSN
 * is where its record starts, so the write is written / synced once these
 * are greater than it.  LSNs grow; 0 is before every write.
 */
uint64_t dbos_kv_written_lsn(const dbos_kv *kv);
uint64_t dbos_kv_synced_lsn(const dbos_kv *kv);

/* Block until `lsn` is written (sync false) or synced (sync true). DBOS_EIO when the log failed. */
dbos_status dbos_kv_wait(dbos_kv *kv, uint64_t lsn, bool sync);

/*
 * Called on the commit thread after each group commit with the new written
 * and synced LSNs (and after a log failure with the status).  Must not call
 * into the store; NULL removes the listener.
 */
typedef void (*dbos_kv_commit_fn)(void *context, uint64_t written_lsn, uint64_t synced_lsn, dbos_status status);
void dbos_kv_set_commit_listener(dbos_kv *kv, dbos_kv_commit_fn listener, void *context);

/* ---- Reading ---------------------------------------------------------------- */

/* A read view: the store as of the moment it was opened, stable while writes go on. */
typedef struct dbos_kv_view dbos_kv_view;

dbos_status dbos_kv_view_open(dbos_kv *kv, dbos_kv_view **view_out);
void dbos_kv_view_close(dbos_kv_view *view);

/*
 * Look `key` up (in `view`, or the current state when view is NULL).  Copies
 * up to `capacity` bytes of the value to `value` and sets *size_out to the
 * full size (call again with a larger buffer when it is larger).
 * DBOS_ENOENT when absent.  Any thread, concurrently with writers.
 */
dbos_status dbos_kv_get(dbos_kv *kv, dbos_kv_view *view, const void *key, uint32_t key_size, void *value,
			uint64_t capacity, uint64_t *size_out);

/*
 * Before a batch of lookups: bring in the pages that looking up these `count`
 * keys will read, level by level of the tree with every read of a level in
 * flight together, so that the dbos_kv_get calls that follow run from memory.
 * Out of memory, a batch then waits for about one round of reads per level
 * instead of one read per key and level.  A hint: nothing is latched or
 * returned, a page evicted again before its lookup is read again, and a key
 * that is no valid key is skipped (its lookup reports it).  The pages are
 * those of the current state, which a view shares except where it was
 * written since.  DBOS_EINVAL for NULL arrays with a count.  Any thread.
 */
dbos_status dbos_kv_prefetch(dbos_kv *kv, const void *const *keys, const uint32_t *key_sizes, uint32_t count);

/* ---- Ranges ---------------------------------------------------------------- */

typedef struct dbos_kv_range {
	const void *low; /* NULL: from the first key */
	uint32_t low_size;
	bool low_inclusive;
	const void *high; /* NULL: to the last key */
	uint32_t high_size;
	bool high_inclusive;
	bool reverse; /* from high to low */
} dbos_kv_range;

typedef struct dbos_kv_cursor dbos_kv_cursor;

dbos_status dbos_kv_cursor_open(dbos_kv *kv, dbos_kv_view *view, const dbos_kv_range *range,
				dbos_kv_cursor **cursor_out);

/*
 * Copy the next entries into `buffer` as records
 *   [u32 key_size][u32 reserved][u64 value_size][key][value], each padded to 8 bytes,
 * as many as fit.  *count_out entries, *used_out bytes; 0 entries at the end of
 * the range (DBOS_OK).  DBOS_ELIMIT when the next entry alone does not fit:
 * *used_out then says how many bytes it needs.  Without a view, a cursor
 * sees every write committed before it reaches the key, and never an entry
 * twice or out of order.
 */
dbos_status dbos_kv_cursor_next(dbos_kv_cursor *cursor, void *buffer, size_t capacity, uint32_t *count_out,
				size_t *used_out);
void dbos_kv_cursor_close(dbos_kv_cursor *cursor);

/* ---- Maintenance ------------------------------------------------------------ */

/* Write a checkpoint now (blocks), then drop the log before it. */
dbos_status dbos_kv_checkpoint(dbos_kv *kv);

/* Progress: bytes done so far of the total.  Return false to stop: the call fails with DBOS_ECANCELED. */
typedef bool (*dbos_kv_progress_fn)(void *context, uint64_t done_bytes, uint64_t total_bytes);

/*
 * Write a consistent copy of the store (as of the call) into `dest_dir`,
 * which must not exist or be empty; writers go on meanwhile.  The copy is a
 * store: dbos_kv_open opens it.
 */
dbos_status dbos_kv_backup(dbos_kv *kv, const char *dest_dir, dbos_kv_progress_fn progress, void *context);

/*
 * Read every page of the store and verify its checksum and the tree's
 * structure (key order, separator bounds, overflow chains, free chain).
 * DBOS_ECORRUPT names the first bad page in dbos_kv_last_error.
 */
dbos_status dbos_kv_check(dbos_kv *kv, dbos_kv_progress_fn progress, void *context);

struct dbos_kv_stats {
	uint64_t entries;     /* keys in the store */
	uint64_t tree_height; /* levels, 1 for a single leaf */
	uint64_t pages;       /* pages in the page file, header included */
	uint64_t free_pages;  /* of which free for reuse */
	uint64_t page_size;
	uint64_t file_bytes; /* pages.db + log + checkpoints on disk */
	uint64_t wal_bytes;  /* log since the last checkpoint */
	uint64_t written_lsn;
	uint64_t synced_lsn;
	uint64_t checkpoint_lsn;     /* LSN of the newest checkpoint */
	uint64_t checkpoints;        /* written since open */
	uint64_t group_commits;      /* log writes since open */
	uint64_t syncs;              /* log fdatasyncs since open */
	uint64_t epoch_pages_copied; /* pages copied for checkpoints and views since open */
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t resident_bytes;
	uint64_t cache_bytes;
	uint64_t optimistic_restarts;
	uint64_t recovered_records; /* log records replayed by open */
	uint64_t epoch_pages_held;  /* page copies in memory now: open views and checkpoints, and closed
				       views whose copies the background thread has not freed yet */
};

void dbos_kv_stats(dbos_kv *kv, struct dbos_kv_stats *stats_out);

/* One line: which mechanisms this store uses here (page file mode, log sync, checksum). */
void dbos_kv_mechanism(dbos_kv *kv, char *text, size_t text_size);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_KV_H */
