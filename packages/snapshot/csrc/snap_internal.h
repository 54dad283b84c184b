/*
 * snap_internal.h - the snapshot core's shared structures and cross-file functions, by file.
 *
 * Epoch protocol in one picture (EPOCH and UFFD_WP; FORK keeps its image in a child):
 *
 *   global epoch      1 ──take S1──▶ 2 ──take S2──▶ 3
 *   stamp[p]          epoch of the last section that prepared page p for writing
 *   S.epoch           the epoch whose writers must preserve pages for S (2 for S1, 3 for S2)
 *   S.copies[p]       frame + 1 holding p's pre-image for S, 0 while p is unchanged since S
 *
 *   A writer pinned at epoch e preparing page p with stamp s < e copies p once for every live
 *   S with s < S.epoch <= e (the page did not change between those snapshots, so they share
 *   one frame), then stamps p with e.  The stamp's top bit is a per-page copy lock, so racing
 *   writers copy exactly once.  Take bumps the epoch, then waits for writers still pinned at
 *   an older epoch (their writes belong before the snapshot); it never touches per-page state.
 */
#ifndef DBOS_SNAP_INTERNAL_H
#define DBOS_SNAP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/pagetable.h"
#include "dbos/platform.h"
#include "dbos/snapshot.h"

/* ---- Limits (one place, as param.h does) -------------------------------- */

/* Spins before a waiting thread yields its CPU (waits are short: one write section). */
#define SNAP_SPIN_COUNT_MAX 256u
/*
 * The image stream: 1 MiB requests, up to SNAP_STREAM_BUFFER_COUNT - 1 written while the next
 * fills.  A device keeps its queue full only with several large writes outstanding (one at a
 * time leaves it idle while the CPU checksums the next request).  A request is a list of
 * extents: pages that stay unchanged until the image is done (copy frames, a fork child's frozen
 * memory) are written from where they are; everything else is staged in the request's buffer.
 * Every extent is either one page or staged bytes, so a request has at most one extent per page
 * it covers, plus one for staged bytes after its last page.
 */
#define SNAP_STREAM_BUFFER_PAGES 256u
#define SNAP_STREAM_BUFFER_SIZE (SNAP_STREAM_BUFFER_PAGES * DBOS_PAGE_SIZE)
#define SNAP_STREAM_BUFFER_COUNT 8u
#define SNAP_STREAM_EXTENT_MAX (SNAP_STREAM_BUFFER_PAGES + 1u)
#define SNAP_PROGRESS_INTERVAL_DEFAULT ((uint64_t)8 << 20)

/*
 * The copy pool is reserved for the worst case (every live snapshot holding its own copy of
 * every page) and committed SNAP_REFILL_CHUNK_FRAMES at a time as frames are handed out, so a
 * space costs memory for the copies it makes, also where committing backs memory at once (the
 * guest).  Copy frames are kept resident ahead of use by a refill thread, so a writer's first write
 * costs a 4 KiB copy (~0.5 µs) instead of also a page fault on a fresh frame (1.6–8 µs).
 * The refill thread populates SNAP_REFILL_CHUNK_FRAMES at a time (2 MiB: one huge page)
 * until the space's reserve (SNAP_REFILL_AHEAD_FRAMES unless the options say otherwise) of frames
 * past the allocation point is ready; writers wake it when fewer than half remain.  After the
 * last snapshot is released, frames beyond the reserve go back to the OS.  Fresh anonymous
 * memory is expensive (the kernel zeroes it: 1.6-5 µs per page on the development VM), so an
 * engine that expects large write bursts after a snapshot asks for a larger reserve.
 */
#define SNAP_REFILL_CHUNK_FRAMES 512u
#define SNAP_REFILL_AHEAD_FRAMES 8192u /* 32 MiB */
_Static_assert(SNAP_REFILL_AHEAD_FRAMES % SNAP_REFILL_CHUNK_FRAMES == 0, "the reserve is whole chunks");

#define SNAP_STAMP_LOCK ((uint64_t)1 << 63)
#define SNAP_EPOCH_FIRST 1u
#define SNAP_FRAME_NONE 0u

