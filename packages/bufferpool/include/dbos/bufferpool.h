/*
 * dbos/bufferpool.h - a virtual-memory-assisted buffer manager.
 *
 * A buffer pool caches the pages of one file in memory, within a budget of
 * resident bytes, and hands out latched pointers to them.  Page ids are
 * addresses: page `pid` lives at `base + pid * page_size` in one reserved
 * region of virtual memory, so a hit is a state-word CAS on a pointer, with
 * no hash lookup (the vmcache idea).  Every page has one 64-bit state word:
 *
 *   bits 63..56  state: 0 unlocked, 1..250 shared count, 251 I/O (the pool
 *                is reading or evicting the page), 253 exclusive, 254 marked
 *                (clock: unlocked, evicted next round unless fixed), 255 evicted
 *   bit  55      a thread sleeps on this word (wake it on release)
 *   bit  54      the page is dirty (must be written before it is dropped)
 *   bits 53..0   version, bumped by every exclusive release and eviction
 *
 * Misses are read with pread through the system-call gateway (io_uring on
 * the host) straight into the page's address, O_DIRECT by default, and a
 * batch of misses (dbos_bp_fix_many, dbos_bp_prefetch) goes to the device
 * as one submission.  Eviction runs a clock over the resident pages in
 * batches: mark, write the dirty victims together in one gateway batch, then
 * discard the victims' memory in one call (dbos_platform_discard_ranges).  Resident pages never exceed
 * pool_bytes / page_size (a page counts from the moment its read is started
 * until its memory is discarded).
 *
 * On disk, page 0 is the file header (struct dbos_bp_file_header); every
 * other page starts with struct dbos_bp_page_header: a CRC32C checksum over
 * the rest of the page, the page's own id, flags and an LSN the caller owns.
 * A page read whose checksum or id does not match, or that lies past the end
 * of the file, is DBOS_ECORRUPT and never data; dbos_bp_last_error() names
 * the page.  The file grows on dbos_bp_allocate; freed pages are chained
 * through their own payloads and reused first; the chain's head and the page
 * count are persisted in the file header by dbos_bp_flush.
 *
 * Threads: any number of threads may use one pool.  A fix and its unfix
 * happen on the same thread (latches raise the thread's preemption depth
 * with dbos_preempt_disable() while held).  A thread must not fix a page it
 * already holds exclusively, nor exclusively a page it holds shared (that
 * waits forever, like any latch).  dbos_bp_close must not run concurrently
 * with any other call.
 *
 * Errors are dbos_status codes.  Caller errors (page id out of range, page 0,
 * unfix of a page not fixed, bad flags) are DBOS_EINVAL / DBOS_ERANGE, never a
 * crash.  An unfix is checked against the page's state word and the thread's
 * latch depth: a shared unfix of a page some other thread holds shared cannot
 * be told from a legitimate one.  dbos_bp_last_error() returns the detail
 * (which page, which check) of the most recent failure.
 */
#ifndef DBOS_BUFFERPOOL_H
#define DBOS_BUFFERPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/hypercall.h"
#include "dbos/crc32c.h" /* the page and file-header checksum */
#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#define DBOS_BP_STATIC_ASSERT static_assert
#else
#define DBOS_BP_STATIC_ASSERT _Static_assert
#endif

/* ---- On-disk format ------------------------------------------------------ */

#define DBOS_BP_PAGE_SIZE_MIN 4096u
#define DBOS_BP_PAGE_SIZE_MAX 65536u
#define DBOS_BP_PAGE_SIZE_DEFAULT 4096u

/* "dbosBPf1" little-endian: the first 8 bytes of every buffer-pool file. */
#define DBOS_BP_FILE_MAGIC 0x3166504253626f64ull
/* The format this code writes; files with a newer version are refused (DBOS_ENOTSUP). */
#define DBOS_BP_FORMAT_VERSION 1u

/*
 * Page 0 of the file.  The checksum is CRC32C over the struct with the
 * checksum field taken as zero; the rest of page 0 is zero.
 */
