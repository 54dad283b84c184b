/*
 * dbos/snapshot.h - point-in-time copy-on-write snapshots of memory while writers keep writing.
 *
 * A *space* is a range of memory (page aligned, `page_count` pages of DBOS_PAGE_SIZE) whose
 * snapshots we take.  A snapshot is the image of the space at one instant; it stays readable,
 * byte for byte, while the live memory keeps changing, until it is released.  Up to
 * DBOS_SNAP_COUNT_MAX snapshots of one space live at once.
 *
 * Three mechanisms, one API (dbos_snap_mechanism):
 *
 *   EPOCH    writers announce each page write through the write barrier
 *            (dbos_snap_write_begin / _end, the latch hook a buffer pool calls).  Taking a
 *            snapshot bumps an epoch: O(1) whatever the size.  The first write to a page after
 *            a snapshot copies the page's pre-image once into the snapshot and the writer keeps
 *            its page (prioritized copy-on-write); snapshots taken back to back share the copy.
 *   UFFD_WP  raw memory without a barrier (host): the range is write-protected with
 *            userfaultfd at snapshot time; a handler thread copies a page's pre-image on its
 *            first write, then lifts the protection.  Creation costs ~70 ns per page.
 *   FORK     the fallback (host): a child process made by fork() holds the frozen image and
 *            streams it; the kernel's copy-on-write keeps it frozen.  Creation copies the page
 *            tables (fast with transparent huge pages), each first write costs a kernel CoW fault.
 *
 * UFFD_WP and FORK freeze the space at one instant only if no thread writes while the snapshot
 * is being taken: give them a `quiesce` hook that stops writers and resumes them (in the options,
 * with dbos_snap_space_quiesce_set, or, for an engine in another addon, when it attaches through
 * dbos/snapshot_handle.h).  Redis-style single-threaded engines call dbos_snap_take from the only
 * writer and need none.  EPOCH needs no quiescing: dbos_snap_take waits only for write sections
 * already in progress.
 *
 * Reading a snapshot never blocks writers or other readers: a page is read from its copy
 * when a writer made one, else from live memory, validated against a racing first write.
 *
 * Handles: snapshots are named by a 64-bit id (slot and generation).  Every call on a
 * released id returns DBOS_ECLOSED; ids are never reused within a space's life time.
 *
 * Image format (dbos_snap_image_write / dbos_snap_image_verify), little endian:
 *
 *   offset 0                     header, 4096 bytes (dbos_snap_image_header, zero padded; non-zero padding is corruption)
 *   4096                         page 0 .. page N-1, DBOS_PAGE_SIZE bytes each
 *   4096 + N * 4096              page checksum table: N x uint32 CRC32C, one per page
 *   then                         trailer, 64 bytes (dbos_snap_image_trailer)
 *
 * Pages sit at page-aligned offsets so the image can be read with O_DIRECT or mapped.  The
 * header and trailer carry their own CRC32C (computed with the field zeroed); the trailer
 * holds the CRC32C of the checksum table, so one pass proves every byte.
 */
#ifndef DBOS_SNAPSHOT_H
#define DBOS_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/crc32c.h" /* the image checksum */
#include "dbos/platform.h"
#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#define DBOS_SNAP_STATIC_ASSERT static_assert
#else
#define DBOS_SNAP_STATIC_ASSERT _Static_assert
#endif

/* Snapshots of one space alive at once. */
#define DBOS_SNAP_COUNT_MAX 16u
/* Threads registered as writers of one space at once (each holds a dbos_snap_writer). */
#define DBOS_SNAP_WRITER_COUNT_MAX 64u
/* Largest space: 2^30 pages (4 TiB), so frame indexes fit in 32 bits with room to spare. */
#define DBOS_SNAP_PAGE_COUNT_MAX ((uint64_t)1 << 30)

enum dbos_snap_mechanism {
	DBOS_SNAP_AUTO = 0,    /* EPOCH when writers use the barrier, else UFFD_WP, else FORK */
	DBOS_SNAP_EPOCH = 1,   /* epoch copy-on-write behind the write barrier */
	DBOS_SNAP_UFFD_WP = 2, /* userfaultfd write-protect, handler thread copies (host) */
	DBOS_SNAP_FORK = 3,    /* fork(): a child process holds the frozen image (host) */
	DBOS_SNAP_MECHANISM_COUNT
};

