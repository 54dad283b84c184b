/*
 * bp_internal.h - the buffer pool's shared state and its page state word.
 *
 * One struct dbos_bp per pool.  Pages live at `pages + pid * page_size` in a
 * reservation of max_pages pages; their state words at `states[pid]` in a
 * second one.  Both are committed up to `committed_pages` as the file grows.
 * Resident pages occupy frame slots (`slot_pid`): the clock turns over the
 * slots, and a free slot is the right to hold one more page in memory, so
 * the number of slots is the budget and it cannot be exceeded.
 */
#ifndef BP_INTERNAL_H
#define BP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/bufferpool.h"
#include "dbos/hypercall.h"
#include "dbos/io_linux.h"
#include "dbos/platform.h"
#include "dbos/status.h"

/* ---- The state word (layout in dbos/bufferpool.h) -------------------------- */

#define BP_STATE_SHIFT 56
#define BP_STATE_ONE ((uint64_t)1 << BP_STATE_SHIFT)
#define BP_WAITERS ((uint64_t)1 << 55)
#define BP_DIRTY ((uint64_t)1 << 54)
#define BP_VERSION_MASK (((uint64_t)1 << 54) - 1)

enum {
	BP_UNLOCKED = 0,
	BP_SHARED_MAX = 250,
	BP_IO = 251,
	BP_EXCLUSIVE = 253,
	BP_MARKED = 254,
	BP_EVICTED = 255,
};

static inline uint32_t bp_state(uint64_t word)
{
	return (uint32_t)(word >> BP_STATE_SHIFT);
}

static inline uint64_t bp_version(uint64_t word)
{
	return word & BP_VERSION_MASK;
}

/* `word` with its state replaced (dirty and waiters kept, version as given). */
static inline uint64_t bp_with_state(uint64_t word, uint32_t state)
{
	return (word & ~(0xffull << BP_STATE_SHIFT)) | ((uint64_t)state << BP_STATE_SHIFT);
}

/* The same word, version bumped (wrapping inside its field). */
static inline uint64_t bp_bump(uint64_t word)
{
	return (word & ~BP_VERSION_MASK) | ((word + 1) & BP_VERSION_MASK);
}

/* ---- The pool ---------------------------------------------------------------- */

/* The file header is written and read as the first 4 KiB of page 0: one O_DIRECT-sized block. */
#define BP_FILE_HEADER_BYTES 4096u

#define BP_SLOT_EMPTY 0 /* pid 0 is the file header, never resident: zeroed slots are empty */
#define BP_STRIPES 16u

/* A page chosen by the clock, locked in BP_IO for one eviction round. */
struct bp_victim {
	uint64_t pid;
	uint32_t slot;
	bool keep; /* stays resident: held back by the log, or its write failed */
};

/* Counters bumped on hot paths live in per-thread stripes (no shared cache line). */
struct bp_stripe {
	_Atomic uint64_t hits;
	_Atomic uint64_t misses;
	_Atomic uint64_t optimistic_restarts;
	uint8_t padding[DBOS_CACHE_LINE_SIZE - 3 * sizeof(uint64_t)];
};

struct dbos_bp {
	/* Read on every fix: the first cache line. */
	uint8_t *pages;              /* page pid at pages + pid * page_size */
	_Atomic uint64_t *states;    /* one state word per page */
	_Atomic uint64_t page_count; /* valid pids: 1 .. page_count - 1 */
	uint32_t page_shift;         /* log2(page_size) */
	uint32_t page_size;
	uint32_t budget_pages; /* frame slots */
	uint32_t evict_batch;
	uint32_t flags;        /* enum dbos_bp_open_flags */
	bool direct;           /* the file is open with O_DIRECT */
	const char *file_mode; /* for the mechanism line: O_DIRECT, or buffered and why */

	dbos_gateway *gateway;
	int32_t fd;
	uint64_t max_pages;
	size_t pages_reserved_bytes;
	size_t states_reserved_bytes;
	uint64_t committed_pages;      /* under alloc_lock: pages committed below this pid */
	size_t states_committed_bytes; /* under alloc_lock: state words committed */
	uint64_t file_pages;           /* under alloc_lock: the file's size in pages */
	uint64_t (*durable_lsn)(void *context);
	void (*before_write)(void *context, uint64_t pid, const void *page);
	void *hook_context;

