/*
 * kv_store.h - the store object (struct dbos_kv) and what the store's own files
 * share.  The modules it composes (tree, log, epochs, checkpoints) are declared in
 * kv_internal.h; this header is private to the files that implement dbos/kv.h:
 *
 *   kv_open.c              dbos_kv_open: config checks, LOCK, new store, clean open
 *   kv_recover.c           recovery: restore the newest checkpoint, replay the log
 *   kv_state.c             the STATE file (clean-shutdown record)
 *   kv_store_dir.c         what the directory holds: a store, nothing, or foreign files
 *   kv_write.c             dbos_kv_write, applying operations, LSNs and waiting
 *   kv_read.c              get, views, cursors (and their handle slots)
 *   kv_store_checkpoint.c  checkpoints on request and from the background thread, which also
 *                          frees the page copies of closed views
 *   kv_backup.c            dbos_kv_backup
 *   kv.c                   close, check, stats, mechanism line
 *   kv_error.c             dbos_kv_last_error: recording and formatting the detail
 *   host/kv_error_slot.c   the calling thread's error record (thread-local storage)
 *
 * Locks, outermost first: checkpoint_lock (one checkpoint at a time), write_lock
 * (one writer; epochs begin under it so no change is half made), handles_lock
 * (the view / cursor slot list, held for a few instructions).
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stdatomic.h>

#include "dbos/platform.h"
#include "kv_internal.h"

#define KV_PAGES_NAME "pages.db"
#define KV_PAGES_TEMP_NAME "pages.db.tmp" /* kv_checkpoint_restore builds pages.db under this name */
#define KV_STATE_NAME "STATE"
#define KV_STATE_TEMP_NAME "STATE.tmp"
#define KV_CHECKPOINT_PREFIX "checkpoint."
#define KV_WAL_PREFIX "wal."
/* The first LSN of a fresh log (0 means "nothing"): the LSN of a new store's first checkpoint. */
#define KV_FIRST_LSN 8u
/* Fewest pages the cache may hold: a write latches a root-to-leaf path plus siblings and overflow pages. */
#define KV_CACHE_PAGES_MIN 64u
/* A background checkpoint is never due with less log than this since the last one (see
   kv_checkpoint_wal_threshold): a small store is not rewritten every few writes. */
#define KV_CHECKPOINT_WAL_MIN (4ull << 20)
/* The longest directory name: room is left for "/" and the longest file name. */
#define KV_DIR_MAX (KV_PATH_MAX - KV_NAME_MAX - 2u)

/* ---- STATE (kv_state.c) ------------------------------------------------------ */

struct kv_state {
	uint32_t page_size;
	bool clean;         /* closed cleanly: pages.db holds everything before clean_lsn */
	uint64_t clean_lsn; /* where the log ended at that close */
};

/* DBOS_ENOENT when there is no STATE; DBOS_EINVAL foreign file; DBOS_ENOTSUP newer; DBOS_ECORRUPT bad CRC. */
dbos_status kv_state_read(const char *dir, dbos_gateway *gateway, struct kv_state *state_out);
/* Replace STATE atomically (temporary file, fdatasync, rename, directory sync). */
dbos_status kv_state_write(const char *dir, dbos_gateway *gateway, const struct kv_state *state);

/* ---- The directory (kv_store_dir.c) ----------------------------------------- */

enum kv_dir_kind {
	KV_DIR_EMPTY = 1,   /* nothing of a store (maybe leftovers of a creation that never finished) */
	KV_DIR_STORE = 2,   /* STATE or a checkpoint: a store */
	KV_DIR_FOREIGN = 3, /* holds a file no store has */
};

struct kv_dir_scan {
	enum kv_dir_kind kind;
	bool has_state;
	bool has_checkpoint;
	char foreign_name[KV_NAME_MAX + 1]; /* KV_DIR_FOREIGN: one file that does not belong */
};

dbos_status kv_dir_scan(const char *dir, struct kv_dir_scan *scan_out);
/* Delete what an unfinished creation left (pages.db, log segments, temporary files). */
dbos_status kv_dir_remove_leftovers(const char *dir);
/* Bytes of pages.db, log segments and checkpoints (stats). */
uint64_t kv_dir_file_bytes(const char *dir);
/* DBOS_OK when dir has no entries; DBOS_EEXIST when it has. */
dbos_status kv_dir_require_empty(const char *dir);

/* ---- The store ------------------------------------------------------------------ */

struct kv_handle; /* a view or cursor slot (kv_read.c) */

struct dbos_kv {
	char dir[KV_DIR_MAX + 1];
	char pages_path[KV_PATH_MAX];
	uint32_t flags; /* dbos_kv_config.flags */
	uint32_t page_size;
	uint64_t cache_bytes;
	uint64_t checkpoint_wal_bytes; /* UINT64_MAX: only on request */
	dbos_gateway *gateway;
	int32_t lock; /* LOCK, from kv_fs_lock */

