/*
 * dbos/alloc.h - page, slab and arena allocation from a pre-faulted pool.
 *
 * A pool owns one reservation of exactly `limit_bytes` of address space.  All
 * memory it hands out lies inside it, so the pool's resident memory can never
 * exceed the limit: an allocation that does not fit fails with DBOS_ENOMEM
 * (nothing free) and the pool never asks the OS for more.
 *
 *   pages    runs of 4 KiB pages from a buddy allocator (coalescing, O(log n))
 *   objects  16 B .. 64 KiB in 44 size classes carved from slabs; larger
 *            requests become page runs rounded up to whole pages
 *   arenas   bump allocation over page chunks, released all at once
 *
 * Memory is not zeroed unless DBOS_ALLOC_ZERO is passed (pages that were never
 * touched or were released to the OS are known to be zero and are not
 * cleared again).  Freed pages stay resident for reuse until more than
 * `retain_bytes` of free resident memory accumulates; then the pool returns
 * whole coalesced free runs to the OS with one discard (MADV_DONTNEED on the
 * host) per run.
 *
 * Thread safety and the cache model
 * ---------------------------------
 * Every function taking a pool is safe to call from any thread at any time,
 * except dbos_alloc_pool_destroy (no other call may be running or follow).
 * Each thread (host) or vCPU (guest) gets a private cache slot per pool: a
 * stack of free objects per size class and a stack of free single pages.
 * The fast paths touch only the caller's slot plus one atomic bit in the
 * slab's allocation bitmap, so they take no lock.  Slots are refilled from and
 * flushed to the shared pool in batches (per-class locks for slabs, one pool
 * lock for the buddy allocator).  When the pool is out of pages, an allocating
 * thread flushes its own caches and steals the free pages cached by other
 * slots before it reports DBOS_ENOMEM.  Objects cached by other threads are
 * bounded (ALLOC caps per class) but are not stolen; dbos_alloc_thread_flush
 * returns the caller's.  A thread may free memory another thread allocated.
 * Threads beyond `cache_slot_count` share the locked central path.
 * Arenas are single-threaded: one arena belongs to one thread at a time.
 *
 * Invalid frees are detected, never acted on: a pointer outside the pool, on
 * a free page, inside a page run but not at its start, between two objects of
 * a slab, a second free of the same object, or a size of the wrong class all
 * return DBOS_EINVAL and change nothing.  Detection is exact while the memory
 * the pointer names is still in the pool's hands (single-threaded misuse);
 * a stale pointer freed concurrently with the reuse of its memory may go
 * unnoticed, as in any allocator.  Allocator metadata lives outside the
 * memory it manages, so writes past the end of an object cannot corrupt it.
 */
#ifndef DBOS_ALLOC_H
#define DBOS_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size classes: 16 B up to DBOS_ALLOC_OBJECT_SIZE_MAX; above it, page runs. */
#define DBOS_ALLOC_OBJECT_SIZE_MIN 16u
#define DBOS_ALLOC_OBJECT_SIZE_MAX (64u * 1024u)
#define DBOS_ALLOC_CLASS_COUNT 44u
/* Every object and run is aligned to at least this. */
#define DBOS_ALLOC_ALIGNMENT 16u
/* The smallest pool: one huge page, so THP can back it (struct dbos_alloc_config.limit_bytes). */
#define DBOS_ALLOC_LIMIT_BYTES_MIN ((size_t)2 << 20)
/* The largest alignment an arena allocation may ask for: a page. */
#define DBOS_ALLOC_ARENA_ALIGNMENT_MAX 4096u

/* Pool flags (dbos_alloc_config.flags). */
#define DBOS_ALLOC_POOL_HUGEPAGES 0x1u /* ask for 2 MiB pages (THP) where the platform has them */
#define DBOS_ALLOC_POOL_POPULATE 0x2u  /* pre-fault pages when they become resident (batched) */
#define DBOS_ALLOC_POOL_JUNK 0x4u      /* fill freed objects with 0x5a so dangling reads show */
/* destroy leaves the range mapped to fresh zero pages instead of unmapping it: for memory that
 * references the library cannot revoke (moved JavaScript ArrayBuffers) may still reach; the
 * memory is returned, the address range is not */
#define DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE 0x8u

/* Allocation flags. */
#define DBOS_ALLOC_ZERO 0x1u /* the memory reads as zeros */

typedef struct dbos_alloc_pool dbos_alloc_pool;

