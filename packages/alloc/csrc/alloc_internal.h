/*
 * alloc_internal.h - the allocator's limits, data structures and the
 * functions its files share (grouped by defining file, xv6 defs.h style).
 *
 * Layout of a pool:
 *
 *   base                                                       base + limit
 *   | page 0 | page 1 | ...                           | page N-1 |
 *     pages[0] pages[1]   one struct alloc_page per page, outside the pool
 *
 * A page is the head of a block (free buddy block, slab, run or arena chunk)
 * or a tail pointing to its head.  Metadata never lives in the memory handed
 * out, so an overflowing write cannot corrupt the allocator.
 */
#ifndef DBOS_ALLOC_INTERNAL_H
#define DBOS_ALLOC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/alloc.h"
#include "dbos/platform.h"

/* ---- Limits (xv6 param.h) ---------------------------------------------- */

#define ALLOC_ORDER_MAX 20u /* largest buddy block: 2^20 pages = 4 GiB */
#define ALLOC_ORDER_COUNT (ALLOC_ORDER_MAX + 1u)
#define ALLOC_PAGE_NONE UINT32_MAX
#define ALLOC_SLAB_OBJECTS_MAX 256u /* one 4-word bitmap per slab */
#define ALLOC_SLAB_OBJECTS_MIN 8u
#define ALLOC_SLAB_OBJECTS_GOAL 32u           /* slabs grow until they hold this many ... */
#define ALLOC_SLAB_BYTES_GOAL (64u * 1024u)   /* ... or are this large (and hold >= MIN) */
#define ALLOC_CACHE_OBJECTS_MAX 128u          /* per class per slot */
#define ALLOC_CACHE_BYTES_GOAL (256u * 1024u) /* cap of bytes cached per class per slot */
#define ALLOC_PAGE_CACHE_MAX 64u              /* single pages per slot */
#define ALLOC_PAGE_BATCH 32u                  /* pages moved per refill or flush */
#define ALLOC_SLOT_COUNT_DEFAULT 64u
#define ALLOC_SLOT_COUNT_MAX 256u
#define ALLOC_RELEASE_BATCH 16u       /* free runs taken out per lock hold when releasing */
#define ALLOC_SPIN_LIMIT 128u         /* spins before yielding on a lock */
#define ALLOC_POOL_MAGIC 0x504f4f4cu  /* "POOL" */
#define ALLOC_ARENA_MAGIC 0x4152454eu /* "AREN" */
#define ALLOC_JUNK_BYTE 0x5a

_Static_assert(ALLOC_SLAB_OBJECTS_MAX == 4 * 64, "slab bitmaps are four 64-bit words");
_Static_assert(ALLOC_PAGE_BATCH * 2 == ALLOC_PAGE_CACHE_MAX, "a flush leaves room for one refill");
_Static_assert((1u << 5) == ALLOC_PAGE_BATCH, "page refill takes one order-5 block");

/* ---- Locks (alloc_lock.c) ------------------------------------------------- */

typedef struct {
	atomic_uint word;
} alloc_lock;

void alloc_lock_acquire(alloc_lock *lock);
void alloc_lock_release(alloc_lock *lock);

/* ---- Page map ------------------------------------------------------------ */

enum alloc_page_kind {
	ALLOC_PAGE_TAIL = 0,      /* inside a block; `head` names the block (or a stale one) */
	ALLOC_PAGE_FREE = 1,      /* head of a free buddy block in a free list */
	ALLOC_PAGE_RELEASING = 2, /* head of a free block being returned to the OS */
	ALLOC_PAGE_CACHED = 3,    /* a single free page in a slot's page cache */
	ALLOC_PAGE_RUN = 4,       /* head of a run handed out by dbos_alloc / dbos_alloc_pages */
	ALLOC_PAGE_SLAB = 5,      /* head of a slab */
	ALLOC_PAGE_ARENA = 6,     /* head of an arena chunk */
	ALLOC_PAGE_TAKEN = 7,     /* head of a block just taken off a free list, not yet marked */
};

struct alloc_page {
	_Atomic uint8_t kind; /* enum alloc_page_kind */
	uint8_t order;        /* FREE/RELEASING: buddy order */
	uint8_t class_index;  /* SLAB */
	uint8_t dirty;        /* FREE: may have resident pages (free list choice) */
	uint32_t head;        /* TAIL: index of the head page */
	uint32_t next;        /* free list, slab partial list, arena chain */
	uint32_t prev;
	uint32_t page_count;           /* RUN, SLAB, ARENA: block length */
	uint16_t object_count;         /* SLAB */
	uint16_t free_count;           /* SLAB: objects in free_bits (class lock) */
	uint64_t requested_bytes;      /* RUN */
	_Atomic uint64_t user_bits[4]; /* SLAB: 1 = held by a caller */
	uint64_t free_bits[4];         /* SLAB: 1 = free in the slab (class lock) */
};