/* "epoch", "uffd-wp", "fork" ("auto" for AUTO). */
const char *dbos_snap_mechanism_name(enum dbos_snap_mechanism mechanism);

/*
 * Whether `mechanism` works here (runtime and kernel).  When it does not, *reason_out (may be
 * NULL) says why.  EPOCH works everywhere; UFFD_WP needs userfaultfd with UFFD_FEATURE_PAGEFAULT_FLAG_WP;
 * FORK needs the host runtime.  Cheap after the first call; thread-safe.
 */
bool dbos_snap_mechanism_available(enum dbos_snap_mechanism mechanism, const char **reason_out);

/*
 * The mechanism dbos_snap_space_create picks for `requested` and `flags` (enum
 * dbos_snap_space_flags), and why, as one static line in *reason_out (may be NULL).  It is the
 * one selection: space creation calls it, and dbos_snap_host_mechanism_format describes it.
 * AUTO: EPOCH without DBOS_SNAP_WRITES_RAW, else UFFD_WP where it works, else FORK.
 * DBOS_ENOTSUP when the selected mechanism is unavailable (*selected_out still names it and
 * *reason_out says why), DBOS_EINVAL for an unknown mechanism or flag.
 */
dbos_status dbos_snap_mechanism_select(enum dbos_snap_mechanism requested, uint32_t flags,
				       enum dbos_snap_mechanism *selected_out, const char **reason_out);

/* ---- Spaces ------------------------------------------------------------ */

typedef struct dbos_snap_space dbos_snap_space;
typedef struct dbos_snap_writer dbos_snap_writer;
typedef struct dbos_pt_region dbos_pt_region; /* dbos/pagetable.h */

/* Stops (stop = true) or resumes (stop = false) every thread that writes the space. */
typedef void (*dbos_snap_quiesce_fn)(void *context, bool stop);

enum dbos_snap_space_flags {
	DBOS_SNAP_WRITES_RAW = 1u << 0, /* writers do not use the barrier: AUTO picks UFFD_WP or FORK */
};

typedef struct dbos_snap_space_options {
	void *base;    /* page aligned; the caller's memory (mapped, private anonymous for UFFD_WP) */
	uint64_t size; /* bytes, a multiple of DBOS_PAGE_SIZE */
	/*
	 * Or a @dbos/pagetable region whose pages are all mapped (base and size then come from it).
	 * FORK spaces over a region track dirty pages with the region's dirty tracking (userfaultfd
	 * WP_ASYNC + PAGEMAP_SCAN on the host), which makes dbos_snap_dirty_since work for them.
	 * The space starts and stops that tracking; the caller keeps the region alive.
	 */
	dbos_pt_region *region;
	enum dbos_snap_mechanism mechanism;
	uint32_t flags; /* enum dbos_snap_space_flags */
	dbos_snap_quiesce_fn
		quiesce; /* UFFD_WP and FORK: called around the freezing step; may be NULL (see _quiesce_set) */
	void *quiesce_context;
	/*
	 * EPOCH and UFFD_WP: copy frames kept resident (pre-faulted) ahead of use and between
	 * snapshots, so first writes copy into ready memory instead of faulting fresh pages.
	 * 0: 8192 (32 MiB).  Larger for engines whose writers touch many pages right after a take.
	 */
	uint64_t copy_reserve_pages;
} dbos_snap_space_options;

/*
 * Make a space over [base, base + size).  Commits the bookkeeping tables (a stamp per page, a
 * copy table per snapshot slot, a reference count per copy frame: about 136 bytes per page, which
 * the host backs only when touched and the guest at once); reserves the copy pool and commits it
 * as copies are made.  DBOS_ENOTSUP when the mechanism is unavailable (see
 * dbos_snap_mechanism_available), DBOS_EINVAL for unaligned or empty ranges, DBOS_ERANGE above
 * DBOS_SNAP_PAGE_COUNT_MAX, DBOS_ENOMEM for a UFFD_WP range larger than physical memory (each take
 * builds page tables for the whole range: use FORK).
 */
dbos_status dbos_snap_space_create(const dbos_snap_space_options *options, dbos_snap_space **space_out);