typedef struct dbos_bp_file_header {
	uint64_t magic;          /* DBOS_BP_FILE_MAGIC */
	uint32_t format_version; /* DBOS_BP_FORMAT_VERSION */
	uint32_t page_size;      /* bytes; every page of the file has this size */
	uint64_t page_count;     /* pages in the file, header included (valid pids: 1..page_count-1) */
	uint64_t free_head;      /* first page of the free chain, 0 when empty */
	uint64_t free_count;     /* pages on the free chain */
	uint32_t checksum;       /* CRC32C of this struct, checksum field zeroed */
	uint32_t reserved;       /* zero */
} dbos_bp_file_header;

DBOS_BP_STATIC_ASSERT(sizeof(dbos_bp_file_header) == 48, "the file header is a 48-byte on-disk layout");

/* Page header flags. */
enum dbos_bp_page_flags {
	DBOS_BP_PAGE_FREE = 1u << 0, /* on the free chain; the payload starts with the next free pid */
};

/*
 * The first bytes of every page (pid >= 1), in memory and on disk.  The pool
 * writes `checksum` and `pid` when it writes the page and checks both when it
 * reads it; `lsn` belongs to the caller (the kv store's log sequence number:
 * see dbos_bp_config.durable_lsn) and `flags` to the pool.  Callers use the
 * payload that follows the header (dbos_bp_payload).
 */
typedef struct dbos_bp_page_header {
	uint32_t checksum; /* dbos_crc32c of bytes [4, page_size) */
	uint32_t flags;    /* enum dbos_bp_page_flags */
	uint64_t pid;      /* the page's own id: a page read at another offset is refused */
	uint64_t lsn;      /* the caller's; 0 for a new page */
	uint64_t reserved; /* zero */
} dbos_bp_page_header;

DBOS_BP_STATIC_ASSERT(sizeof(dbos_bp_page_header) == 32, "the page header is a 32-byte on-disk layout");

#define DBOS_BP_PAGE_HEADER_SIZE ((uint32_t)sizeof(dbos_bp_page_header))

/* The usable bytes of a page of `page_size` bytes. */
static inline uint32_t dbos_bp_page_payload_size(uint32_t page_size)
{
	return page_size - DBOS_BP_PAGE_HEADER_SIZE;
}

/* The payload of a fixed page (the bytes after its header). */
static inline void *dbos_bp_payload(void *page)
{
	return (uint8_t *)page + DBOS_BP_PAGE_HEADER_SIZE;
}

/* ---- Opening a pool ------------------------------------------------------ */

enum dbos_bp_open_flags {
	DBOS_BP_CREATE = 1u << 0,    /* create the file when it does not exist (an existing file is opened) */
	DBOS_BP_BUFFERED = 1u << 1,  /* use the page cache (default: O_DIRECT, falling back when refused) */
	DBOS_BP_READ_ONLY = 1u << 2, /* open read-only: exclusive fixes, allocate and free are DBOS_EPERM */
};

#define DBOS_BP_EVICT_BATCH_DEFAULT 64u
#define DBOS_BP_EVICT_BATCH_MAX 1024u
/* Default bound on pages (the address space reserved): 2^40 bytes of pages. */
#define DBOS_BP_MAX_BYTES_DEFAULT ((uint64_t)1 << 40)
/* Fewest resident pages a pool may be given. */
#define DBOS_BP_POOL_PAGES_MIN 8u
/* Most pages one dbos_bp_fix_many / dbos_bp_prefetch call may name. */
#define DBOS_BP_FIX_MANY_MAX 1024u

