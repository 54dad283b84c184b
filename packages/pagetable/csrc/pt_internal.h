/*
 * pt_internal.h - the core's shared structures and cross-file functions (by file).
 *
 * Runtimes (csrc/host/, csrc/guest/) may read the public fields of
 * dbos_pt_region and dbos_pt_frames marked "runtime reads"; they own only
 * their `rt` pointer.
 */
#ifndef DBOS_PT_INTERNAL_H
#define DBOS_PT_INTERNAL_H

#include <stdatomic.h>

#include "dbos/pagetable.h"
#include "pt_runtime.h"

/*
 * One page's bookkeeping: 8 bytes per slot, in a lazily backed array.  A
 * zero entry means "as the region started" (UNMAPPED, or ANON read-write
 * under DBOS_PT_REGION_MAP_ALL), so creating a terabyte region writes
 * nothing; written entries store state + 1.
 */
typedef struct dbos_pt_entry {
	uint32_t frame; /* frame index when FRAME */
	uint8_t state;  /* 0: initial, else enum dbos_pt_state + 1 */
	uint8_t prot;   /* enum dbos_prot, when state != 0 */
	uint16_t pins;  /* dbos_pt_pin count (atomic); kept across state changes */
} dbos_pt_entry;

_Static_assert(sizeof(dbos_pt_entry) == 8, "page entries are 8 bytes");

/* Pages per bit of dbos_pt_region.written: one page of entries. */
#define DBOS_PT_CHUNK_PAGES (DBOS_PAGE_SIZE / sizeof(dbos_pt_entry))
_Static_assert(DBOS_PT_CHUNK_PAGES == 512, "a written chunk is one page of entries");

struct dbos_pt_frames {
	uint8_t *address;                /* runtime reads: the pool's own RW mapping */
	uint64_t count;                  /* runtime reads */
	atomic_uint_fast32_t references; /* the creator + each region that maps it */
	struct dbos_pt_rt_frames *rt;
};

/* The SHADOW_COMPARE fallback: one shadow copy of each mapped, readable page. */
typedef struct dbos_pt_shadow {
	uint8_t *bytes; /* region-sized reservation, backed only where copied */
	uint64_t size;
} dbos_pt_shadow;

struct dbos_pt_region {
	uint8_t *base;                    /* runtime reads/writes in rt_region_init */
	uint64_t size;                    /* runtime reads */
	uint64_t page_count;              /* runtime reads */
	uint32_t flags;                   /* runtime reads: enum dbos_pt_region_flags */
	enum dbos_pt_state initial_state; /* of never-touched entries */
	dbos_pt_entry *entries;
	/*
	 * Bit c is set once an entry of pages [c * DBOS_PT_CHUNK_PAGES, ...) was
	 * written; the entries of a clear chunk are all zero (the initial state),
	 * so walks over a range skip it without reading them: a walk costs the
	 * chunks a sparse terabyte region uses, not its 2^32 entries.
	 */
	_Atomic uint64_t *written;
	uint64_t entries_size;  /* bytes of the one reservation holding `entries`, then `written` */
	dbos_pt_frames *frames; /* the bound pool (one reference held), or NULL; switched only while frame_pages == 0 */
	atomic_uint_fast64_t frame_pages; /* pages in state FRAME */
	enum dbos_pt_dirty_mechanism dirty;
	dbos_pt_shadow shadow;
	dbos_pt_fault_fn fault_handler; /* runtime reads: non-NULL while faults are enabled */
	void *fault_context;
	atomic_uint_fast64_t runtime_calls;
	atomic_uint_fast64_t pages_mapped;
	atomic_uint_fast64_t faults_served;
	atomic_uint_fast64_t faults_failed;
	/*
	 * Runtime reads: every page outside [touched_first, touched_end) still
	 * has its initial state.  Both only widen.  Dirty tracking and scans
	 * are clamped to this extent, so their cost follows the pages an
	 * engine used, not the terabytes it reserved.
	 */
	atomic_uint_fast64_t touched_first;
	atomic_uint_fast64_t touched_end;
	/*
	 * Every pinned page lies in [pinned_first, pinned_end); both only
	 * widen.  Pin checks over a range are clamped to it, so asking about a
	 * terabyte costs what its views cover.
	 */
	atomic_uint_fast64_t pinned_first;
	atomic_uint_fast64_t pinned_end;
	struct dbos_pt_rt_region *rt;
};