/*
 * Release every live snapshot, stop the mechanism's threads or children and free the
 * bookkeeping.  Writers must have unregistered.  The memory itself stays the caller's.
 */
void dbos_snap_space_destroy(dbos_snap_space *space);

/*
 * Replace the quiesce hook (NULL: none), e.g. when an engine attaches to a space made by
 * someone else (dbos/snapshot_handle.h).  Waits for a take in progress, which finishes with the
 * hook it started with; every later take calls the new one.  The hook runs on the taking thread
 * with the space's take lock held: it must not take, release or set the hook itself.
 */
void dbos_snap_space_quiesce_set(dbos_snap_space *space, dbos_snap_quiesce_fn quiesce, void *context);

enum dbos_snap_mechanism dbos_snap_space_mechanism(const dbos_snap_space *space);
uint8_t *dbos_snap_space_base(const dbos_snap_space *space);
uint64_t dbos_snap_space_page_count(const dbos_snap_space *space);

typedef struct dbos_snap_stats {
	uint32_t snapshots_live;
	uint32_t writers_registered;
	uint64_t epoch;           /* current epoch (EPOCH, UFFD_WP) */
	uint64_t copies_live;     /* pre-image copies held by live snapshots (pages) */
	uint64_t copies_made;     /* pre-image copies made since the space was created */
	uint64_t copy_races_lost; /* writers that found another writer copying the same page */
	uint64_t faults_handled;  /* UFFD_WP write faults served */
	uint64_t snapshots_taken;
} dbos_snap_stats;

void dbos_snap_space_stats(const dbos_snap_space *space, dbos_snap_stats *stats_out);

/* ---- The write barrier (EPOCH) ---------------------------------------- */

/*
 * Each writing thread registers once and keeps its writer.  DBOS_ELIMIT past
 * DBOS_SNAP_WRITER_COUNT_MAX.  A writer is used by one thread at a time.
 */
dbos_status dbos_snap_writer_register(dbos_snap_space *space, dbos_snap_writer **writer_out);
void dbos_snap_writer_unregister(dbos_snap_writer *writer);

/*
 * A write section: between enter and leave the writer may modify any page it has prepared.
 * dbos_snap_take waits for sections that began before it; keep them short (a latch hold).
 * Sections do not nest.
 */
void dbos_snap_writer_enter(dbos_snap_writer *writer);
void dbos_snap_writer_leave(dbos_snap_writer *writer);

/*
 * Call inside a section before the first modification of `page` in that section: if a live
 * snapshot still needs the page's current contents, copy them (once, whichever writer gets
 * there first).  Cheap when nothing is needed (one load and compare).  Returns the live page.
 * DBOS_ENOMEM when the copy pool is exhausted or memory to commit more of it runs out (the
 * write must not proceed); DBOS_ERANGE for a page outside the space.
 */
dbos_status dbos_snap_page_prepare(dbos_snap_writer *writer, uint64_t page, void **page_address_out);

/* The epoch the writer's current section belongs to (0 outside a section). */
uint64_t dbos_snap_writer_epoch(const dbos_snap_writer *writer);

/* enter + prepare one page; then write; then dbos_snap_write_end. */
dbos_status dbos_snap_write_begin(dbos_snap_writer *writer, uint64_t page, void **page_address_out);
void dbos_snap_write_end(dbos_snap_writer *writer);

/*
 * Copy `length` bytes from `source` to offset `offset` of the space in one write section,
 * preparing each page it touches (the bulk form for callers without latches, e.g. JS).
 * Raw mechanisms (UFFD_WP, FORK) copy directly; their protection does the rest.
 */
dbos_status dbos_snap_write_copy(dbos_snap_writer *writer, uint64_t offset, const void *source, uint64_t length);

/* ---- Snapshots ---------------------------------------------------------- */

typedef uint64_t dbos_snap_id;

/*
 * Take a snapshot.  EPOCH: O(1) plus a wait for write sections already in progress.
 * UFFD_WP: quiesce, write-protect the range, resume.  FORK: quiesce, fork, resume.
 * DBOS_ELIMIT when DBOS_SNAP_COUNT_MAX snapshots are live.  Never blocks readers.
 */
dbos_status dbos_snap_take(dbos_snap_space *space, dbos_snap_id *id_out);

