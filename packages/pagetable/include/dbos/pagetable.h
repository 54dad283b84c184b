/*
 * dbos/pagetable.h - virtual-memory regions the engine controls.
 *
 * A region is a reserved range of virtual address space (up to
 * DBOS_PT_REGION_SIZE_MAX, terabytes) that costs no memory until pages are
 * mapped into it.  The engine then maps, discards, moves and protects pages
 * in batches, tracks which pages were written, and may serve first touches of
 * missing pages from a fault handler (a buffer pool loading a page on demand).
 *
 *   region base                                                 base + size
 *   |  unmapped  | anon | anon | frame 7 | frame 8 |  unmapped  ...        |
 *                 slot 1  slot 2  slot 3    slot 4
 *
 * Pages are DBOS_PAGE_SIZE (4 KiB) and are named by their index in the region
 * ("slot"): address = base + index * DBOS_PAGE_SIZE.  Each slot is in one of
 * three states:
 *
 *   UNMAPPED  reserved address space; any access faults (SIGSEGV on the host)
 *   ANON      private anonymous memory; reads zeros until written
 *   FRAME     a frame of a frame pool (dbos_pt_frames, a memfd on the host):
 *             the same frame may be mapped at several slots, in several
 *             regions, and moved between slots without copying its bytes
 *
 * Every operation takes a page set: a range (first, count) or a list of
 * page indexes.  Operations coalesce adjacent pages into runs and make one
 * runtime call per run (one madvise / mmap / mprotect on the host; one PTE
 * walk and one TLB flush per batch in the guest), so a batch of 64 scattered
 * pages costs what their runs cost, not 64 system calls.
 *
 * Runtimes: the same core runs on the host (mmap, MAP_FIXED, mremap,
 * madvise, userfaultfd, PAGEMAP_SCAN) and in the dbos guest kernel (direct
 * PTE writes, INVLPG, its own #PF handler, hardware dirty bits).
 * dbos_pt_probe() says which mechanism each capability uses here.
 *
 * Thread safety: operations on one region may run concurrently from several
 * threads as long as their page sets are disjoint (state is kept per page;
 * the kernel serializes the mappings themselves).  dbos_pt_region_destroy,
 * dbos_pt_dirty_start / _stop and dbos_pt_fault_enable / _disable must not
 * run concurrently with any other call on the same region.  Dirty
 * collection may run concurrently with writers (they keep writing; a write
 * racing with a reset is reported by the next collection, never lost).
 * Fault handlers run on a runtime thread (the host's userfaultfd thread),
 * concurrently with everything else; they may call only the dbos_pt_fault_*
 * resolution functions and dbos_pt_frames_address().
 *
 * Errors: every function returns a dbos_status.  DBOS_EINVAL for bad
 * arguments (unaligned, unknown flags, NULL pointers), DBOS_ERANGE for pages
 * outside the region or frames outside the pool, DBOS_EFAULT for an
 * operation that needs mapped pages, DBOS_EBUSY for one that would make a
 * pinned page inaccessible, DBOS_ENOTSUP for a mechanism this platform
 * lacks, DBOS_ENOMEM when the OS refuses memory, and before anything
 * changes when one operation would need more new memory than half of the
 * machine's RAM: 8 bytes of bookkeeping per page it changes, the pages
 * populate backs, the copies SHADOW_COMPARE keeps, the page tables write
 * protection allocates.  A range over a huge region costs what its used
 * part costs: untouched stretches are skipped without being read.
 * A failed batch may have been applied to a prefix of its pages; the page
 * states kept by the core always match what was applied.
 */
#ifndef DBOS_PAGETABLE_H
#define DBOS_PAGETABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/platform.h"
#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest region: 2^32 pages of 4 KiB (16 TiB), so page indexes fit in 32 bits. */
#define DBOS_PT_REGION_SIZE_MAX ((uint64_t)1 << 44)
/* Largest frame pool: 2^31 frames (8 TiB). */
#define DBOS_PT_FRAME_COUNT_MAX ((uint64_t)1 << 31)

typedef struct dbos_pt_region dbos_pt_region;
typedef struct dbos_pt_frames dbos_pt_frames;

/* ---- Page sets --------------------------------------------------------- */

