/*
 * kv_internal.h - the store's modules and the interfaces between them.
 *
 *   kv_tree*.c        the B+tree on buffer-pool pages: nodes, overflow values, cursors
 *   kv_epoch.c        copy-on-write page epochs: a consistent view of every page while writers go on
 *   kv_checkpoint.c   checkpoint images (written from an epoch), finding the newest, restoring pages.db
 *   kv_wal*.c         the write-ahead log: segments, records, the group-commit thread, replay
 *   kv_record.c       the log's batch payload: encode, decode (hostile input: fuzzed)
 *   kv.c, kv_*.c      the store: open and recovery, writes, reads, views, close (dbos/kv.h)
 *   kv_io.c           gateway helpers: run one op, read / write all of a buffer
 *   host/kv_fs.c      directory calls the gateway lacks (rename, unlink, list) and LOCK
 *
 * Threads: any thread reads.  Writers are serialized by kv->write_lock, held by
 * dbos_kv_write around "apply to the tree, append to the log" and by epoch
 * begin; the tree's write functions assume it is held.  The commit thread only
 * writes the log.  The checkpoint thread reads pages through its epoch.
 */
#ifndef DBOS_KV_INTERNAL_H
#define DBOS_KV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/bufferpool.h"
#include "dbos/io_linux.h"
#include "dbos/kv.h"

/* ---- Page epochs (kv_epoch.c) -------------------------------------------------
 *
 * An epoch is a consistent point: every page as it was when the epoch began.
 * The buffer pool calls kv_epochs_before_write (its before_write hook) with the
 * page latched exclusively and its old bytes in place; each open epoch that has
 * not yet seen that page keeps a copy.  Reading page P as of the epoch is then
 * "the copy, if there is one, else the current page" - the current page cannot
 * have changed since the epoch began, or there would be a copy.  Readers take a
 * shared latch on the current page and look for a copy again after latching
 * (a writer may have copied and changed it in between).  Memory: one page per
 * page written while the epoch is open.
 */
struct kv_epochs; /* the set of open epochs of one store */
struct kv_epoch;

struct kv_epochs *kv_epochs_create(dbos_bp *bp); /* bp may be NULL: the hook context exists before the pool */
/* The pool the epochs read, once it is open (when kv_epochs_create had none); before any epoch begins. */
void kv_epochs_attach(struct kv_epochs *epochs, dbos_bp *bp);
void kv_epochs_destroy(struct kv_epochs *epochs); /* every epoch must be ended */
/* The dbos_bp_config.before_write hook; hook_context is the struct kv_epochs. */
void kv_epochs_before_write(void *hook_context, uint64_t pid, const void *page);

/*
 * Begin an epoch: the caller holds the store's write lock (no change is half
 * made).  Pages >= the pool's page count at this moment are not part of it.
 */
dbos_status kv_epoch_begin(struct kv_epochs *epochs, struct kv_epoch **epoch_out);
void kv_epoch_end(struct kv_epoch *epoch);
/*
 * End an epoch now but free its memory later, in kv_epochs_reclaim: a view open through a long
 * save holds a copy of every page written meanwhile (gigabytes), and giving that much memory back
 * to the kernel takes seconds, which the thread closing the view (the event loop) must not wait.
 */
void kv_epoch_retire(struct kv_epoch *epoch);
/* Free the memory of every retired epoch.  kv_epochs_destroy does too. */
void kv_epochs_reclaim(struct kv_epochs *epochs);
uint64_t kv_epoch_page_count(const struct kv_epoch *epoch); /* pages (header included) at begin */
/* The file header fields (page count, free chain) at begin, for a checkpoint image. */
void kv_epoch_file_state(const struct kv_epoch *epoch, dbos_bp_file_header *header_out);
uint64_t kv_epoch_pages_copied(const struct kv_epochs *epochs); /* copies made, ever (stats) */
uint64_t kv_epoch_pages_held(const struct kv_epochs *epochs);   /* copies in memory now (stats) */

/* A page as of the epoch, readable until kv_epoch_unfix. */
struct kv_epoch_pin {
	const void *page;
	uint64_t pid;
	bool latched; /* the current page, latched shared (else an epoch copy) */
};
dbos_status kv_epoch_fix(struct kv_epoch *epoch, uint64_t pid, struct kv_epoch_pin *pin);
void kv_epoch_unfix(struct kv_epoch *epoch, struct kv_epoch_pin *pin);