/* ---- pt_pages.c: page sets and runs ---- */

/* True for a list of `count` entries naming `index_count` pages or frames that is too long to be meant (DBOS_EINVAL). */
bool dbos_pt_list_too_long(uint64_t count, uint64_t index_count);

/* DBOS_EINVAL / DBOS_ERANGE unless every page of the set is inside the region. */
dbos_status dbos_pt_pages_check(const dbos_pt_region *region, const dbos_pt_pages *pages);

/*
 * DBOS_ENOMEM when one operation would need more new memory than half of
 * what the runtime can back (dbos_pt_rt_memory_bytes): `bytes_per_page` for
 * each of `page_count` pages (8 for the page entries every changing
 * operation writes; a page for populate and for shadow copies).  A huge
 * range is then refused before anything changes, instead of exhausting the
 * machine.
 */
dbos_status dbos_pt_memory_check(uint64_t page_count, uint64_t bytes_per_page);

/* The set's i-th page index. */
static inline uint64_t dbos_pt_pages_at(const dbos_pt_pages *pages, uint64_t i)
{
	return pages->list ? pages->list[i] : pages->first + i;
}

/*
 * Length of the run that starts at position `index` of `pages`: the pages
 * that follow are consecutive indexes, and (when `pair` is not NULL) the
 * matching positions of `pair` are consecutive too, and (with
 * `split_by_entry`) every page has the same state and protection as the
 * first, with consecutive frames when FRAME.  At least 1.
 */
uint64_t dbos_pt_run_length(const dbos_pt_region *region, const dbos_pt_pages *pages, uint64_t index,
			    const dbos_pt_pages *pair, bool split_by_entry);

/* ---- pt_region.c ---- */
/* A page's state, protection and frame, with initial entries resolved. */
dbos_pt_page_info dbos_pt_entry_info(const dbos_pt_region *region, uint64_t page);
void dbos_pt_entries_set(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_pt_state state,
			 enum dbos_prot prot, uint32_t frame_first);
/* Clamp [first, first + count) to the touched extent; false when nothing is left. */
bool dbos_pt_touched_clamp(const dbos_pt_region *region, uint64_t first, uint64_t count, uint64_t *clamped_first,
			   uint64_t *clamped_count);
/*
 * Where the run of pages known to hold their initial entry without reading
 * them (those in chunks never written) ends, starting at `page`; `page`
 * itself when its chunk was written.
 */
uint64_t dbos_pt_unwritten_end(const dbos_pt_region *region, uint64_t page);
void dbos_pt_frames_ref(dbos_pt_frames *frames);
void dbos_pt_frames_unref(dbos_pt_frames *frames);

/* ---- pt_pin.c ---- */
/* DBOS_EBUSY when a page of the set is pinned. */
dbos_status dbos_pt_pages_check_unpinned(const dbos_pt_region *region, const dbos_pt_pages *pages);

/* ---- pt_shadow.c: the SHADOW_COMPARE dirty tracker ---- */
dbos_status dbos_pt_shadow_start(dbos_pt_region *region);
void dbos_pt_shadow_stop(dbos_pt_region *region);
dbos_status dbos_pt_shadow_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				   uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out);
dbos_status dbos_pt_shadow_reset(dbos_pt_region *region, uint64_t first, uint64_t count);
/* Called by page operations: the shadow of changed pages is refreshed or dropped. */
void dbos_pt_shadow_changed(dbos_pt_region *region, uint64_t first, uint64_t count);
/* Called by page operations that leave the pages reading zeros: their shadow is dropped (reads zeros too). */
void dbos_pt_shadow_zeroed(dbos_pt_region *region, uint64_t first, uint64_t count);

#endif /* DBOS_PT_INTERNAL_H */