/*
 * A set of pages: when `list` is NULL, the range [first, first + count);
 * otherwise the `count` page indexes in `list` (any order, duplicates
 * allowed; adjacent indexes are coalesced into runs).  The caller keeps
 * `list` alive for the duration of the call only.  An empty set is a no-op.
 */
typedef struct dbos_pt_pages {
	const uint32_t *list;
	uint64_t first;
	uint64_t count;
} dbos_pt_pages;

static inline dbos_pt_pages dbos_pt_range(uint64_t first, uint64_t count)
{
	dbos_pt_pages pages = { NULL, first, count };
	return pages;
}

static inline dbos_pt_pages dbos_pt_list(const uint32_t *list, uint64_t count)
{
	dbos_pt_pages pages = { list, 0, count };
	return pages;
}

/* ---- Capabilities ------------------------------------------------------ */

enum dbos_pt_dirty_mechanism {
	DBOS_PT_DIRTY_NONE = 0,
	DBOS_PT_DIRTY_UFFD_WP_ASYNC = 1,  /* host: userfaultfd WP_ASYNC + PAGEMAP_SCAN; ~1 µs first write/page */
	DBOS_PT_DIRTY_SHADOW_COMPARE = 2, /* any runtime: compare each mapped page with a shadow copy */
	DBOS_PT_DIRTY_PTE_BITS = 3,       /* guest: hardware dirty bits in the PTEs */
};

enum dbos_pt_fault_mechanism {
	DBOS_PT_FAULT_NONE = 0,
	DBOS_PT_FAULT_UFFD = 1,           /* host: userfaultfd, kernel and user faults */
	DBOS_PT_FAULT_UFFD_USER_ONLY = 2, /* host without privilege: UFFD_USER_MODE_ONLY */
	DBOS_PT_FAULT_GUEST_PF = 3,       /* guest: the guest kernel's #PF handler */
};

enum dbos_pt_accessed_mechanism {
	DBOS_PT_ACCESSED_NONE = 0,     /* no accessed information (host: Linux exposes none) */
	DBOS_PT_ACCESSED_PTE_BITS = 1, /* guest: hardware accessed bits */
};

enum dbos_pt_huge_pages {
	DBOS_PT_HUGE_NONE = 0,    /* 4 KiB only */
	DBOS_PT_HUGE_MADVISE = 1, /* 2 MiB for anonymous memory on request (THP enabled=madvise or always) */
};

typedef struct dbos_pt_capabilities {
	dbos_runtime runtime;
	enum dbos_pt_dirty_mechanism dirty;  /* what dbos_pt_dirty_start picks */
	enum dbos_pt_fault_mechanism faults; /* what dbos_pt_fault_enable uses */
	bool faults_minor;                   /* frame-pool slots get MINOR faults */
	enum dbos_pt_accessed_mechanism accessed;
	bool present; /* dbos_pt_present_collect works */
	enum dbos_pt_huge_pages huge_pages;
	bool frames; /* frame pools (memfd) are available */
} dbos_pt_capabilities;

/* What this runtime offers.  Cheap after the first call (cached). Thread-safe. */
void dbos_pt_probe(dbos_pt_capabilities *capabilities);

const char *dbos_pt_dirty_mechanism_name(enum dbos_pt_dirty_mechanism mechanism);
const char *dbos_pt_fault_mechanism_name(enum dbos_pt_fault_mechanism mechanism);

/*
 * Host runtime only: what dbos_pt_probe() picked, as the one line `dbos probe`
 * prints for pagetable, e.g. "mmap/MAP_FIXED/mremap/madvise over memfd frames;
 * faults: userfaultfd; dirty: UFFD WP_ASYNC + PAGEMAP_SCAN; ...".  Writes at
 * most `size` bytes, NUL included; returns the length of the whole line
 * (snprintf's contract).  DBOS_PT_MECHANISM_LINE_SIZE always suffices.
 */
#define DBOS_PT_MECHANISM_LINE_SIZE 512u
size_t dbos_pt_host_mechanism_format(char *text, size_t size);

/* ---- Frame pools ------------------------------------------------------- */