struct dbos_alloc_config {
	/* The pool's size and hard memory limit, bytes (rounded down to pages; >= 2 MiB). */
	size_t limit_bytes;
	/* Resident at creation (pre-faulted), bytes; at most limit_bytes. */
	size_t prefault_bytes;
	/* Free resident memory kept for reuse before batched release, bytes. */
	size_t retain_bytes;
	/* DBOS_ALLOC_POOL_* */
	uint32_t flags;
	/* Threads with a private cache slot (0: 64; at most 256). */
	uint32_t cache_slot_count;
};

/* What the platform gave the pool at creation. */
struct dbos_alloc_mechanism {
	bool hugepages; /* the huge-page advice was accepted */
	bool populate;  /* populate (MADV_POPULATE_WRITE) works; otherwise pages fault on first touch */
};

struct dbos_alloc_class_stats {
	uint32_t object_size;    /* bytes per object */
	uint32_t slab_bytes;     /* bytes per slab */
	uint32_t slab_objects;   /* objects per slab */
	uint64_t slab_count;     /* slabs of this class */
	uint64_t objects_in_use; /* handed out and not freed */
	uint64_t objects_cached; /* free, held in thread caches */
	uint64_t objects_free;   /* free, in their slabs */
};

struct dbos_alloc_stats {
	uint64_t limit_bytes;         /* pool size = hard limit */
	uint64_t resident_bytes;      /* pool pages backed by memory (own accounting) */
	uint64_t pages_total;         /* pages in the pool */
	uint64_t pages_free;          /* free pages in the shared pool */
	uint64_t pages_cached;        /* free pages held in per-thread page caches */
	uint64_t pages_used;          /* pages in slabs, runs and arenas */
	uint64_t pages_free_resident; /* free pages still backed by memory */
	uint64_t free_run_pages_max;  /* largest free run, pages (external fragmentation) */
	uint64_t bytes_requested;     /* live bytes as requested by callers */
	uint64_t bytes_in_use;        /* live bytes as allocated (class size / whole pages) */
	uint64_t bytes_slabs;         /* bytes of all slabs */
	uint64_t bytes_runs;          /* bytes of page runs handed out */
	uint64_t bytes_arenas;        /* bytes of arena chunks */
	uint64_t alloc_count;         /* successful allocations, all kinds */
	uint64_t free_count;          /* successful frees */
	uint64_t invalid_free_count;  /* frees refused with DBOS_EINVAL */
	uint64_t release_count;       /* discard calls made to return memory */
	uint64_t released_bytes;      /* bytes returned to the OS, total */
	struct dbos_alloc_mechanism mechanism;
	struct dbos_alloc_class_stats classes[DBOS_ALLOC_CLASS_COUNT];
};

/* ---- Pool -------------------------------------------------------------- */

/*
 * Reserve the pool, advise huge pages, pre-fault prefault_bytes.  Control
 * structures (about 100 bytes per pool page plus ~50 KiB per cache slot, mostly
 * untouched) come from dbos_platform_alloc and are not counted in the limit.
 * DBOS_EINVAL for a bad config, DBOS_ENOMEM when the reservation fails or
 * prefault_bytes is more than half of the machine's memory.
 */
dbos_status dbos_alloc_pool_create(const struct dbos_alloc_config *config, dbos_alloc_pool **pool_out);

/* Return everything to the OS. Outstanding pointers become invalid. */
void dbos_alloc_pool_destroy(dbos_alloc_pool *pool);

/* The pool's address range: [base, base + size). */
void dbos_alloc_pool_range(const dbos_alloc_pool *pool, void **base_out, size_t *size_out);

/* ---- Objects and runs -------------------------------------------------- */

/*
 * Allocate `size` bytes (1 .. limit), 16-byte aligned; sizes above
 * DBOS_ALLOC_OBJECT_SIZE_MAX are page runs (page aligned).  DBOS_EINVAL for
 * size 0 or unknown flags, DBOS_ENOMEM when the pool is full, and for one
 * run (or arena chunk) larger than half of the machine's memory, which no
 * pool limit makes safe to back.
 */
dbos_status dbos_alloc(dbos_alloc_pool *pool, size_t size, uint32_t flags, void **address_out);

/*
 * Free memory from dbos_alloc or dbos_alloc_pages.  `size` is the size that
 * was requested, or 0 if unknown (then statistics count the class size); a
 * size of another class is refused.  DBOS_EINVAL for anything that is not a
 * live allocation (see the header comment); nothing is changed then.
 */