	dbos_bp *bp;
	struct kv_tree tree;
	struct kv_epochs *_Atomic epochs; /* set once the pool is open (read by the pool's hook) */
	struct kv_wal *wal;               /* NULL when read-only */
	uint64_t base_lsn;                /* read-only: the LSN the store was closed at */

	dbos_mutex write_lock;
	_Atomic bool failed; /* a write failed halfway: refuse writes until reopened */

	/* Checkpoints (kv_store_checkpoint.c). */
	dbos_mutex checkpoint_lock;
	_Atomic uint64_t checkpoint_lsn; /* the newest checkpoint's LSN */
	_Atomic uint64_t checkpoints;    /* written since open */
	dbos_thread *checkpoint_thread;  /* checkpoints and freeing closed views' copies; NULL: none (read-only,
					    or a runtime without threads) */
	uint32_t checkpoint_signal;      /* futex word: bumped to wake the checkpoint thread */
	_Atomic bool checkpoint_stop;

	/* Views and cursors. */
	dbos_mutex handles_lock;
	struct kv_handle *free_handles;
	void *handle_chunks; /* a list of slot pages, freed at close */
	_Atomic uint64_t open_handles;

	/* Write encoding buffer, guarded by write_lock. */
	void *record_buffer;
	size_t record_buffer_size;

	uint64_t recovered_records;
};

/* ---- Errors (kv_error.c, host/kv_error_slot.c) ------------------------------------ */

/* The calling thread's record. */
dbos_kv_error *kv_error_slot(void);

/* Record a failure on this thread and return `status`.  Up to three message pieces, NULL skipped. */
dbos_status kv_fail(dbos_status status, int32_t errno_value, const char *part1, const char *part2, const char *part3);
/* The same with a number after part2 ("... lsn 0x...", "... page 17"): decimal, or hex when hex. */
dbos_status kv_fail_number(dbos_status status, int32_t errno_value, const char *part1, const char *part2,
			   uint64_t number, bool hex, const char *part3);
/* DBOS_ELOCKED naming LOCK and the holder's pid (error.holder_pid). */
dbos_status kv_fail_locked(const char *dir, int32_t holder_pid);
/* A failure of a kv_fs_* call: errno from kv_fs_errno(). */
dbos_status kv_fail_fs(dbos_status status, const char *what, const char *dir, const char *name);
/* A failure reported by the buffer pool: its detail (page, check) becomes the message. */
dbos_status kv_fail_pool(dbos_status status, const char *what, const dbos_bp_error *pool_error);
/* The pool's last error, formatted (for failures of tree operations). */
dbos_status kv_fail_from_pool(dbos_kv *kv, dbos_status status, const char *what);
void kv_error_clear(void);

/* A bounded text builder for messages (no printf in the core). */
struct kv_text {
	char *buffer;
	size_t size;
	size_t length;
};
void kv_text_add(struct kv_text *text, const char *piece);
void kv_text_add_u64(struct kv_text *text, uint64_t value, bool hex);

/* ---- Cross-file store functions ------------------------------------------------ */

/* kv_recover.c */
/* Rebuild pages.db from the newest checkpoint and replay the log; opens kv->bp, epochs, tree.
 * *next_lsn_out: where the log continues. */
dbos_status kv_recover(dbos_kv *kv, uint64_t *next_lsn_out);
/* Open pages.db as left by a clean close at clean_lsn; DBOS_EAGAIN when it cannot be trusted
 * (the log has records after clean_lsn, or the file does not open): recover instead. */
dbos_status kv_open_clean(dbos_kv *kv, uint64_t clean_lsn, uint64_t *next_lsn_out);
/* Count the log's records from `lsn` on (nothing applied); *next_lsn_out: where the log ends. */
dbos_status kv_log_records_after(dbos_kv *kv, uint64_t lsn, uint64_t *records_out, uint64_t *next_lsn_out);
/* Open the pool over pages.db (bp_flags: DBOS_BP_CREATE / READ_ONLY), then epochs and the tree. */
dbos_status kv_pool_open(dbos_kv *kv, uint32_t bp_flags, bool format);
/* Close epochs and pool (after a failed open or at close); returns the pool's close status. */
dbos_status kv_pool_close(dbos_kv *kv);

/* kv_write.c */
/* Apply one operation to the tree at `lsn` (writer: write_lock held, or recovery). */
dbos_status kv_apply_op(dbos_kv *kv, const dbos_kv_op *op, uint64_t lsn);

/* kv_store_checkpoint.c */
/* Write a checkpoint of the store now (waits for one in progress). */
dbos_status kv_store_checkpoint(dbos_kv *kv);
/* Start / stop the background checkpoint thread (no thread on runtimes without threads). */
void kv_checkpoint_thread_start(dbos_kv *kv);
void kv_checkpoint_thread_stop(dbos_kv *kv);
/* After a write: wake the background thread when the log has grown past the threshold. */
void kv_checkpoint_poke(dbos_kv *kv);
/* Wake the background thread (a checkpoint may be due, or a closed view's memory waits to be freed). */
void kv_background_poke(dbos_kv *kv);

/* kv_read.c */
void kv_handles_free(dbos_kv *kv);

#endif /* KV_STORE_H */