/* ---- Slots (per-thread or per-vCPU caches) -------------------------------- */

struct alloc_cache_class {
	uint32_t count;
	uint32_t capacity;
	void *objects[ALLOC_CACHE_OBJECTS_MAX];
};

/*
 * One cache slot: written by its owner thread only, except the page cache,
 * which others may steal from under page_lock.  Counters are atomics written
 * with relaxed stores by the owner so stats can read them from any thread.
 */
struct alloc_slot {
	struct alloc_cache_class classes[DBOS_ALLOC_CLASS_COUNT];
	alloc_lock page_lock;
	uint32_t page_count;
	uint32_t pages[ALLOC_PAGE_CACHE_MAX];
	_Atomic int64_t class_live[DBOS_ALLOC_CLASS_COUNT]; /* allocs - frees by this slot */
	_Atomic int64_t bytes_requested;
	_Atomic uint64_t alloc_count;
	_Atomic uint64_t free_count;
} __attribute__((aligned(DBOS_CACHE_LINE_SIZE))); /* slots sit side by side, one per thread */

/* ---- Size classes and central slab lists ------------------------------------ */

struct alloc_class_info {
	uint32_t object_size;
	uint32_t slab_order;
	uint32_t slab_objects;
	uint32_t reciprocal; /* ceil(2^32 / object_size): offset -> index without a division */
	uint32_t cache_capacity;
};

struct alloc_central {
	alloc_lock lock;
	uint32_t partial_head; /* slabs with free objects, doubly linked through pages[] */
	uint32_t spare;        /* one fully free slab kept to avoid churn, or NONE */
	uint64_t slab_count;
	uint64_t objects_free; /* in slabs, under lock */
} __attribute__((aligned(DBOS_CACHE_LINE_SIZE)));

/* ---- The pool ---------------------------------------------------------------- */

struct dbos_alloc_pool {
	void *pool_memory; /* what dbos_platform_alloc returned; the pool is aligned inside it */
	uint32_t magic;
	uint32_t flags;
	uintptr_t base;
	size_t size;
	uint32_t page_total;
	uint32_t slot_count;
	size_t retain_pages;
	struct dbos_alloc_mechanism mechanism;
	struct alloc_page *pages;
	uint64_t *resident_bits;  /* 1 = page is backed by memory (pool lock) */
	struct alloc_slot *slots; /* cache-line aligned inside slots_memory */
	void *slots_memory;

	/* Buddy allocator state, under `lock`. */
	alloc_lock lock __attribute__((aligned(DBOS_CACHE_LINE_SIZE)));
	uint32_t free_heads[2][ALLOC_ORDER_COUNT]; /* [dirty][order] */
	uint64_t pages_free;
	uint64_t pages_free_resident;
	uint64_t pages_resident;
	uint64_t pages_runs;
	uint64_t pages_arenas;
	uint64_t pages_slabs;
	uint64_t release_count;
	uint64_t released_pages;

	/* Shared counters for the slot-less path and for runs. */
	_Atomic int64_t shared_bytes_requested;
	_Atomic uint64_t shared_alloc_count;
	_Atomic uint64_t shared_free_count;
	_Atomic int64_t shared_class_live[DBOS_ALLOC_CLASS_COUNT];
	_Atomic uint64_t invalid_free_count;
	_Atomic uint64_t pages_cached;

	struct alloc_central central[DBOS_ALLOC_CLASS_COUNT];
};

/* ---- alloc_pool.c: creation, page map lookups ---- */
static inline uintptr_t alloc_page_address(const dbos_alloc_pool *pool, uint32_t page)
{
	return pool->base + ((uintptr_t)page << DBOS_PAGE_SHIFT);
}
/* Head page of the live block containing `address`, or NONE. */
uint32_t alloc_pool_block_of(const dbos_alloc_pool *pool, uintptr_t address);

/* ---- alloc_buddy.c: the shared page allocator (callers hold pool->lock) ---- */
/*
 * Take a block of 2^order pages (resident ones first); NONE if there is none.
 * Its head turns TAKEN; the caller marks it resident and gives it its kind.
 */