/*
 * A pool of `frame_count` frames of DBOS_PAGE_SIZE bytes (host: one memfd;
 * memory is used only for frames written or populated).  Frames are named
 * by index.  A pool may outlive or be outlived by the regions that map its
 * frames: mappings keep the memory alive.
 */
dbos_status dbos_pt_frames_create(uint64_t frame_count, dbos_pt_frames **frames_out);
void dbos_pt_frames_destroy(dbos_pt_frames *frames);
uint64_t dbos_pt_frames_count(const dbos_pt_frames *frames);

/*
 * The pool's own read-write mapping of all its frames (frame i at
 * address + i * DBOS_PAGE_SIZE): load data into a frame here, then map it or
 * resolve a MINOR fault with dbos_pt_fault_continue().
 */
uint8_t *dbos_pt_frames_address(const dbos_pt_frames *frames);

/* Free the memory of frames (their bytes read as zeros afterwards, in every slot mapping them). */
dbos_status dbos_pt_frames_release(dbos_pt_frames *frames, dbos_pt_pages frame_set);

/* ---- Regions ----------------------------------------------------------- */

enum dbos_pt_region_flags {
	DBOS_PT_REGION_HUGE_PAGES = 1u << 0, /* prefer 2 MiB pages for anonymous slots (THP) */
	DBOS_PT_REGION_MAP_ALL = 1u << 1,    /* start with every slot ANON read-write instead of UNMAPPED */
};

typedef struct dbos_pt_region_options {
	uint64_t size;  /* bytes, a multiple of DBOS_PAGE_SIZE, at most DBOS_PT_REGION_SIZE_MAX */
	uint32_t flags; /* enum dbos_pt_region_flags */
} dbos_pt_region_options;

/* Reserve address space (2 MiB aligned); commits no memory. All slots start UNMAPPED unless MAP_ALL. */
dbos_status dbos_pt_region_create(const dbos_pt_region_options *options, dbos_pt_region **region_out);

/* Stop tracking and fault handling, release every mapping and the reservation. */
void dbos_pt_region_destroy(dbos_pt_region *region);

uint8_t *dbos_pt_region_base(const dbos_pt_region *region);
uint64_t dbos_pt_region_size(const dbos_pt_region *region);
uint64_t dbos_pt_region_page_count(const dbos_pt_region *region);

/* ---- Page operations --------------------------------------------------- */

enum dbos_pt_state {
	DBOS_PT_UNMAPPED = 0,
	DBOS_PT_ANON = 1,
	DBOS_PT_FRAME = 2,
};

/* Make the pages fresh private anonymous memory with `prot` (old contents are dropped; reads zeros). */
dbos_status dbos_pt_map(dbos_pt_region *region, dbos_pt_pages pages, enum dbos_prot prot);

/*
 * Map frames of `frames` at the pages: pages[i] shows frame frame_set[i]
 * (both sets must have the same count).  Runs where slots and frames are
 * both consecutive become one mapping.  No bytes are copied.  A region maps
 * frames of one pool at a time (another pool while FRAME pages remain:
 * DBOS_EINVAL) and holds a reference on the pool it last mapped until it is
 * destroyed, so destroying the pool early is safe.  Switching pools must not
 * run concurrently with other calls on the region.
 */
dbos_status dbos_pt_map_frames(dbos_pt_region *region, dbos_pt_pages pages, dbos_pt_frames *frames,
			       dbos_pt_pages frame_set, enum dbos_prot prot);

/* Return the pages to UNMAPPED (inaccessible; anonymous memory is freed, frames are not). */
dbos_status dbos_pt_unmap(dbos_pt_region *region, dbos_pt_pages pages);

/*
 * Drop the pages' contents and give their memory back, keeping them mapped:
 * ANON pages read zeros afterwards (batched MADV_DONTNEED on the host);
 * FRAME pages free their frame (reads zeros wherever the frame is mapped);
 * UNMAPPED pages are skipped.
 */
dbos_status dbos_pt_discard(dbos_pt_region *region, dbos_pt_pages pages);

/*
 * Move pages from `source` slots to `target` slots without copying
 * (source[i] → target[i], equal counts): the target shows what the source
 * showed, and the source becomes UNMAPPED.  ANON runs use mremap on the
 * host, FRAME runs are remapped to the same frames.  Source and target sets
 * must not overlap: overlapping ranges are DBOS_EINVAL up front; lists that
 * name a page twice are checked run by run as the move reaches them
 * (DBOS_EINVAL for a source already moved away, DBOS_EBUSY for a page that
 * became read-only on its way to a pinned target), after a prefix moved.
 */