_Static_assert(DBOS_SNAP_COUNT_MAX <= 256, "slot index fits the id's low byte");
_Static_assert(SNAP_STREAM_BUFFER_SIZE >= DBOS_SNAP_IMAGE_HEADER_SIZE, "the header fits a stream buffer");

/* ---- Slots: one per snapshot ------------------------------------------- */

/* slot.word: generation (32) | state (8) | pins (24). */
enum snap_slot_state {
	SNAP_SLOT_FREE = 0,
	SNAP_SLOT_LIVE = 1,
	SNAP_SLOT_RELEASING = 2,
};

#define SNAP_WORD(generation, state, pins) (((uint64_t)(generation) << 32) | ((uint64_t)(state) << 24) | (pins))
#define SNAP_WORD_GENERATION(word) ((uint32_t)((word) >> 32))
#define SNAP_WORD_STATE(word) ((uint32_t)(((word) >> 24) & 0xff))
#define SNAP_WORD_PINS(word) ((uint32_t)((word)&0xffffff))
#define SNAP_PINS_MAX 0xffffffu

typedef struct snap_slot {
	_Atomic uint64_t word;
	_Atomic uint64_t epoch;   /* non-zero while writers must preserve pages for it */
	_Atomic uint32_t *copies; /* page_count entries: frame + 1, or SNAP_FRAME_NONE */
	_Atomic uint64_t copy_count;
	uint64_t taken_ns;
	uint64_t take_duration_ns;
	enum dbos_snap_mechanism mechanism;
	void *host;              /* the host mechanism's per-snapshot state (FORK child) */
	_Atomic uint64_t *dirty; /* FORK over a region: pages written since, found at later takes */
} snap_slot;

/* ---- Writers ------------------------------------------------------------ */

struct dbos_snap_writer {
	_Atomic uint64_t epoch;    /* pinned epoch while in a section, 0 outside */
	_Atomic uint64_t sequence; /* sections completed: lets waiters see progress */
	_Atomic uint32_t in_use;
	uint32_t index;
	dbos_snap_space *space;
	char padding[DBOS_CACHE_LINE_SIZE - 32];
};

_Static_assert(sizeof(struct dbos_snap_writer) == DBOS_CACHE_LINE_SIZE, "one writer per cache line");

/* ---- The space ----------------------------------------------------------- */

/* Hooks a runtime mechanism (csrc/host/) plugs into the core's take and release. */
typedef struct snap_mechanism_ops {
	dbos_status (*attach)(dbos_snap_space *space);
	void (*detach)(dbos_snap_space *space);
	/* Between quiesce stop/resume for UFFD_WP and FORK; `slot` is being taken. */
	dbos_status (*freeze)(dbos_snap_space *space, snap_slot *slot);
	/* After the slot's copies are freed; `last` when no snapshot stays live. */
	void (*release)(dbos_snap_space *space, snap_slot *slot, bool last);
	/* FORK: reads and image writes go to the child. */
	dbos_status (*read)(dbos_snap_space *space, snap_slot *slot, uint64_t offset, uint64_t length, void *target);
} snap_mechanism_ops;

struct dbos_snap_space {
	uint8_t *base;
	uint64_t page_count;
	enum dbos_snap_mechanism mechanism;
	const snap_mechanism_ops *ops;
	void *host;             /* the runtime mechanism's state (uffd handler) */
	dbos_pt_region *region; /* FORK: dirty pages come from the region's tracking */
	bool region_dirty;      /* that tracking runs (started by us) */
	size_t dirty_size;      /* bytes of one slot's dirty bitmap */
	dbos_snap_quiesce_fn quiesce;
	void *quiesce_context;

	_Alignas(DBOS_CACHE_LINE_SIZE) _Atomic uint64_t epoch;
	_Atomic uint64_t sealed_epoch; /* the newest epoch whose snapshot is complete */

	_Alignas(DBOS_CACHE_LINE_SIZE) dbos_mutex mutex; /* take, release, destroy */
	uint32_t generation_next;

	_Atomic uint64_t *stamps; /* page_count entries */
	size_t stamps_size;
	size_t copies_size; /* bytes of one slot's copy table */