uint32_t alloc_buddy_take(dbos_alloc_pool *pool, uint32_t order, bool *was_resident_out);
/* Return a block of 2^order pages at `page`, coalescing with free buddies. */
void alloc_buddy_give(dbos_alloc_pool *pool, uint32_t page, uint32_t order);
/* Take the largest free block that holds resident pages (kind RELEASING); NONE if none. */
uint32_t alloc_buddy_take_dirty(dbos_alloc_pool *pool, uint32_t *order_out);
/* Clear resident bits of [page, page + count); returns how many were set. */
uint32_t alloc_buddy_mark_released(dbos_alloc_pool *pool, uint32_t page, uint32_t count);
/* Return [page, page + count) as aligned buddy blocks. */
void alloc_buddy_give_range(dbos_alloc_pool *pool, uint32_t page, uint32_t count);
/* Set the pages' resident bits; returns how many were resident before. */
uint32_t alloc_buddy_mark_resident(dbos_alloc_pool *pool, uint32_t page, uint32_t count);
uint32_t alloc_buddy_order_for(uint32_t page_count);
uint64_t alloc_buddy_largest_free(const dbos_alloc_pool *pool);

/* ---- alloc_pages.c: runs, page caches, stealing, release ---- */
/*
 * A block of `page_count` pages marked `kind`; populated if needed.
 * *fresh_out: every page was non-resident (so it reads as zeros).
 */
dbos_status alloc_pages_take(dbos_alloc_pool *pool, uint32_t page_count, enum alloc_page_kind kind, uint32_t *page_out,
			     bool *fresh_out);
/* One page from the slot's page cache (refilled in a batch), marked `kind`. */
dbos_status alloc_pages_take_single(dbos_alloc_pool *pool, struct alloc_slot *slot, enum alloc_page_kind kind,
				    uint32_t *page_out);
/* Give back blocks taken with alloc_pages_take; single pages go to the slot's cache. */
void alloc_pages_give_many(dbos_alloc_pool *pool, struct alloc_slot *slot, const uint32_t *heads, uint32_t count);
/* Free the run whose head is `head` (kind RUN, checked atomically: a second free gets EINVAL). */
dbos_status alloc_pages_free_run(dbos_alloc_pool *pool, struct alloc_slot *slot, uint32_t head);
/* Release free resident pages beyond `keep_pages`. */
uint64_t alloc_pages_release(dbos_alloc_pool *pool, uint64_t keep_pages);
/* Flush the slot's page cache to the buddy allocator. */
void alloc_pages_flush_slot(dbos_alloc_pool *pool, struct alloc_slot *slot);
/* Move every slot's cached pages back (stealing); returns pages moved. */
uint32_t alloc_pages_steal_all(dbos_alloc_pool *pool);

/* ---- alloc_slab.c: size classes and central lists ---- */
extern const struct alloc_class_info alloc_classes[DBOS_ALLOC_CLASS_COUNT];
uint32_t alloc_class_index(size_t size); /* size in 1 .. OBJECT_SIZE_MAX */
/* Move up to `want` free objects of the class into `objects`; returns how many. */
uint32_t alloc_slab_refill(dbos_alloc_pool *pool, uint32_t class_index, void **objects, uint32_t want);
/* Put objects (user bits already clear) back into their slabs. */
void alloc_slab_flush(dbos_alloc_pool *pool, uint32_t class_index, void *const *objects, uint32_t count);
/* Object index of `address` in the slab at `head`; *aligned_out false between objects. */
uint32_t alloc_slab_object_index(const dbos_alloc_pool *pool, uint32_t head, uintptr_t address, bool *aligned_out);

/* Give every class's spare empty slab back to the page allocator. */
void alloc_slab_drop_spares(dbos_alloc_pool *pool);

/* ---- alloc_object.c: the per-slot fast paths ---- */
struct alloc_slot *alloc_slot_of_caller(dbos_alloc_pool *pool);
void alloc_slot_flush(dbos_alloc_pool *pool, struct alloc_slot *slot);

/* ---- host/alloc_slot_host.c or guest/: the runtime's cache-slot hook ---- */
/*
 * The caller's slot number (a thread on the host, a vCPU in the guest), or
 * UINT32_MAX when it has none.  A slot is used by one thread at a time; the
 * guest runs these paths with preemption off.
 */
uint32_t dbos_alloc_slot_current(void);

/* ---- host/alloc_memory_host.c or guest/: the runtime's memory size ---- */
/*
 * Bytes of memory the runtime can back at most (host: the machine's RAM).
 * One request (a pre-fault, a page run, an arena chunk) that needs more than
 * half of it is refused with DBOS_ENOMEM: it could only end with the process
 * killed for memory, whatever limit_bytes allows.
 */
uint64_t dbos_alloc_memory_bytes(void);

static inline bool alloc_memory_fits(uint64_t bytes)
{
	return bytes <= dbos_alloc_memory_bytes() / 2;
}

#endif /* DBOS_ALLOC_INTERNAL_H */