/*
 * Release a snapshot: its copies return to the pool.  Waits for write sections in progress
 * (like take), so never call it, or dbos_snap_take, from inside a section of the same thread.
 * DBOS_ECLOSED if already released; DBOS_EBUSY while a read or an image write holds it
 * (dbos_snap_pin).
 */
dbos_status dbos_snap_release(dbos_snap_space *space, dbos_snap_id id);

/* The mechanism, epoch and creation time (dbos_platform_now_ns) of a live snapshot. */
typedef struct dbos_snap_info {
	enum dbos_snap_mechanism mechanism;
	uint64_t epoch;
	uint64_t taken_ns;
	uint64_t take_duration_ns; /* from the request to the snapshot being complete */
	uint64_t copies;           /* pre-image pages this snapshot holds (EPOCH, UFFD_WP) */
} dbos_snap_info;

dbos_status dbos_snap_info_get(dbos_snap_space *space, dbos_snap_id id, dbos_snap_info *info_out);

/*
 * Hold a snapshot for a longer operation (an image write, an iteration): release returns
 * DBOS_EBUSY until unpinned.  DBOS_ECLOSED if released.  Reads pin internally.
 */
dbos_status dbos_snap_pin(dbos_snap_space *space, dbos_snap_id id);
void dbos_snap_unpin(dbos_snap_space *space, dbos_snap_id id);

/* Copy page `page` as it was when the snapshot was taken into `target` (DBOS_PAGE_SIZE bytes). */
dbos_status dbos_snap_page_read(dbos_snap_space *space, dbos_snap_id id, uint64_t page, void *target);

/* Copy `length` bytes at `offset` of the snapshot into `target` (any alignment). */
dbos_status dbos_snap_read(dbos_snap_space *space, dbos_snap_id id, uint64_t offset, uint64_t length, void *target);

/*
 * Pages written since the snapshot was taken: bit i of bitmap (64-bit words, page i at word
 * i / 64, bit i % 64) is set when page i changed.  `word_count` must cover the space.
 * *count_out (may be NULL) receives the number of pages.  Exact for EPOCH and UFFD_WP (a page
 * is reported from its first write); FORK: from the pagetable region's dirty tracking when the
 * space was made over a region with hardware-or-WP_ASYNC tracking, else DBOS_ENOTSUP.
 */
dbos_status dbos_snap_dirty_since(dbos_snap_space *space, dbos_snap_id id, uint64_t *bitmap, uint64_t word_count,
				  uint64_t *count_out);

/* ---- Images --------------------------------------------------------------- */

#define DBOS_SNAP_IMAGE_MAGIC "DBOSSNAP"
#define DBOS_SNAP_IMAGE_TRAILER_MAGIC "DBOSTAIL"
#define DBOS_SNAP_IMAGE_VERSION 1u
#define DBOS_SNAP_IMAGE_HEADER_SIZE 4096u
#define DBOS_SNAP_IMAGE_CHECKSUM_CRC32C 1u

typedef struct dbos_snap_image_header {
	char magic[8];        /* "DBOSSNAP" */
	uint32_t version;     /* DBOS_SNAP_IMAGE_VERSION */
	uint32_t header_size; /* DBOS_SNAP_IMAGE_HEADER_SIZE: pages start here */
	uint32_t page_size;   /* DBOS_PAGE_SIZE */
	uint32_t checksum;    /* DBOS_SNAP_IMAGE_CHECKSUM_CRC32C */
	uint64_t page_count;
	uint64_t epoch;         /* the snapshot's epoch (0 for FORK) */
	uint64_t taken_ns;      /* monotonic time the snapshot was taken */
	uint32_t mechanism;     /* enum dbos_snap_mechanism that took it */
	uint32_t header_crc32c; /* CRC32C of these 56 bytes with this field zero */
} dbos_snap_image_header;

DBOS_SNAP_STATIC_ASSERT(sizeof(dbos_snap_image_header) == 56, "the image header is a 56-byte ABI");

typedef struct dbos_snap_image_trailer {
	char magic[8];           /* "DBOSTAIL" */
	uint64_t page_count;     /* again, so a truncated image is detected */
	uint64_t table_offset;   /* byte offset of the checksum table */
	uint32_t table_crc32c;   /* CRC32C of the whole checksum table */
	uint32_t header_crc32c;  /* the header's, again */
	uint8_t reserved[28];    /* zero */
	uint32_t trailer_crc32c; /* CRC32C of these 64 bytes with this field zero */
} dbos_snap_image_trailer;