typedef struct dbos_bp_config {
	const char *path;      /* the page file (NUL-terminated) */
	uint32_t page_size;    /* 0: an existing file's (4096 for a new one); else a power of two in [4 KiB, 64 KiB] */
	uint32_t flags;        /* enum dbos_bp_open_flags */
	uint64_t pool_bytes;   /* resident budget; at least DBOS_BP_POOL_PAGES_MIN pages */
	uint32_t evict_batch;  /* pages per eviction round; 0: 64; at most min(1024, pool pages / 2) */
	uint32_t reserved;     /* zero */
	uint64_t max_pages;    /* bound on the file's pages (address space reserved); 0: 2^40 bytes worth */
	dbos_gateway *gateway; /* I/O goes here; NULL: dbos_gateway_shared() */

	/*
	 * Write-ahead-log ordering, optional.  Before writing dirty pages the
	 * pool calls durable_lsn(hook_context) once per batch; a page whose
	 * header lsn is greater is not written (eviction passes it over, flush
	 * leaves it dirty and returns DBOS_EAGAIN).
	 */
	uint64_t (*durable_lsn)(void *hook_context);
	/*
	 * Snapshot write barrier, optional: called with the page latched
	 * exclusively and its old contents in place, before the caller can
	 * change it (dbos_bp_fix_exclusive, exclusive dbos_bp_fix_many,
	 * dbos_bp_allocate, dbos_bp_free).  Must not call into the pool.
	 */
	void (*before_write)(void *hook_context, uint64_t pid, const void *page);
	void *hook_context;
} dbos_bp_config;

typedef struct dbos_bp dbos_bp;

/*
 * Open (or with DBOS_BP_CREATE create) a pool over config->path.  Refusals:
 *   DBOS_EINVAL    bad config (page size, pool too small, unknown flags), or
 *                  the file is not a buffer-pool file (foreign magic/too short)
 *   DBOS_ENOTSUP   the file's format version is newer than this code's
 *   DBOS_ERANGE    the file's page size differs from config->page_size
 *   DBOS_ECORRUPT  the file header's checksum does not match
 *   DBOS_ELIMIT    the file has more pages than max_pages
 *   DBOS_EBUSY     another pool (in this process or another) has the file open:
 *                  a writable pool holds an exclusive lock, read-only pools share one.
 *                  Open waits up to a second for the lock first: a pool killed with
 *                  I/O in flight keeps it until the kernel has finished that I/O.
 *   DBOS_ENOENT / DBOS_EPERM / DBOS_EIO from opening the file
 * `error_out` (may be NULL) receives the detail of a failed open (which check,
 * what was found); it is left with status DBOS_OK on success.
 */
typedef struct dbos_bp_error dbos_bp_error;
dbos_status dbos_bp_open(const dbos_bp_config *config, dbos_bp **bp_out, dbos_bp_error *error_out);

/*
 * Write every dirty page (WAL hook permitting), persist the header, close the
 * file and free the pool.  No page may be fixed (DBOS_EBUSY, nothing closed).
 * The pool is freed even when the final flush fails; that status is returned.
 */
dbos_status dbos_bp_close(dbos_bp *bp);

/* ---- Fixing pages ---------------------------------------------------------- */

enum dbos_bp_mode {
	DBOS_BP_SHARED = 1,
	DBOS_BP_EXCLUSIVE = 2,
};

/*
 * Latch page `pid` shared / exclusive, reading it in when it is not resident,
 * and return its address (the page header first).  The pointer stays valid
 * until the matching unfix.  DBOS_ERANGE for pid 0 or pid >= page count,
 * DBOS_ECORRUPT for a page that fails its checks on read, DBOS_EIO for a
 * failed read, DBOS_ELIMIT when every resident page is fixed, DBOS_EPERM for
 * an exclusive fix on a read-only pool.
 */
dbos_status dbos_bp_fix_shared(dbos_bp *bp, uint64_t pid, void **page_out);
dbos_status dbos_bp_fix_exclusive(dbos_bp *bp, uint64_t pid, void **page_out);

/*
 * Release a latch.  `dirty` marks the page as changed: it will be written
 * before it is evicted and by the next flush.  DBOS_EINVAL when the page is
 * not latched that way (double unfix) or the thread holds no latch; DBOS_ERANGE
 * for a bad pid.
 */
dbos_status dbos_bp_unfix_shared(dbos_bp *bp, uint64_t pid);
dbos_status dbos_bp_unfix_exclusive(dbos_bp *bp, uint64_t pid, bool dirty);

/*
 * Optimistic read: no latch is taken.  Begin returns the page's version and
 * address (reading the page in first if needed); the caller reads what it
 * needs, then validate says whether those bytes were stable.  On false, the
 * caller discards what it read and begins again (counted in
 * optimistic_restarts).  Bytes read before validation may be torn or zero
 * (an evicted page reads as zeros, never faults), and a writer may be
 * storing to them: read them with relaxed atomic loads (and have writers of
 * such fields store atomically) where a race detector watches.
 */