	/* The copy pool: frame i at frames + i * DBOS_PAGE_SIZE. */
	uint8_t *frames;
	uint64_t frame_capacity;
	size_t frames_size;
	_Atomic uint32_t *frame_refs;
	size_t frame_refs_size;
	_Atomic uint64_t frame_next; /* frames below were handed out at least once */
	_Atomic uint32_t free_lock;
	_Atomic uint32_t free_head; /* frame + 1 of the first free frame, linked through the frames */
	_Atomic uint64_t copies_live;
	_Atomic uint64_t frames_ready;     /* frames below are resident (populated): a hint */
	_Atomic uint64_t frames_committed; /* frames below are committed: whole chunks, under commit_mutex */
	dbos_mutex commit_mutex;           /* commit and decommit of pool chunks */
	_Atomic uint64_t refill_ahead;     /* frames the refill keeps ready past frame_next */
	uint64_t reserve_frames;           /* the reserve kept resident between snapshots */
	_Alignas(DBOS_CACHE_LINE_SIZE) _Atomic uint32_t refill_request; /* futex word: 1 when asked */
	_Atomic uint32_t refill_stop;
	struct dbos_thread *refill_thread;

	_Atomic uint64_t copies_made;
	_Atomic uint64_t copy_races_lost;
	_Atomic uint64_t faults_handled;
	_Atomic uint64_t snapshots_taken;

	snap_slot slots[DBOS_SNAP_COUNT_MAX];
	struct dbos_snap_writer *writers; /* DBOS_SNAP_WRITER_COUNT_MAX, cache-line aligned */
};

/* ---- snap_space.c ------------------------------------------------------------ */
/* Wait for every writer in a section now to leave it or move to an epoch >= `epoch` (0: any). */
void snap_writers_wait(dbos_snap_space *space, uint64_t epoch);
uint32_t snap_live_count(dbos_snap_space *space);

/* ---- snap_frames.c ------------------------------------------------------------- */
dbos_status snap_frame_alloc(dbos_snap_space *space, uint32_t *frame_out);
void snap_frame_unref(dbos_snap_space *space, uint32_t frame);
/* With no snapshot live and no writer copying: give frames beyond the reserve back. */
void snap_frames_reset(dbos_snap_space *space);
/* Start / stop the refill thread (space create / destroy). */
dbos_status snap_refill_start(dbos_snap_space *space);
void snap_refill_stop(dbos_snap_space *space);
static inline uint8_t *snap_frame_address(const dbos_snap_space *space, uint32_t frame)
{
	return space->frames + (size_t)frame * DBOS_PAGE_SIZE;
}

/* ---- snap_slot.c ------------------------------------------------------------- */
dbos_snap_id snap_id_make(uint32_t generation, uint32_t slot_index);
/* The slot of a live id, pinned; DBOS_ECLOSED when released. Unpin with snap_slot_unpin. */
dbos_status snap_slot_pin(dbos_snap_space *space, dbos_snap_id id, snap_slot **slot_out);
void snap_slot_unpin(snap_slot *slot);

/* ---- snap_epoch.c ------------------------------------------------------------- */
/* Preserve page `page` for live snapshots, as a writer pinned at `epoch` (UFFD handler too). */
dbos_status snap_page_preserve(dbos_snap_space *space, uint64_t epoch, uint64_t page);
dbos_status snap_epoch_take(dbos_snap_space *space, snap_slot *slot);
void snap_slot_free_copies(dbos_snap_space *space, snap_slot *slot);

/* ---- snap_dirty.c ------------------------------------------------------------- */
/* The region tracking a FORK space over a region runs: cheap per collection, else NONE. */
enum dbos_pt_dirty_mechanism snap_dirty_mechanism(void);
/* Start the region's dirty tracking for a FORK space (no-op without a region). */
dbos_status snap_dirty_attach(dbos_snap_space *space);
void snap_dirty_detach(dbos_snap_space *space);
/* While writers are quiesced, before a FORK take: move pages written since into older snapshots. */
dbos_status snap_dirty_advance(dbos_snap_space *space);
/* FORK dirty_since: the slot's moved pages plus what the region reports now. */
dbos_status snap_dirty_since_fork(dbos_snap_space *space, snap_slot *slot, uint64_t *bitmap, uint64_t *count_out);