	/* Frames: slot_pid[slot] is the page resident in that slot, BP_SLOT_EMPTY when none. */
	_Atomic uint64_t *slot_pid;
	uint32_t *free_slots;        /* stack of slots given back, under frame_lock */
	uint32_t free_slot_count;    /* under frame_lock */
	_Atomic uint32_t slots_used; /* slots [0, slots_used) were ever handed out (the clock's range) */
	size_t slots_bytes;          /* mapped for slot_pid; free_slots is half of it */
	dbos_mutex frame_lock;
	dbos_mutex evict_lock; /* one evictor at a time */
	uint32_t clock_hand;   /* under evict_lock */
	/* Scratch for one eviction round (evict_batch entries each), under evict_lock. */
	struct bp_victim *evict_victims;
	uint64_t *evict_pids;
	uint8_t **evict_addresses;
	uint32_t *evict_index;
	dbos_io_op *evict_ops;
	int64_t *evict_results;
	struct dbos_platform_range *evict_ranges; /* the victims' memory, discarded in one call */

	/* Allocation and the persisted header fields. */
	dbos_mutex alloc_lock;
	_Atomic uint64_t free_head;
	_Atomic uint64_t free_count;

	/* Flush: one at a time; scratch for one batch of writes (evict_batch entries). */
	dbos_mutex flush_lock;
	uint64_t *flush_pids;
	uint8_t **flush_addresses;
	dbos_io_op *flush_ops;
	int64_t *flush_results;
	uint8_t *header_page; /* one page-aligned page for the file header */

	/* Statistics (besides the stripes). */
	_Atomic uint64_t evictions;
	_Atomic uint64_t pages_written;
	_Atomic uint64_t reads_in_flight;
	_Atomic uint64_t writes_in_flight;
	_Atomic uint64_t resident_pages;
	_Atomic uint64_t dirty_pages;
	_Atomic uint64_t held_back;
	_Atomic uint32_t prefetches_in_flight; /* futex word: close waits for zero */

	/* The last failure, for dbos_bp_last_error. */
	dbos_mutex error_lock;
	dbos_bp_error last_error;

	char mechanism[DBOS_BP_MECHANISM_LINE_SIZE];

	struct bp_stripe stripes[BP_STRIPES] __attribute__((aligned(DBOS_CACHE_LINE_SIZE)));
};

static inline uint8_t *bp_page(const dbos_bp *bp, uint64_t pid)
{
	return bp->pages + (pid << bp->page_shift);
}

static inline uint64_t bp_offset(const dbos_bp *bp, uint64_t pid)
{
	return pid << bp->page_shift;
}

/* The calling thread's counter stripe: its preemption record's address tells threads apart. */
static inline struct bp_stripe *bp_stripe(dbos_bp *bp)
{
	uintptr_t key = (uintptr_t)dbos_platform_preempt();
	key ^= key >> 17;
	key *= 0x9e3779b97f4a7c15ull;
	return &bp->stripes[(key >> 60) % BP_STRIPES];
}

static inline bool bp_valid_pid(const dbos_bp *bp, uint64_t pid)
{
	return pid - 1 < atomic_load_explicit(&bp->page_count, memory_order_acquire) - 1;
}

/* ---- Waiting on a state word ---------------------------------------------------- */

/* Sleep until states[pid] differs from `seen` (spurious returns allowed). */
void bp_wait_change(dbos_bp *bp, uint64_t pid, uint64_t seen);

/*
 * Install `next` in states[pid] over `expected`; on success wake sleepers when
 * `expected` had the waiters bit (`next` must not carry it).
 */
static inline bool bp_release_cas(dbos_bp *bp, uint64_t pid, uint64_t *expected, uint64_t next)
{
	if (!atomic_compare_exchange_weak_explicit(&bp->states[pid], expected, next, memory_order_release,
						   memory_order_relaxed))
		return false;
	if (*expected & BP_WAITERS)
		dbos_platform_wake((const uint32_t *)&bp->states[pid] + 1, UINT32_MAX);
	return true;
}

/* Set the state word from BP_IO (held by the caller) to `state`, bumping the version. */
void bp_io_release(dbos_bp *bp, uint64_t pid, uint32_t state, bool clear_dirty);