DBOS_SNAP_STATIC_ASSERT(sizeof(dbos_snap_image_trailer) == 64, "the image trailer is a 64-byte ABI");

/* Byte size of the image of a space of `page_count` pages; UINT64_MAX when that overflows. */
uint64_t dbos_snap_image_size(uint64_t page_count);

/* ---- Writing images (host) ------------------------------------------------ */

typedef struct dbos_snap_write_options {
	/* Called from the writing thread every ~`progress_interval_bytes` and at the end. */
	void (*on_progress)(void *context, uint64_t bytes_done, uint64_t bytes_total);
	void *progress_context;
	uint64_t progress_interval_bytes; /* 0: 8 MiB */
	bool sync;                        /* fdatasync before returning (default false) */
	/*
	 * Non-zero: stop with DBOS_ECLOSED, the file emptied (may be NULL).  Checked between 1 MiB
	 * buffers; FORK's child finishes its image first, then the write fails the same way.
	 */
	volatile const uint32_t *cancel;
	/*
	 * false (default): produce the image on a thread (FORK: in the child) lowered by
	 * DBOS_SNAP_WRITE_NICE, so writers win CPU contention against the image; true: at the
	 * caller's priority.
	 */
	bool foreground;
} dbos_snap_write_options;

/* How much lower the background image writer runs (Linux nice steps). */
#define DBOS_SNAP_WRITE_NICE 10

/* How dbos_snap_image_write_fd moved the bytes: "gateway:io_uring+O_DIRECT", "gateway:io_uring", "pwrite", ... */
typedef struct dbos_snap_write_result {
	uint64_t bytes_written;
	const char *path; /* static string naming the I/O path */
} dbos_snap_write_result;

/*
 * Stream the snapshot's image to `fd` at offset 0 (the file is truncated to the image size
 * first).  Blocks the calling thread for the duration (run it on a worker thread); writers
 * keep writing.  Pins the snapshot meanwhile.  DBOS_ENOSPC when the device is full (the
 * partial file is truncated to zero), DBOS_EIO for other I/O errors.
 */
dbos_status dbos_snap_image_write_fd(dbos_snap_space *space, dbos_snap_id id, int fd,
				     const dbos_snap_write_options *options, dbos_snap_write_result *result_out);

/*
 * Check an image file: header, every page against its CRC32C, the table and trailer.
 * DBOS_ECORRUPT on any mismatch (*bad_page_out, may be NULL, receives the first bad page or
 * UINT64_MAX when the header, table or trailer is bad), DBOS_EIO on read errors.
 */
dbos_status dbos_snap_image_verify_fd(int fd, dbos_snap_image_header *header_out, uint64_t *bad_page_out);

/*
 * Load an image into the space's memory (a restart from a checkpoint), checking every page
 * against its CRC32C as it arrives.  The image must have the space's page count (DBOS_ERANGE
 * otherwise) and no snapshot may be live (DBOS_EBUSY); writers must be quiet meanwhile.
 * DBOS_ECORRUPT (memory then holds a partial image; *bad_page_out as for verify), DBOS_EIO.
 * Blocks the calling thread for the read.
 */
dbos_status dbos_snap_image_load_fd(dbos_snap_space *space, int fd, dbos_snap_image_header *header_out,
				    uint64_t *bad_page_out);

/* ---- What this runtime selects (host) -------------------------------------- */

/*
 * Host runtime only: the line probe() shows for snapshot.  It names what
 * dbos_snap_mechanism_select picks here for writers that use the barrier (latched pages) and
 * for raw writers, with the reasons, and whether FORK snapshots answer dbos_snap_dirty_since.
 * Writes at most `size` bytes, NUL included; returns the length of the whole line (snprintf's
 * contract).  DBOS_SNAP_MECHANISM_LINE_SIZE always suffices.  Cheap after the first call.
 */
#define DBOS_SNAP_MECHANISM_LINE_SIZE 640u
size_t dbos_snap_host_mechanism_format(char *text, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_SNAPSHOT_H */