/* ---- Checkpoint images (kv_checkpoint.c) --------------------------------------
 *
 * checkpoint.<lsn>: a header (magic, format version, page size, page count, the
 * buffer pool's free chain, the LSN the image is consistent with, CRC), then
 * every page 1..page_count-1 as of the epoch, each followed by nothing: the
 * page's own checksum (bytes [4, page_size)) is computed when written, and a
 * trailer with the CRC of all page checksums.  Written to a temporary name,
 * fdatasync'ed, renamed, directory synced: a checkpoint file either is complete
 * or is not there under its final name.
 */
dbos_status kv_checkpoint_write(struct kv_epoch *epoch, const char *dir, uint64_t lsn, dbos_gateway *gateway,
				dbos_kv_progress_fn progress, void *context);
/* The newest checkpoint in `dir` whose header and trailer verify: its LSN; DBOS_ENOENT when none. */
dbos_status kv_checkpoint_find(const char *dir, dbos_gateway *gateway, uint64_t *lsn_out);
/* Rebuild `pages_path` (a buffer-pool file) from checkpoint `lsn`, verifying every page. */
dbos_status kv_checkpoint_restore(const char *dir, uint64_t lsn, const char *pages_path, dbos_gateway *gateway);
/* Delete every checkpoint older than `keep_lsn`. */
void kv_checkpoint_prune(const char *dir, uint64_t keep_lsn);

/* ---- The B+tree (kv_tree*.c) ---------------------------------------------------
 *
 * Page 1 of pages.db is the tree's meta page (magic, format version, root pid,
 * height, entry count).  Nodes are slotted pages; values above a size limit live
 * in chains of overflow pages.  Readers descend with optimistic reads
 * (dbos_bp_optimistic_begin / validate, restarting from the root on a failed
 * validation) or, for an epoch, through kv_epoch_fix.  The single writer (the
 * caller holds the write lock) latches the pages it changes exclusively, which
 * bumps their versions and so restarts overlapping optimistic readers.  Every
 * page a write changes gets `lsn` in its page header.  Emptied pages go back to
 * the pool's free chain; underfull nodes merge with a sibling.
 */
struct kv_tree {
	dbos_bp *bp;
	uint32_t page_size;
	bool head_skip; /* format 2 and later: rebuilt nodes take a head_skip (kv_tree.h) */
};

/* A new file: allocate the meta page (pid 1) and an empty root leaf. */
dbos_status kv_tree_format(dbos_bp *bp);
/* An existing file: check the meta page. DBOS_ECORRUPT / DBOS_ENOTSUP on a bad or newer one. */
dbos_status kv_tree_attach(struct kv_tree *tree, dbos_bp *bp);

/* epoch NULL: the current state.  Same contract as dbos_kv_get. */
dbos_status kv_tree_get(struct kv_tree *tree, struct kv_epoch *epoch, const void *key, uint32_t key_size, void *value,
			uint64_t capacity, uint64_t *size_out);

/* Same contract as dbos_kv_prefetch (the current state). */
dbos_status kv_tree_prefetch(struct kv_tree *tree, const void *const *keys, const uint32_t *key_sizes, uint32_t count);

/* Writer only.  DBOS_ENOSPC / DBOS_EIO / DBOS_ELIMIT from the pool leave the tree consistent but
 * possibly with the operation half applied: the store then refuses writes until reopened. */
dbos_status kv_tree_put(struct kv_tree *tree, const void *key, uint32_t key_size, const void *value,
			uint64_t value_size, uint64_t lsn);
dbos_status kv_tree_del(struct kv_tree *tree, const void *key, uint32_t key_size, uint64_t lsn, bool *found_out);

struct kv_tree_info {
	uint64_t entries;
	uint64_t height;
};
dbos_status kv_tree_info(struct kv_tree *tree, struct kv_epoch *epoch, struct kv_tree_info *info_out);

/* Walk every reachable page, checking order, bounds and chains. DBOS_ECORRUPT: *bad_pid_out names the page. */
dbos_status kv_tree_check(struct kv_tree *tree, dbos_kv_progress_fn progress, void *context, uint64_t *bad_pid_out);

/* Cursors: the contract of dbos_kv_cursor_open / _next. */
struct kv_tree_cursor;
dbos_status kv_tree_cursor_open(struct kv_tree *tree, struct kv_epoch *epoch, const dbos_kv_range *range,
				struct kv_tree_cursor **cursor_out);
dbos_status kv_tree_cursor_next(struct kv_tree_cursor *cursor, void *buffer, size_t capacity, uint32_t *count_out,
				size_t *used_out);
void kv_tree_cursor_close(struct kv_tree_cursor *cursor);