/* ---- Reads (bp_read.c) ------------------------------------------------------------ */

/*
 * Check a page just read: result of the pread, checksum, page id.  On failure
 * records the error and returns its status.
 */
dbos_status bp_verify_read(dbos_bp *bp, uint64_t pid, int64_t result);

/* The blocking miss: states[pid] is BP_IO, held by the caller. Ends in `state` on success, BP_EVICTED on failure. */
dbos_status bp_load_one(dbos_bp *bp, uint64_t pid, uint32_t state);

/* ---- Frames and eviction (bp_evict.c) ------------------------------------------- */

/* A free frame slot for `pid`, evicting when none is left. DBOS_ELIMIT when every resident page is fixed. */
dbos_status bp_frame_take(dbos_bp *bp, uint64_t pid, uint32_t *slot_out);
/* Give a slot back (its page was never loaded, or was dropped). */
void bp_frame_give(dbos_bp *bp, uint32_t slot);

/* ---- Writing pages (bp_write.c) -------------------------------------------------- */

/* Fill in a page's id and checksum before it is written. */
void bp_seal_page(dbos_bp *bp, uint64_t pid, uint8_t *page);

/* Write `count` pages (from `addresses`) at their pids in one gateway batch; results[i] per page. */
void bp_write_pages(dbos_bp *bp, dbos_io_op *ops, const uint64_t *pids, uint8_t *const *addresses, uint32_t count,
		    int64_t *results);

dbos_status bp_sync(dbos_bp *bp);

/* Write the file header page from the pool's fields. */
dbos_status bp_write_file_header(dbos_bp *bp);

/* The dirty page count follows the dirty bit. */
static inline void bp_dirty_changed(dbos_bp *bp, uint64_t before, uint64_t after)
{
	if ((before & BP_DIRTY) && !(after & BP_DIRTY))
		atomic_fetch_sub_explicit(&bp->dirty_pages, 1, memory_order_relaxed);
	else if (!(before & BP_DIRTY) && (after & BP_DIRTY))
		atomic_fetch_add_explicit(&bp->dirty_pages, 1, memory_order_relaxed);
}

/* ---- Fixing (bp_fix.c) ------------------------------------------------------------ */

/* Latch a resident page without waiting; false when it is busy or evicted. */
bool bp_try_fix(dbos_bp *bp, uint64_t pid, enum dbos_bp_mode mode);

/* Fix, waiting and reading as needed; no range check, no hook, no preemption change. */
dbos_status bp_fix(dbos_bp *bp, uint64_t pid, enum dbos_bp_mode mode, void **page_out);

/* Drop a latch without touching the preemption depth; DBOS_EINVAL when it is not held that way. */
dbos_status bp_unlatch_shared(dbos_bp *bp, uint64_t pid);
dbos_status bp_unlatch_exclusive(dbos_bp *bp, uint64_t pid, bool dirty);

/* ---- Growth (bp_alloc.c) -------------------------------------------------------------- */

/* Make the file at least `pages` long (disk space allocated, a little ahead), under alloc_lock. */
dbos_status bp_grow_file(dbos_bp *bp, uint64_t pages);

/* Commit pages and state words for pids below `pid_end`, under alloc_lock (or at open). */
dbos_status bp_commit_to(dbos_bp *bp, uint64_t pid_end);

/* ---- Errors (bp_error.c) -------------------------------------------------------------- */

dbos_status bp_fail(dbos_bp *bp, dbos_status status, enum dbos_bp_reason reason, uint64_t pid, int32_t errno_value,
		    uint64_t found, uint64_t expected);

/*
 * The runtime's file lock (csrc/host/bp_lock.c): exclusive for a writable pool, shared for a
 * read-only one.  DBOS_EBUSY when another pool still holds a conflicting lock after a short
 * wait (long enough for a killed pool's in-flight I/O to drain).
 */
dbos_status bp_runtime_lock_file(int32_t fd, bool exclusive, int32_t *errno_out);

/* Append `text` / a number to a bounded string; return the new length. */
size_t bp_append(char *text, size_t size, size_t length, const char *piece);
size_t bp_append_u64(char *text, size_t size, size_t length, uint64_t value, bool hex);

#endif /* BP_INTERNAL_H */