dbos_status dbos_pt_move(dbos_pt_region *region, dbos_pt_pages source, dbos_pt_pages target);

/* Change protection of mapped pages (an UNMAPPED page in the set gives DBOS_EFAULT, nothing changed). */
dbos_status dbos_pt_protect(dbos_pt_region *region, dbos_pt_pages pages, enum dbos_prot prot);

/* Back mapped pages with memory now (MADV_POPULATE_WRITE on the host), so first touches cost nothing. */
dbos_status dbos_pt_populate(dbos_pt_region *region, dbos_pt_pages pages);

/* State, protection and frame (UINT32_MAX unless FRAME) of one page. */
typedef struct dbos_pt_page_info {
	enum dbos_pt_state state;
	enum dbos_prot prot;
	uint32_t frame;
} dbos_pt_page_info;

dbos_status dbos_pt_page_query(const dbos_pt_region *region, uint64_t page, dbos_pt_page_info *info_out);

/* True when every page of [first, first + count) is mapped with at least `prot`. */
bool dbos_pt_range_accessible(const dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_prot prot);

/*
 * Pin pages so they stay accessible: while a page is pinned, operations that
 * would make it inaccessible or read-only (unmap, move away, protect below
 * read-write, map / map_frames with less than read-write) fail with
 * DBOS_EBUSY and change nothing; discard and read-write remaps are allowed
 * (the page stays readable and writable).  For memory handed to code that
 * cannot take a fault: JavaScript views, latched buffer-pool pages.
 * DBOS_EFAULT unless every page is mapped read-write; DBOS_ELIMIT past
 * DBOS_PT_PIN_COUNT_MAX pins of one page.  Pins count; unpin each pin once.
 */
#define DBOS_PT_PIN_COUNT_MAX 65535u
dbos_status dbos_pt_pin(dbos_pt_region *region, uint64_t first, uint64_t count);
void dbos_pt_unpin(dbos_pt_region *region, uint64_t first, uint64_t count);
/* True when a page of [first, first + count) is pinned. */
bool dbos_pt_range_pinned(const dbos_pt_region *region, uint64_t first, uint64_t count);

/* ---- Dirty and resident pages ------------------------------------------ */

/*
 * Start tracking writes to the whole region: afterwards a page is dirty once
 * written.  Picks the best mechanism (dbos_pt_probe().dirty), or the one in
 * `mechanism` when not DBOS_PT_DIRTY_NONE (DBOS_ENOTSUP if unavailable).
 * SHADOW_COMPARE costs one extra copy of every mapped page and a full
 * comparison of all mapped pages on each collection, and reports pages
 * whose bytes changed (a write of the same bytes is not seen).
 * UFFD_WP_ASYNC write-protects the used extent of the region (from the
 * lowest to the highest page ever mapped), which allocates page tables for
 * it (about 2 MiB per GiB of extent); a sparse terabyte reservation costs
 * only what its mapped pages need.
 *
 * Page operations are not writes: pages that map, map_frames, unmap, move
 * and discard touch are clean afterwards (callers know what they changed).
 * Exceptions, all reporting more, never less: on the host, populate and
 * discarding FRAME pages leave the pages dirty, and disabling faults while
 * tracking makes every populated page dirty.  Pages a fault handler fills
 * are clean under UFFD_WP_ASYNC and dirty under SHADOW_COMPARE.
 */
dbos_status dbos_pt_dirty_start(dbos_pt_region *region, enum dbos_pt_dirty_mechanism mechanism);
dbos_status dbos_pt_dirty_stop(dbos_pt_region *region);
enum dbos_pt_dirty_mechanism dbos_pt_dirty_mechanism_of(const dbos_pt_region *region);

enum dbos_pt_collect_flags {
	DBOS_PT_COLLECT_RESET = 1u << 0, /* also make the reported pages clean again */
};