dbos_status dbos_alloc_free(dbos_alloc_pool *pool, void *address, size_t size);

/* Bytes usable at `address` (its class size or run bytes); 0 if not a live allocation. */
size_t dbos_alloc_usable_size(const dbos_alloc_pool *pool, const void *address);

/* A run of `page_count` pages, page aligned; freed with dbos_alloc_free. */
dbos_status dbos_alloc_pages(dbos_alloc_pool *pool, size_t page_count, uint32_t flags, void **address_out);

/* The size class for `size` (1 .. DBOS_ALLOC_OBJECT_SIZE_MAX), or -1. */
int dbos_alloc_class_of(size_t size);
/* Bytes per object of class `class_index`, or 0. */
uint32_t dbos_alloc_class_size(uint32_t class_index);
/* Objects of class `class_index` one thread's cache holds at most (256 KiB worth, 4 .. 128), or 0. */
uint32_t dbos_alloc_class_cache_capacity(uint32_t class_index);

/* ---- Release and caches ------------------------------------------------ */

/*
 * Return free resident pages to the OS until at most keep_bytes of them
 * remain, one discard per coalesced free run (largest runs first).
 * Blocks for the system calls (about 0.2 µs per page on the host).
 */
dbos_status dbos_alloc_trim(dbos_alloc_pool *pool, size_t keep_bytes, size_t *released_bytes_out);

/* Return the calling thread's cached objects and pages to the shared pool. */
void dbos_alloc_thread_flush(dbos_alloc_pool *pool);

/*
 * Verify every internal invariant (free lists, page map, slab bitmaps, counters).
 * DBOS_OK, or DBOS_ECORRUPT with the broken invariant logged.  Call it only while
 * no other thread uses the pool; O(pages).  For tests and debugging.
 */
dbos_status dbos_alloc_pool_check(dbos_alloc_pool *pool);

/* A consistent-enough snapshot (per-thread counters are read without stopping threads). */
dbos_status dbos_alloc_stats_get(dbos_alloc_pool *pool, struct dbos_alloc_stats *stats_out);

/*
 * Host runtime only: the mechanisms a pool created with the default flags
 * (DBOS_ALLOC_POOL_HUGEPAGES | DBOS_ALLOC_POOL_POPULATE) gets here, as the
 * one line `dbos probe` prints for alloc: huge pages (the advice accepted and
 * THP's mode), populate (MADV_POPULATE_WRITE or first touch), release, and
 * hugetlb.  Measured once per process by creating such a pool, so it is what
 * pools really get.  Writes at most `size` bytes, NUL included; returns the
 * length of the whole line (snprintf's contract).
 */
#define DBOS_ALLOC_MECHANISM_LINE_SIZE 512u
size_t dbos_alloc_host_mechanism_format(char *text, size_t size);

/* ---- Arenas ------------------------------------------------------------ */

/*
 * A bump allocator over page chunks taken from the pool, for memory that dies
 * together (one transaction).  The caller owns the struct (stack, embedded);
 * fields are private.  One thread at a time.
 */
struct dbos_alloc_arena {
	dbos_alloc_pool *pool;
	uintptr_t cursor;      /* next free byte in the newest chunk */
	uintptr_t end;         /* end of the newest chunk */
	uint32_t chunk_newest; /* page index of the newest chunk, or UINT32_MAX */
	uint32_t chunk_count;
	size_t chunk_bytes; /* default chunk size */
	uint64_t bytes_requested;
	uint64_t bytes_chunks;
	uint32_t magic;
};

/* chunk_bytes: default chunk size (0: 64 KiB), rounded up to pages. */
dbos_status dbos_alloc_arena_init(struct dbos_alloc_arena *arena, dbos_alloc_pool *pool, size_t chunk_bytes);

/*
 * `size` bytes aligned to `alignment` (a power of two, 1 .. DBOS_ALLOC_ARENA_ALIGNMENT_MAX; 0
 * means 16).
 * DBOS_EINVAL for bad arguments, DBOS_ENOMEM when the pool is full.
 */
dbos_status dbos_alloc_arena_alloc(struct dbos_alloc_arena *arena, size_t size, size_t alignment, uint32_t flags,
				   void **address_out);

/* Free every allocation of the arena: all chunks go back to the pool under one lock. */
void dbos_alloc_arena_reset(struct dbos_alloc_arena *arena);

/* Reset, then make the arena unusable. */
void dbos_alloc_arena_fini(struct dbos_alloc_arena *arena);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_ALLOC_H */