/* ---- The write-ahead log (kv_wal*.c) -------------------------------------------
 *
 * A record: [u32 crc32c of the rest][u32 payload size][u64 lsn][payload], padded
 * to 8 bytes.  A record's LSN is its byte offset in the log as a whole (the
 * first record of a fresh log is at LSN 8, so that 0 means "nothing"); segments
 * are files wal.<first lsn> of about 64 MiB, a record never spans two.  Replay
 * reads from an LSN and stops at the first record that does not verify (a torn
 * tail), which it reports as the end of the log.
 */
struct kv_wal;

/* The largest payload one record carries: kv_wal_append refuses more (DBOS_ELIMIT). */
#define KV_WAL_PAYLOAD_MAX (1u << 30)

/*
 * Open the log in `dir` for appending at `next_lsn` (where replay ended, or 8
 * for a new store): a torn tail after it is cut off.  Starts the commit thread.
 */
dbos_status kv_wal_open(const char *dir, uint64_t next_lsn, dbos_gateway *gateway, struct kv_wal **wal_out);

/*
 * Queue a record; *lsn_out gets its LSN.  Returns at once (the commit thread
 * writes it); `sync` asks for fdatasync up to it.  DBOS_EIO once the log has
 * failed (every later append fails too).
 */
dbos_status kv_wal_append(struct kv_wal *wal, const void *payload, uint32_t payload_size, bool sync, uint64_t *lsn_out);
/* The LSN the next append will get (stable while the caller holds the store's write lock). */
uint64_t kv_wal_next_lsn(const struct kv_wal *wal);
uint64_t kv_wal_written_lsn(const struct kv_wal *wal); /* end LSN of the last record in the OS */
uint64_t kv_wal_synced_lsn(const struct kv_wal *wal);  /* end LSN of the last record on the device */
/* Block until the record at `lsn` is written / synced. */
dbos_status kv_wal_wait(struct kv_wal *wal, uint64_t lsn, bool sync);
/* Write and sync everything queued (checkpoint and close). */
dbos_status kv_wal_sync(struct kv_wal *wal);
void kv_wal_set_listener(struct kv_wal *wal, dbos_kv_commit_fn listener, void *context);
/*
 * Before reading a log another process wrote: wait (up to a few seconds, then DBOS_EBUSY)
 * until no write of a killed predecessor is still in flight on any segment.  Its io_uring
 * keeps each segment it was writing open, with the appender's flock on it, until the write
 * lands; a late write landing after replay would overwrite what this process appends.
 */
dbos_status kv_wal_wait_for_writers(const char *dir, dbos_gateway *gateway);
/* Delete segments whose records all lie before `lsn`. */
dbos_status kv_wal_truncate_before(struct kv_wal *wal, uint64_t lsn);
uint64_t kv_wal_bytes_since(const struct kv_wal *wal, uint64_t lsn);
/* Start a new segment at the record that begins at `lsn` (a record boundary, at most the next
 * LSN), so that kv_wal_truncate_before(lsn) can later delete everything before it. */
void kv_wal_roll_at(struct kv_wal *wal, uint64_t lsn);
struct kv_wal_stats {
	uint64_t group_commits;
	uint64_t syncs;
	uint64_t bytes;
};
void kv_wal_stats(const struct kv_wal *wal, struct kv_wal_stats *stats_out);
/* Sync, stop the commit thread, close. */
dbos_status kv_wal_close(struct kv_wal *wal);

/*
 * Replay: call apply(context, lsn, payload, size) for every valid record with
 * lsn >= from_lsn, in order.  *next_lsn_out: where the next record goes (after
 * the last valid one).  A failing apply stops replay with its status.
 */
typedef dbos_status (*kv_wal_apply_fn)(void *context, uint64_t lsn, const void *payload, uint32_t payload_size);
dbos_status kv_wal_replay(const char *dir, uint64_t from_lsn, dbos_gateway *gateway, kv_wal_apply_fn apply,
			  void *context, uint64_t *next_lsn_out, uint64_t *records_out);

/* ---- The log's batch payload (kv_record.c) ------------------------------------
 *
 * [u32 op count] then per operation [u8 type][u8 0][u16 0][u32 key size][u64 value
 * size][key][value].  Decoding checks every size against the payload and the
 * limits of dbos/kv.h: a record that passed its CRC but does not decode is
 * DBOS_ECORRUPT.
 */
uint64_t kv_record_size(const dbos_kv_op *ops, uint32_t count); /* 0 when it would exceed UINT32_MAX */
void kv_record_encode(const dbos_kv_op *ops, uint32_t count, void *payload);
/* Calls each(context, op) per operation; the op's pointers point into payload. */
dbos_status kv_record_decode(const void *payload, uint32_t size,
			     dbos_status (*each)(void *context, const dbos_kv_op *op), void *context);