/*
 * Report dirty pages of [first, first + count) in increasing order into
 * `pages` (at most `capacity`), setting *found_out.  *next_out is where the
 * scan stopped: first + count when it covered the whole range, less when
 * `pages` filled up (call again from *next_out).  With COLLECT_RESET the
 * reported pages become clean atomically with the report.
 */
dbos_status dbos_pt_dirty_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				  uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out);

/* Make every page of [first, first + count) clean. */
dbos_status dbos_pt_dirty_reset(dbos_pt_region *region, uint64_t first, uint64_t count);

/*
 * Pages of [first, first + count) that are backed by memory now (host:
 * PAGEMAP_SCAN PAGE_IS_PRESENT), same contract as dbos_pt_dirty_collect.
 * DBOS_ENOTSUP where the platform cannot tell.
 */
dbos_status dbos_pt_present_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t *pages,
				    uint64_t capacity, uint64_t *found_out, uint64_t *next_out);

/* Pages accessed since the last call (DBOS_ENOTSUP on the host: Linux exposes no accessed bits). */
dbos_status dbos_pt_accessed_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				     uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out);

/* ---- Fault hooks ------------------------------------------------------- */

enum dbos_pt_fault_kind {
	DBOS_PT_FAULT_MISSING = 1, /* an ANON page never written (or discarded) was touched */
	DBOS_PT_FAULT_MINOR = 2,   /* a FRAME slot was touched whose frame has data but no mapping yet */
};

typedef struct dbos_pt_fault {
	dbos_pt_region *region;
	uint64_t page; /* index of the faulting page */
	enum dbos_pt_fault_kind kind;
	bool write;    /* the touch was a write */
	void *runtime; /* runtime-private (host: the userfaultfd message) */
} dbos_pt_fault;

/*
 * Called once per fault on the runtime's fault thread; the faulting thread
 * waits until the handler resolves the fault with exactly one of
 * dbos_pt_fault_copy / _zero / _continue.  A handler that returns an error
 * (or resolves nothing) makes the page unreadable where the platform can
 * poison it (the toucher gets SIGBUS) and zero-filled otherwise, so no
 * thread ever waits forever.
 */
typedef dbos_status (*dbos_pt_fault_fn)(void *context, const dbos_pt_fault *fault);

/* Install the page's contents from `bytes` (DBOS_PAGE_SIZE of them), atomically. MISSING only. */
dbos_status dbos_pt_fault_copy(const dbos_pt_fault *fault, const void *bytes);
/* Install a zero page. MISSING only. */
dbos_status dbos_pt_fault_zero(const dbos_pt_fault *fault);
/* Map the slot to its frame as it is now (load it first via dbos_pt_frames_address). MINOR only. */
dbos_status dbos_pt_fault_continue(const dbos_pt_fault *fault);

/*
 * Serve first touches of the region's pages with `handler`: MISSING faults
 * for ANON pages, MINOR faults for FRAME pages where dbos_pt_probe()
 * reports faults_minor.  Pages mapped later are covered too.
 */
dbos_status dbos_pt_fault_enable(dbos_pt_region *region, dbos_pt_fault_fn handler, void *context);
dbos_status dbos_pt_fault_disable(dbos_pt_region *region);

/*
 * A ready-made handler for tests and for zero-cost "fill on first touch"
 * regions: `context` points to a dbos_pt_fill.  MISSING faults get a page of
 * `byte`; with `stamp_index` the first 8 bytes hold the page index
 * (little-endian uint64), so a reader can tell which fault filled it.
 * MINOR faults are continued (the frame shows as it is).
 */
typedef struct dbos_pt_fill {
	uint8_t byte;
	bool stamp_index;
} dbos_pt_fill;

dbos_status dbos_pt_fault_fill(void *context, const dbos_pt_fault *fault);

/* ---- Statistics -------------------------------------------------------- */

typedef struct dbos_pt_stats {
	uint64_t runtime_calls; /* runtime calls made (host: system calls for page operations) */
	uint64_t pages_mapped;  /* pages currently ANON or FRAME */
	uint64_t faults_served; /* faults resolved by the handler */
	uint64_t faults_failed; /* faults the handler failed (poisoned or zero-filled) */
} dbos_pt_stats;

void dbos_pt_region_stats(const dbos_pt_region *region, dbos_pt_stats *stats_out);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_PAGETABLE_H */