dbos_status dbos_bp_optimistic_begin(dbos_bp *bp, uint64_t pid, uint64_t *version_out, const void **page_out);
bool dbos_bp_optimistic_validate(dbos_bp *bp, uint64_t pid, uint64_t version);

/*
 * Whether page `pid` holds memory or is being read in: a hint, true at the
 * moment of the call (a begin right after may still have to read it).  For
 * callers that gather the misses of many lookups into one dbos_bp_prefetch.
 * False for a bad pid.
 */
bool dbos_bp_resident(dbos_bp *bp, uint64_t pid);

/*
 * Fix `count` pages (at most DBOS_BP_FIX_MANY_MAX, all in `mode`): every miss
 * of the batch is submitted to the gateway at once, then waited for, so the
 * device sees up to `count` reads in flight.  pages_out[i] is pids[i]'s page.
 * All or nothing: on error no page stays fixed.  A pid may repeat in shared
 * mode, not in exclusive mode (DBOS_EINVAL).  DBOS_ELIMIT when count exceeds
 * half the pool's pages.  Pages other threads hold are waited for after this
 * call's own reads completed, one at a time in the order given (latch order
 * is the caller's, as with single fixes).
 */
dbos_status dbos_bp_fix_many(dbos_bp *bp, const uint64_t *pids, uint32_t count, enum dbos_bp_mode mode,
			     void **pages_out);

/* Unfix `count` pages fixed in `mode` (dirty applies to exclusive mode). First error wins; all are tried. */
dbos_status dbos_bp_unfix_many(dbos_bp *bp, const uint64_t *pids, uint32_t count, enum dbos_bp_mode mode, bool dirty);

/*
 * Start reading the pages that are not resident and return at once; a later
 * fix of one of them waits for its read instead of issuing another.  Pages
 * beyond the free resident budget are skipped (prefetch never evicts fixed
 * or recently used pages to make room beyond one eviction round).
 */
dbos_status dbos_bp_prefetch(dbos_bp *bp, const uint64_t *pids, uint32_t count);

/* ---- Allocation ------------------------------------------------------------ */

/*
 * A new page, fixed exclusively, zeroed (header: its pid, lsn 0) and dirty:
 * the head of the free chain when there is one, else the file grows by one
 * page (DBOS_ENOSPC when the disk is full, DBOS_ELIMIT past max_pages).
 * Release it with dbos_bp_unfix_exclusive.
 */
dbos_status dbos_bp_allocate(dbos_bp *bp, uint64_t *pid_out, void **page_out);

/*
 * Put a page (not fixed by anyone) on the free chain for reuse.  DBOS_EINVAL
 * when it is already free, DBOS_EBUSY when it is fixed, DBOS_ERANGE for a bad
 * pid.  The pool does not stop fixes of a free page (it reads as a zeroed
 * payload but for the chain link, flags DBOS_BP_PAGE_FREE).
 */
dbos_status dbos_bp_free(dbos_bp *bp, uint64_t pid);

/*
 * Write every dirty page (one gateway batch per evict_batch pages), fdatasync,
 * then write the file header (page count, free chain) and fdatasync again.
 * DBOS_EAGAIN when the WAL hook held pages back (everything else was written;
 * make the log durable and flush again).  Pages latched exclusively by other
 * threads are waited for; when the calling thread holds latches itself, busy
 * pages are passed over instead and the result is DBOS_EBUSY.
 */
dbos_status dbos_bp_flush(dbos_bp *bp);

/* ---- Observing --------------------------------------------------------------- */