/* ---- snap_read.c ------------------------------------------------------------- */
/* Read `count` pages from `first` of a pinned slot into target. */
dbos_status snap_pages_read(dbos_snap_space *space, snap_slot *slot, uint64_t first, uint64_t count, void *target);
/*
 * Point pages_out[i] at page first + i of a pinned slot without copying where the bytes cannot
 * change while the slot stays pinned (its copy frame); other pages are copied to
 * staging + i * DBOS_PAGE_SIZE and pointed there.
 */
dbos_status snap_pages_locate(dbos_snap_space *space, snap_slot *slot, uint64_t first, uint64_t count, uint8_t *staging,
			      const uint8_t **pages_out);

/* ---- snap_image.c ------------------------------------------------------------- */

/* `length` bytes at `bytes`: one piece of an image write (the layout of struct iovec). */
typedef struct snap_image_extent {
	const uint8_t *bytes;
	uint64_t length;
} snap_image_extent;

/*
 * Where image bytes go.  `start` begins writing the `extent_count` extents, `length` bytes in
 * all, at `offset`, for request `buffer_index` (< SNAP_STREAM_BUFFER_COUNT); the extents and the
 * bytes they point at stay untouched until `finish(buffer_index)` returns, which waits for that
 * write and returns its status.  A synchronous sink writes in `start`.
 */
typedef struct snap_image_sink {
	dbos_status (*start)(void *context, uint32_t buffer_index, uint64_t offset, const snap_image_extent *extents,
			     uint32_t extent_count, uint64_t length);
	dbos_status (*finish)(void *context, uint32_t buffer_index);
	void *context;
} snap_image_sink;

/*
 * Points pages_out[i] at `count` pages starting at `first`: bytes that stay unchanged until the
 * image is done, or a copy the source makes into staging + i * DBOS_PAGE_SIZE.
 */
typedef dbos_status (*snap_page_source_fn)(void *context, uint64_t first, uint64_t count, uint8_t *staging,
					   const uint8_t **pages_out);

typedef struct snap_image_stream {
	uint64_t page_count;
	uint64_t epoch;
	uint64_t taken_ns;
	enum dbos_snap_mechanism mechanism;
	snap_page_source_fn source;
	void *source_context;
	snap_image_sink sink;
	uint8_t *buffers[SNAP_STREAM_BUFFER_COUNT];           /* SNAP_STREAM_BUFFER_SIZE each, page aligned */
	snap_image_extent *extents[SNAP_STREAM_BUFFER_COUNT]; /* SNAP_STREAM_EXTENT_MAX each */
	uint32_t *table;                                      /* page_count entries, filled here */
	void (*on_progress)(void *context, uint64_t bytes_done, uint64_t bytes_total);
	void *progress_context;
	uint64_t progress_interval_bytes;
	volatile const uint32_t *cancel;
} snap_image_stream;

/* Bytes of working memory for an image of `page_count` pages: buffers, extent lists, CRC table. */
size_t snap_image_stream_memory_size(uint64_t page_count);
/* Point the stream's buffers, extent lists and table into `memory` (page aligned, that size). */
void snap_image_stream_memory_set(snap_image_stream *stream, uint8_t *memory);
/* Produce the whole image through the sink (header, pages, table, trailer). */
dbos_status snap_image_produce(const snap_image_stream *stream, uint64_t *bytes_out);
void snap_image_header_fill(dbos_snap_image_header *header, uint64_t page_count, uint64_t epoch, uint64_t taken_ns,
			    enum dbos_snap_mechanism mechanism);
/* Check a header's fields and CRC. */
dbos_status snap_image_header_check(const dbos_snap_image_header *header);
/* The whole DBOS_SNAP_IMAGE_HEADER_SIZE block: the header, then zero padding. */
dbos_status snap_image_header_block_check(const uint8_t *block, dbos_snap_image_header *header_out);
dbos_status snap_image_trailer_check(const dbos_snap_image_trailer *trailer, const dbos_snap_image_header *header);

/* ---- host hooks (csrc/host/, or csrc/guest/ once it exists) ---------------- */
/* The mechanism's ops, or NULL when this runtime lacks it. */
const snap_mechanism_ops *snap_runtime_ops(enum dbos_snap_mechanism mechanism);
bool snap_runtime_available(enum dbos_snap_mechanism mechanism, const char **reason_out);

#endif /* DBOS_SNAP_INTERNAL_H */