/* ---- File-system calls the gateway has no op for (host/kv_fs.c) ---------------
 *
 * Reads, writes, opens, syncs and truncates go through the gateway
 * (dbos/hypercall.h); directory changes and the lock go here.  `dir` and `name`
 * are joined with '/'; the names the store makes are at most KV_NAME_MAX bytes.
 */
#define KV_PATH_MAX 4096u
#define KV_NAME_MAX 64u

dbos_status kv_fs_mkdir(const char *dir);                                    /* DBOS_OK when it exists already */
dbos_status kv_fs_rename(const char *dir, const char *from, const char *to); /* then syncs dir */
dbos_status kv_fs_unlink(const char *dir, const char *name);                 /* DBOS_OK when already gone */
dbos_status kv_fs_sync_dir(const char *dir);
/* each(context, name) for every entry of dir (not . and ..) whose name starts with prefix, in no order. */
dbos_status kv_fs_list(const char *dir, const char *prefix, void (*each)(void *context, const char *name),
		       void *context);
/* The size of dir/name in bytes; DBOS_ENOENT when missing. */
dbos_status kv_fs_size(const char *dir, const char *name, uint64_t *size_out);
/*
 * Take dir/LOCK (created when missing) with flock, exclusive or shared, waiting up
 * to wait_ms; the exclusive holder writes its pid into it.  DBOS_ELOCKED with
 * *holder_pid_out (0 when unknown) when it stays held.  *lock_out releases it.
 */
dbos_status kv_fs_lock(const char *dir, bool exclusive, uint32_t wait_ms, int32_t *lock_out, int32_t *holder_pid_out);
void kv_fs_unlock(int32_t lock);
/* flock an open file (exclusive or shared), waiting up to wait_ms; DBOS_EBUSY when it stays held. */
dbos_status kv_fs_lock_fd(int32_t fd, bool exclusive, uint32_t wait_ms);
/* errno of the last failed kv_fs_* call on this thread (0 when none). */
int32_t kv_fs_errno(void);

/* ---- Small freestanding helpers -------------------------------------------- */

static inline size_t kv_strlen(const char *text)
{
	size_t length = 0;
	while (text[length])
		length++;
	return length;
}

/* dst = dir + "/" + name, NUL-terminated. false when it does not fit in capacity. */
static inline bool kv_path_join(char *dst, size_t capacity, const char *dir, const char *name)
{
	size_t dir_length = kv_strlen(dir), name_length = kv_strlen(name);
	if (dir_length + 1 + name_length + 1 > capacity)
		return false;
	__builtin_memcpy(dst, dir, dir_length);
	dst[dir_length] = '/';
	__builtin_memcpy(dst + dir_length + 1, name, name_length + 1);
	return true;
}

/* "<prefix><16 lower-case hex digits of value>" into dst (capacity >= prefix + 17). */
static inline void kv_name_with_lsn(char *dst, const char *prefix, uint64_t value)
{
	size_t length = kv_strlen(prefix);
	__builtin_memcpy(dst, prefix, length);
	for (int i = 15; i >= 0; i--, value >>= 4)
		dst[length + (size_t)i] = "0123456789abcdef"[value & 15];
	dst[length + 16] = '\0';
}

/* The value of "<prefix><16 hex digits>"; false when name has another shape. */
static inline bool kv_name_lsn(const char *name, const char *prefix, uint64_t *value_out)
{
	size_t length = kv_strlen(prefix);
	for (size_t i = 0; i < length; i++)
		if (name[i] != prefix[i])
			return false;
	uint64_t value = 0;
	for (size_t i = 0; i < 16; i++) {
		char c = name[length + i];
		if (c >= '0' && c <= '9')
			value = value << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			value = value << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	if (name[length + 16] != '\0')
		return false;
	*value_out = value;
	return true;
}

/* Run one gateway op and wait for it; the result is bytes / fd / 0, or a negative errno. */
int64_t kv_io_run(dbos_gateway *gateway, const dbos_io_op *op);
/* pwrite / pread all of [buffer, buffer+length) at offset, looping over short transfers.
 * Negative errno on failure; -DBOS_IO_EIO style values come from dbos/io_linux.h. */
int64_t kv_io_write_all(dbos_gateway *gateway, int32_t fd, const void *buffer, uint64_t length, uint64_t offset);
int64_t kv_io_read_all(dbos_gateway *gateway, int32_t fd, void *buffer, uint64_t length, uint64_t offset);
/* A gateway result's status: dbos_io_status() in dbos/io_linux.h. */

#endif /* DBOS_KV_INTERNAL_H */