struct dbos_bp_stats {
	uint64_t hits;                /* fixes (and optimistic begins) served from memory */
	uint64_t misses;              /* page reads started */
	uint64_t evictions;           /* pages dropped from memory */
	uint64_t pages_written;       /* page writes completed (eviction and flush) */
	uint64_t reads_in_flight;     /* page reads submitted and not yet completed */
	uint64_t writes_in_flight;    /* page writes submitted and not yet completed */
	uint64_t resident_pages;      /* pages holding memory (including reads in flight) */
	uint64_t resident_bytes;      /* resident_pages * page_size */
	uint64_t budget_pages;        /* pool_bytes / page_size: resident_pages never exceeds it */
	uint64_t dirty_pages;         /* resident pages changed since last written */
	uint64_t optimistic_restarts; /* dbos_bp_optimistic_validate calls that failed */
	uint64_t held_back;           /* dirty pages the WAL hook kept from being written */
	uint64_t page_count;          /* pages in the file, header page included */
	uint64_t free_pages;          /* pages on the free chain */
	uint32_t page_size;
	uint32_t reserved;
};

void dbos_bp_stats(const dbos_bp *bp, struct dbos_bp_stats *stats_out);

uint32_t dbos_bp_page_size(const dbos_bp *bp);
uint64_t dbos_bp_page_count(const dbos_bp *bp);
/*
 * The file header as dbos_bp_flush would write it now: magic, format version,
 * page size, page count and free chain, taken together under the allocation
 * lock so they agree with each other (checksum and reserved are zero).  A
 * checkpoint taken while writers are stopped records it as its image's header.
 */
void dbos_bp_file_state(const dbos_bp *bp, dbos_bp_file_header *header_out);

/* Which check failed, for DBOS_ECORRUPT and the open refusals. */
enum dbos_bp_reason {
	DBOS_BP_REASON_NONE = 0,
	DBOS_BP_REASON_FOREIGN_FILE = 1,       /* open: not a buffer-pool file */
	DBOS_BP_REASON_NEWER_VERSION = 2,      /* open: format version newer than this code's */
	DBOS_BP_REASON_PAGE_SIZE_MISMATCH = 3, /* open: the file's page size differs */
	DBOS_BP_REASON_HEADER_CHECKSUM = 4,    /* open: the file header's checksum does not match */
	DBOS_BP_REASON_PAGE_CHECKSUM = 5,      /* read: the page's checksum does not match (torn or corrupted) */
	DBOS_BP_REASON_PAGE_ID = 6,            /* read: the page carries another page's id */
	DBOS_BP_REASON_SHORT_READ = 7,         /* read: the page lies past the end of the file (truncated) */
	DBOS_BP_REASON_IO = 8,                 /* read or write failed; errno in dbos_bp_error.errno_value */
	DBOS_BP_REASON_FILE_TOO_LARGE = 9,     /* open: more pages than max_pages */
	DBOS_BP_REASON_FREE_CHAIN = 10,        /* allocate: the free chain names a page that is not free */
	DBOS_BP_REASON_LOCKED = 11,            /* open: another pool has the file open (DBOS_EBUSY) */
	DBOS_BP_REASON_COUNT
};

/* "page checksum mismatch", ... Never NULL. */
const char *dbos_bp_reason_text(enum dbos_bp_reason reason);

struct dbos_bp_error {
	dbos_status status;
	enum dbos_bp_reason reason;
	uint64_t pid;        /* the page concerned (0: the file header or none) */
	int32_t errno_value; /* for DBOS_BP_REASON_IO: the host errno */
	uint32_t reserved;
	uint64_t found;    /* what was found: the stored checksum, pid, version or page size */
	uint64_t expected; /* what was expected */
};

/*
 * The most recent failure recorded by any thread (status DBOS_OK when none);
 * exact for a single-threaded caller.  Returns error_out->status.
 */
dbos_status dbos_bp_last_error(const dbos_bp *bp, dbos_bp_error *error_out);

/*
 * "page 17: page checksum mismatch (stored 0x..., computed 0x...)": an English
 * line for an error, NUL-terminated within `size`.  Returns the length written.
 */
size_t dbos_bp_error_format(const dbos_bp_error *error, char *text, size_t size);

/*
 * One line naming the mechanisms in use: I/O backend (io_uring / threads),
 * O_DIRECT or buffered (and why), and how evicted pages are discarded.
 */
void dbos_bp_mechanism(const dbos_bp *bp, char *text, size_t size);

#define DBOS_BP_MECHANISM_LINE_SIZE 384u

#ifdef __cplusplus
}
#endif

#endif /* DBOS_BUFFERPOOL_H */
