/*
 * snap_cases.h - @dbos/snapshot's conformance cases, written once and run on
 * both runtimes:
 *
 *   host   test/c/test_snap_conformance.c, linked with csrc/ + csrc/host/
 *          (one "ok NAME" line, so one vitest test, per case)
 *   guest  test/guest/snap_conformance.c, entry points of a test guest image
 *          built with csrc/ + csrc/guest/ (test/guest-conformance.test.ts
 *          runs one vitest test per case)
 *
 * A case uses only dbos/snapshot.h and dbos/platform.h (the guest has no
 * libc), returns 0 when every check held, else the line of this file whose
 * check failed.  Where the runtimes differ on purpose (fork and userfaultfd
 * exist only on the host, and userfaultfd write-protect not on every host
 * kernel), the case checks the answer snapshot.h documents for the runtime it
 * runs on (DBOS_ENOTSUP with a reason), so no case is ever skipped.
 *
 * Objects a case creates go into its snap_case_objects; snap_case_run()
 * leaves open write sections, unpins, unregisters writers and destroys the
 * space and its memory whether the case passed or not, so one failure cannot
 * leak into the cases after it in the same guest.
 *
 * The last case, writers_race_snapshots, needs several writers at once: it is
 * not in the table but a set of phases (snap_race_*) that the host runs on
 * threads and the guest on vCPUs (the guest has one engine thread per vCPU).
 */
#ifndef DBOS_SNAP_CASES_H
#define DBOS_SNAP_CASES_H

#include <stdatomic.h>

#include "dbos/platform.h"
#include "dbos/snapshot.h"

/* Writers a case may hold: all of them, for the writer limit. */
#define SNAP_CASE_WRITERS_MAX (DBOS_SNAP_WRITER_COUNT_MAX + 1)
#define SNAP_CASE_WORDS_PER_PAGE (DBOS_PAGE_SIZE / sizeof(uint64_t))

struct snap_case_objects {
	uint8_t *memory; /* the space's pages: reserved and committed through the platform */
	uint64_t memory_size;
	dbos_snap_space *space;
	dbos_snap_writer *writers[SNAP_CASE_WRITERS_MAX];
	dbos_snap_id pinned; /* a pin the case holds (0: none) */
};

typedef int64_t (*snap_case_fn)(struct snap_case_objects *objects);

struct snap_case {
	const char *name;
	snap_case_fn run;
};

/* A failed check ends the case with the line it sits on. */
#define SNAP_CHECK(cond)                 \
	do {                             \
		if (!(cond))             \
			return __LINE__; \
	} while (0)

/* ---- Helpers ------------------------------------------------------------ */

static inline bool snap_case_is_guest(void)
{
	return dbos_platform_runtime() == DBOS_RUNTIME_GUEST;
}

/* A reason: a non-empty string. */
static inline bool snap_case_text(const char *text)
{
	return text != NULL && text[0] != '\0';
}

static inline bool snap_case_same_text(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* Every 8-byte word of a page holds (page << 32) | version: a torn or misplaced page shows. */
static inline uint64_t snap_case_word(uint64_t page, uint64_t version)
{
	return (page << 32) | (version & 0xffffffffu);
}

static inline void snap_case_fill(void *page_bytes, uint64_t page, uint64_t version)
{
	volatile uint64_t *words = page_bytes;
	for (uint64_t i = 0; i < SNAP_CASE_WORDS_PER_PAGE; i++)
		words[i] = snap_case_word(page, version);
}

static inline bool snap_case_page_is(const void *page_bytes, uint64_t page, uint64_t version)
{
	const volatile uint64_t *words = page_bytes;
	for (uint64_t i = 0; i < SNAP_CASE_WORDS_PER_PAGE; i++) {
		if (words[i] != snap_case_word(page, version))
			return false;
	}
	return true;
}

/* The version of a page that is one whole pattern of `page`, or UINT64_MAX. */
static inline uint64_t snap_case_page_version(const void *page_bytes, uint64_t page)
{
	const volatile uint64_t *words = page_bytes;
	uint64_t first = words[0];
	if (first >> 32 != page)
		return UINT64_MAX;
	for (uint64_t i = 1; i < SNAP_CASE_WORDS_PER_PAGE; i++) {
		if (words[i] != first)
			return UINT64_MAX;
	}
	return first & 0xffffffffu;
}

static inline uint8_t *snap_case_live_page(struct snap_case_objects *objects, uint64_t page)
{
	return objects->memory + page * DBOS_PAGE_SIZE;
}

/* Memory for a space of `pages` pages, as an engine gets it: reserved, then committed. */
static inline bool snap_case_memory(struct snap_case_objects *objects, uint64_t pages)
{
	void *address = NULL;
	uint64_t size = pages * DBOS_PAGE_SIZE;
	if (dbos_platform_reserve(size, DBOS_PAGE_SIZE, &address) != DBOS_OK)
		return false;
	if (dbos_platform_commit(address, size, DBOS_PROT_READ_WRITE) != DBOS_OK) {
		dbos_platform_unreserve(address, size);
		return false;
	}
	objects->memory = address;
	objects->memory_size = size;
	return true;
}

/* A space over fresh memory of `pages` pages: dbos_snap_space_create's status (ENOMEM without memory). */
static inline dbos_status snap_case_space(struct snap_case_objects *objects, uint64_t pages,
					  enum dbos_snap_mechanism mechanism, uint32_t flags)
{
	if (!snap_case_memory(objects, pages))
		return DBOS_ENOMEM;
	dbos_snap_space_options options = {
		.base = objects->memory, .size = pages * DBOS_PAGE_SIZE, .mechanism = mechanism, .flags = flags
	};
	return dbos_snap_space_create(&options, &objects->space);
}

/* An EPOCH space of `pages` pages with one writer in writers[0], every page at version 0. */
static inline bool snap_case_epoch_space(struct snap_case_objects *objects, uint64_t pages)
{
	if (snap_case_space(objects, pages, DBOS_SNAP_EPOCH, 0) != DBOS_OK)
		return false;
	if (dbos_snap_writer_register(objects->space, &objects->writers[0]) != DBOS_OK)
		return false;
	for (uint64_t page = 0; page < pages; page++)
		snap_case_fill(snap_case_live_page(objects, page), page, 0); /* no snapshot yet: no barrier needed */
	return true;
}

/* One page write through the barrier: begin, fill with `version`, end. */
static inline bool snap_case_write(dbos_snap_writer *writer, uint64_t page, uint64_t version)
{
	void *address = NULL;
	if (dbos_snap_write_begin(writer, page, &address) != DBOS_OK)
		return false;
	snap_case_fill(address, page, version);
	dbos_snap_write_end(writer);
	return true;
}

/* Page `page` of snapshot `id` is entirely `version`'s pattern. */
static inline bool snap_case_snapshot_page_is(dbos_snap_space *space, dbos_snap_id id, uint64_t page, uint64_t version)
{
	uint64_t words[SNAP_CASE_WORDS_PER_PAGE];
	return dbos_snap_page_read(space, id, page, words) == DBOS_OK && snap_case_page_is(words, page, version);
}

static inline dbos_snap_stats snap_case_stats(dbos_snap_space *space)
{
	dbos_snap_stats stats;
	dbos_snap_space_stats(space, &stats);
	return stats;
}

static inline uint64_t snap_case_copies(dbos_snap_space *space, dbos_snap_id id)
{
	dbos_snap_info info;
	return dbos_snap_info_get(space, id, &info) == DBOS_OK ? info.copies : UINT64_MAX;
}

/* ---- Mechanisms: what each runtime offers ------------------------------------ */

/* EPOCH works on every runtime; the raw mechanisms answer per runtime, with a reason when not. */
static int64_t snap_case_mechanisms_match_the_runtime(struct snap_case_objects *objects)
{
	(void)objects;
	const char *reason = "unset";
	SNAP_CHECK(dbos_snap_mechanism_available(DBOS_SNAP_EPOCH, &reason) && reason == NULL);
	SNAP_CHECK(dbos_snap_mechanism_available(DBOS_SNAP_EPOCH, NULL));
	SNAP_CHECK(!dbos_snap_mechanism_available(DBOS_SNAP_AUTO, &reason) && snap_case_text(reason));
	SNAP_CHECK(!dbos_snap_mechanism_available(DBOS_SNAP_MECHANISM_COUNT, &reason) && snap_case_text(reason));
	const char *uffd_reason = "unset";
	bool uffd = dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, &uffd_reason);
	SNAP_CHECK(uffd ? uffd_reason == NULL : snap_case_text(uffd_reason));
	const char *fork_reason = "unset";
	bool fork = dbos_snap_mechanism_available(DBOS_SNAP_FORK, &fork_reason);
	if (snap_case_is_guest()) {
		/* Not built for the guest (no fork, no userfaultfd): each says why. */
		SNAP_CHECK(!uffd && !fork && snap_case_text(fork_reason));
	} else {
		SNAP_CHECK(dbos_platform_runtime() == DBOS_RUNTIME_HOST);
		SNAP_CHECK(fork && fork_reason == NULL); /* fork() is always there on the host */
	}
	SNAP_CHECK(snap_case_same_text(dbos_snap_mechanism_name(DBOS_SNAP_AUTO), "auto"));
	SNAP_CHECK(snap_case_same_text(dbos_snap_mechanism_name(DBOS_SNAP_EPOCH), "epoch"));
	SNAP_CHECK(snap_case_same_text(dbos_snap_mechanism_name(DBOS_SNAP_UFFD_WP), "uffd-wp"));
	SNAP_CHECK(snap_case_same_text(dbos_snap_mechanism_name(DBOS_SNAP_FORK), "fork"));
	SNAP_CHECK(snap_case_same_text(dbos_snap_mechanism_name(DBOS_SNAP_MECHANISM_COUNT), "unknown"));
	return 0;
}

/* The one selection: AUTO picks EPOCH for barrier writers; raw writers get what the runtime has. */
static int64_t snap_case_select_names_the_choice(struct snap_case_objects *objects)
{
	(void)objects;
	enum dbos_snap_mechanism selected = DBOS_SNAP_MECHANISM_COUNT;
	const char *reason = NULL;
	SNAP_CHECK(dbos_snap_mechanism_select(DBOS_SNAP_AUTO, 0, &selected, &reason) == DBOS_OK);
	SNAP_CHECK(selected == DBOS_SNAP_EPOCH && snap_case_text(reason));
	SNAP_CHECK(dbos_snap_mechanism_select(DBOS_SNAP_EPOCH, DBOS_SNAP_WRITES_RAW, &selected, NULL) == DBOS_OK);
	SNAP_CHECK(selected == DBOS_SNAP_EPOCH); /* named by the caller */
	dbos_status raw = dbos_snap_mechanism_select(DBOS_SNAP_AUTO, DBOS_SNAP_WRITES_RAW, &selected, &reason);
	if (snap_case_is_guest()) {
		/* FORK, the fallback, is selected and refused: the reason is why it is unavailable. */
		SNAP_CHECK(raw == DBOS_ENOTSUP && selected == DBOS_SNAP_FORK && snap_case_text(reason));
		SNAP_CHECK(dbos_snap_mechanism_select(DBOS_SNAP_FORK, 0, &selected, &reason) == DBOS_ENOTSUP);
		SNAP_CHECK(selected == DBOS_SNAP_FORK && snap_case_text(reason));
		SNAP_CHECK(dbos_snap_mechanism_select(DBOS_SNAP_UFFD_WP, 0, &selected, &reason) == DBOS_ENOTSUP);
		SNAP_CHECK(selected == DBOS_SNAP_UFFD_WP && snap_case_text(reason));
	} else {
		bool uffd = dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, NULL);
		SNAP_CHECK(raw == DBOS_OK && snap_case_text(reason));
		SNAP_CHECK(selected == (uffd ? DBOS_SNAP_UFFD_WP : DBOS_SNAP_FORK));
	}
	SNAP_CHECK(dbos_snap_mechanism_select(DBOS_SNAP_MECHANISM_COUNT, 0, &selected, NULL) == DBOS_EINVAL);
	SNAP_CHECK(dbos_snap_mechanism_select(DBOS_SNAP_AUTO, 1u << 1, &selected, NULL) == DBOS_EINVAL);
	SNAP_CHECK(dbos_snap_mechanism_select(DBOS_SNAP_AUTO, 0, NULL, NULL) == DBOS_EINVAL);
	return 0;
}

/*
 * A raw mechanism over memory written without the barrier: where it exists, the snapshot keeps
 * the bytes of its instant while plain stores change memory; where not, creation answers
 * DBOS_ENOTSUP and makes nothing.
 */
static int64_t snap_case_raw_mechanism(struct snap_case_objects *objects, enum dbos_snap_mechanism mechanism)
{
	const uint64_t pages = 16;
	dbos_status created = snap_case_space(objects, pages, mechanism, DBOS_SNAP_WRITES_RAW);
	SNAP_CHECK(objects->memory != NULL);
	if (!dbos_snap_mechanism_available(mechanism, NULL)) {
		SNAP_CHECK(created == DBOS_ENOTSUP && objects->space == NULL);
		return 0;
	}
	SNAP_CHECK(created == DBOS_OK && dbos_snap_space_mechanism(objects->space) == mechanism);
	dbos_snap_space *space = objects->space;
	for (uint64_t page = 0; page < pages; page++)
		snap_case_fill(snap_case_live_page(objects, page), page, 1);
	dbos_snap_id id = 0;
	SNAP_CHECK(dbos_snap_take(space, &id) == DBOS_OK);
	for (uint64_t page = 0; page < pages; page += 3)
		snap_case_fill(snap_case_live_page(objects, page), page, 2); /* plain stores */
	for (uint64_t page = 0; page < pages; page++) {
		SNAP_CHECK(snap_case_snapshot_page_is(space, id, page, 1));
		SNAP_CHECK(snap_case_page_is(snap_case_live_page(objects, page), page, page % 3 == 0 ? 2 : 1));
	}
	dbos_snap_info info;
	SNAP_CHECK(dbos_snap_info_get(space, id, &info) == DBOS_OK && info.mechanism == mechanism);
	uint64_t bitmap[1] = { 0 };
	uint64_t count = 0;
	dbos_status dirty = dbos_snap_dirty_since(space, id, bitmap, 1, &count);
	if (mechanism == DBOS_SNAP_FORK) {
		SNAP_CHECK(dirty == DBOS_ENOTSUP); /* FORK over plain memory has no dirty tracking */
	} else {
		SNAP_CHECK(dirty == DBOS_OK && count == 6 && bitmap[0] == 0x9249u); /* pages 0, 3, ..., 15 */
	}
	SNAP_CHECK(dbos_snap_release(space, id) == DBOS_OK);
	return 0;
}

static int64_t snap_case_fork_freezes_raw_writes(struct snap_case_objects *objects)
{
	return snap_case_raw_mechanism(objects, DBOS_SNAP_FORK);
}

static int64_t snap_case_uffd_wp_freezes_raw_writes(struct snap_case_objects *objects)
{
	return snap_case_raw_mechanism(objects, DBOS_SNAP_UFFD_WP);
}

/* ---- EPOCH: the write barrier's copy-on-write ----------------------------------- */

/* A new space describes itself; AUTO without raw writes is EPOCH; writers count. */
static int64_t snap_case_space_reports_its_shape(struct snap_case_objects *objects)
{
	SNAP_CHECK(snap_case_space(objects, 32, DBOS_SNAP_AUTO, 0) == DBOS_OK);
	dbos_snap_space *space = objects->space;
	SNAP_CHECK(dbos_snap_space_mechanism(space) == DBOS_SNAP_EPOCH);
	SNAP_CHECK(dbos_snap_space_base(space) == objects->memory && dbos_snap_space_page_count(space) == 32);
	dbos_snap_stats stats = snap_case_stats(space);
	SNAP_CHECK(stats.snapshots_live == 0 && stats.writers_registered == 0 && stats.epoch != 0);
	SNAP_CHECK(stats.copies_live == 0 && stats.copies_made == 0 && stats.snapshots_taken == 0);
	SNAP_CHECK(dbos_snap_writer_register(space, &objects->writers[0]) == DBOS_OK);
	SNAP_CHECK(dbos_snap_writer_register(space, &objects->writers[1]) == DBOS_OK);
	SNAP_CHECK(objects->writers[0] != objects->writers[1]);
	SNAP_CHECK(snap_case_stats(space).writers_registered == 2);
	SNAP_CHECK(dbos_snap_writer_epoch(objects->writers[0]) == 0); /* outside a section */
	dbos_snap_writer_enter(objects->writers[0]);
	SNAP_CHECK(dbos_snap_writer_epoch(objects->writers[0]) == stats.epoch);
	dbos_snap_writer_leave(objects->writers[0]);
	dbos_snap_writer_unregister(objects->writers[1]);
	objects->writers[1] = NULL;
	SNAP_CHECK(snap_case_stats(space).writers_registered == 1);
	return 0;
}

/* A snapshot equals memory at its instant, byte for byte, while later writes land in memory. */
static int64_t snap_case_snapshot_equals_memory_at_take(struct snap_case_objects *objects)
{
	const uint64_t pages = 32;
	SNAP_CHECK(snap_case_epoch_space(objects, pages));
	dbos_snap_space *space = objects->space;
	dbos_snap_writer *writer = objects->writers[0];
	for (uint64_t page = 0; page < pages; page++)
		SNAP_CHECK(snap_case_write(writer, page, 1));
	SNAP_CHECK(snap_case_stats(space).copies_made == 0); /* nothing to preserve yet */
	dbos_snap_id first = 0, second = 0;
	SNAP_CHECK(dbos_snap_take(space, &first) == DBOS_OK);
	for (uint64_t page = 0; page < pages; page += 2)
		SNAP_CHECK(snap_case_write(writer, page, 2));
	SNAP_CHECK(dbos_snap_take(space, &second) == DBOS_OK && second != first);
	for (uint64_t page = 0; page < 8; page++)
		SNAP_CHECK(snap_case_write(writer, page, 3));
	for (uint64_t page = 0; page < pages; page++) {
		uint64_t at_second = page % 2 == 0 ? 2 : 1;
		SNAP_CHECK(snap_case_snapshot_page_is(space, first, page, 1));
		SNAP_CHECK(snap_case_snapshot_page_is(space, second, page, at_second));
		SNAP_CHECK(snap_case_page_is(snap_case_live_page(objects, page), page, page < 8 ? 3 : at_second));
	}
	dbos_snap_info one, two;
	SNAP_CHECK(dbos_snap_info_get(space, first, &one) == DBOS_OK);
	SNAP_CHECK(dbos_snap_info_get(space, second, &two) == DBOS_OK);
	SNAP_CHECK(one.mechanism == DBOS_SNAP_EPOCH && two.mechanism == DBOS_SNAP_EPOCH);
	SNAP_CHECK(one.epoch < two.epoch && one.taken_ns <= two.taken_ns);
	/* The first holds every page changed since it (the even ones, then 1, 3, 5, 7 in frames it
	 * shares with the second); the second holds pages 0-7. */
	SNAP_CHECK(one.copies == pages / 2 + 4 && two.copies == 8);
	SNAP_CHECK(snap_case_stats(space).snapshots_taken == 2);
	return 0;
}

/* The bulk write copies across page edges and preserves every page it touches first. */
static int64_t snap_case_write_copy_crosses_pages(struct snap_case_objects *objects)
{
	SNAP_CHECK(snap_case_epoch_space(objects, 8));
	dbos_snap_space *space = objects->space;
	dbos_snap_writer *writer = objects->writers[0];
	dbos_snap_id id = 0;
	SNAP_CHECK(dbos_snap_take(space, &id) == DBOS_OK);
	uint8_t bytes[300];
	for (uint32_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7 + 1);
	uint64_t offset = 3 * DBOS_PAGE_SIZE - 100; /* 100 bytes of page 2, 200 of page 3 */
	SNAP_CHECK(dbos_snap_write_copy(writer, offset, bytes, sizeof(bytes)) == DBOS_OK);
	SNAP_CHECK(__builtin_memcmp(objects->memory + offset, bytes, sizeof(bytes)) == 0);
	SNAP_CHECK(dbos_snap_writer_epoch(writer) == 0); /* the section ended */
	SNAP_CHECK(snap_case_copies(space, id) == 2);
	for (uint64_t page = 0; page < 8; page++)
		SNAP_CHECK(snap_case_snapshot_page_is(space, id, page, 0));
	SNAP_CHECK(dbos_snap_write_copy(writer, 0, NULL, 0) == DBOS_OK); /* empty: a no-op */
	SNAP_CHECK(snap_case_copies(space, id) == 2);
	return 0;
}

/* Snapshots with no write between them share one copy; a write copies once per epoch. */
static int64_t snap_case_snapshots_share_copies(struct snap_case_objects *objects)
{
	SNAP_CHECK(snap_case_epoch_space(objects, 16));
	dbos_snap_space *space = objects->space;
	dbos_snap_writer *writer = objects->writers[0];
	dbos_snap_id first = 0, second = 0, third = 0;
	SNAP_CHECK(dbos_snap_take(space, &first) == DBOS_OK);
	SNAP_CHECK(dbos_snap_take(space, &second) == DBOS_OK);
	SNAP_CHECK(snap_case_write(writer, 7, 1));
	dbos_snap_stats stats = snap_case_stats(space);
	SNAP_CHECK(stats.copies_made == 1 && stats.copies_live == 1); /* one frame, held by both */
	SNAP_CHECK(snap_case_copies(space, first) == 1 && snap_case_copies(space, second) == 1);
	SNAP_CHECK(snap_case_write(writer, 7, 2)); /* the same epoch: no new copy */
	SNAP_CHECK(snap_case_stats(space).copies_made == 1);
	SNAP_CHECK(dbos_snap_take(space, &third) == DBOS_OK);
	SNAP_CHECK(snap_case_write(writer, 7, 3));
	stats = snap_case_stats(space);
	SNAP_CHECK(stats.copies_made == 2 && stats.copies_live == 2 && stats.snapshots_live == 3);
	SNAP_CHECK(snap_case_snapshot_page_is(space, first, 7, 0));
	SNAP_CHECK(snap_case_snapshot_page_is(space, second, 7, 0));
	SNAP_CHECK(snap_case_snapshot_page_is(space, third, 7, 2));
	SNAP_CHECK(snap_case_page_is(snap_case_live_page(objects, 7), 7, 3));
	/* A section that prepares the page twice copies it once. */
	dbos_snap_id fourth = 0;
	SNAP_CHECK(dbos_snap_take(space, &fourth) == DBOS_OK);
	void *address = NULL;
	dbos_snap_writer_enter(writer);
	SNAP_CHECK(dbos_snap_page_prepare(writer, 7, &address) == DBOS_OK);
	SNAP_CHECK(dbos_snap_page_prepare(writer, 7, NULL) == DBOS_OK);
	snap_case_fill(address, 7, 4);
	dbos_snap_writer_leave(writer);
	SNAP_CHECK(address == snap_case_live_page(objects, 7));
	SNAP_CHECK(snap_case_stats(space).copies_made == 3 && snap_case_snapshot_page_is(space, fourth, 7, 3));
	return 0;
}

/* Release returns a snapshot's copies; a frame shared with a live snapshot stays. */
static int64_t snap_case_release_returns_copies(struct snap_case_objects *objects)
{
	const uint64_t pages = 16;
	SNAP_CHECK(snap_case_epoch_space(objects, pages));
	dbos_snap_space *space = objects->space;
	dbos_snap_writer *writer = objects->writers[0];
	dbos_snap_id first = 0, second = 0;
	SNAP_CHECK(dbos_snap_take(space, &first) == DBOS_OK);
	for (uint64_t page = 0; page < 4; page++)
		SNAP_CHECK(snap_case_write(writer, page, 1));
	SNAP_CHECK(dbos_snap_take(space, &second) == DBOS_OK);
	for (uint64_t page = 0; page < pages; page++)
		SNAP_CHECK(snap_case_write(writer, page, 2));
	/* first: pages 0-3 at version 0 plus 4-15 shared with second; second: pages 0-3 at version 1. */
	SNAP_CHECK(snap_case_copies(space, first) == pages && snap_case_copies(space, second) == pages);
	SNAP_CHECK(snap_case_stats(space).copies_live == pages + 4);
	SNAP_CHECK(dbos_snap_release(space, second) == DBOS_OK);
	dbos_snap_stats stats = snap_case_stats(space);
	SNAP_CHECK(stats.copies_live == pages && stats.snapshots_live == 1);
	for (uint64_t page = 0; page < pages; page++)
		SNAP_CHECK(snap_case_snapshot_page_is(space, first, page, 0));
	SNAP_CHECK(dbos_snap_release(space, first) == DBOS_OK);
	stats = snap_case_stats(space);
	SNAP_CHECK(stats.copies_live == 0 && stats.snapshots_live == 0 && stats.copies_made == pages + 4);
	/* The pool is whole again: a new snapshot copies as the first did. */
	dbos_snap_id third = 0;
	SNAP_CHECK(dbos_snap_take(space, &third) == DBOS_OK);
	for (uint64_t page = 0; page < pages; page++)
		SNAP_CHECK(snap_case_write(writer, page, 3));
	SNAP_CHECK(snap_case_copies(space, third) == pages && snap_case_stats(space).copies_live == pages);
	for (uint64_t page = 0; page < pages; page++)
		SNAP_CHECK(snap_case_snapshot_page_is(space, third, page, 2));
	return 0;
}

/* Every call on a released id answers DBOS_ECLOSED; ids are not reused; foreign ids are invalid. */
static int64_t snap_case_released_ids_are_closed(struct snap_case_objects *objects)
{
	SNAP_CHECK(snap_case_epoch_space(objects, 4));
	dbos_snap_space *space = objects->space;
	dbos_snap_id id = 0, next = 0;
	SNAP_CHECK(dbos_snap_take(space, &id) == DBOS_OK);
	SNAP_CHECK(dbos_snap_release(space, id) == DBOS_OK);
	uint64_t words[SNAP_CASE_WORDS_PER_PAGE];
	dbos_snap_info info;
	uint64_t bitmap[1];
	SNAP_CHECK(dbos_snap_release(space, id) == DBOS_ECLOSED);
	SNAP_CHECK(dbos_snap_info_get(space, id, &info) == DBOS_ECLOSED);
	SNAP_CHECK(dbos_snap_page_read(space, id, 0, words) == DBOS_ECLOSED);
	SNAP_CHECK(dbos_snap_read(space, id, 0, 8, words) == DBOS_ECLOSED);
	SNAP_CHECK(dbos_snap_dirty_since(space, id, bitmap, 1, NULL) == DBOS_ECLOSED);
	SNAP_CHECK(dbos_snap_pin(space, id) == DBOS_ECLOSED);
	/* The freed slot is taken again under a new generation: the old id stays closed. */
	SNAP_CHECK(dbos_snap_take(space, &next) == DBOS_OK && next != id);
	SNAP_CHECK(dbos_snap_info_get(space, id, &info) == DBOS_ECLOSED);
	SNAP_CHECK(dbos_snap_info_get(space, next, &info) == DBOS_OK);
	/* Ids that no take made: generation 0, a slot past the limit. */
	SNAP_CHECK(dbos_snap_release(space, 0) == DBOS_EINVAL);
	SNAP_CHECK(dbos_snap_info_get(space, (1u << 8) | DBOS_SNAP_COUNT_MAX, &info) == DBOS_EINVAL);
	SNAP_CHECK(dbos_snap_pin(space, 0) == DBOS_EINVAL);
	return 0;
}

/* A pin holds a snapshot against release; reads go on meanwhile. */
static int64_t snap_case_pins_hold_a_snapshot(struct snap_case_objects *objects)
{
	SNAP_CHECK(snap_case_epoch_space(objects, 4));
	dbos_snap_space *space = objects->space;
	dbos_snap_id id = 0;
	SNAP_CHECK(dbos_snap_take(space, &id) == DBOS_OK);
	SNAP_CHECK(dbos_snap_pin(space, id) == DBOS_OK);
	objects->pinned = id;
	SNAP_CHECK(dbos_snap_release(space, id) == DBOS_EBUSY);
	SNAP_CHECK(snap_case_write(objects->writers[0], 1, 1));
	SNAP_CHECK(snap_case_snapshot_page_is(space, id, 1, 0));
	dbos_snap_unpin(space, id);
	objects->pinned = 0;
	SNAP_CHECK(dbos_snap_release(space, id) == DBOS_OK);
	return 0;
}

/* Pages written since a snapshot: exact, words past the space zeroed, a short bitmap refused. */
static int64_t snap_case_dirty_since_is_exact(struct snap_case_objects *objects)
{
	const uint64_t pages = 130; /* three words, the last one partial */
	SNAP_CHECK(snap_case_epoch_space(objects, pages));
	dbos_snap_space *space = objects->space;
	dbos_snap_writer *writer = objects->writers[0];
	dbos_snap_id first = 0, second = 0;
	SNAP_CHECK(dbos_snap_take(space, &first) == DBOS_OK);
	static const uint64_t before[] = { 0, 5, 64, 129 };
	for (uint32_t i = 0; i < 4; i++)
		SNAP_CHECK(snap_case_write(writer, before[i], 1));
	SNAP_CHECK(dbos_snap_take(space, &second) == DBOS_OK);
	SNAP_CHECK(snap_case_write(writer, 5, 2) && snap_case_write(writer, 6, 2));
	uint64_t bitmap[4] = { ~0ull, ~0ull, ~0ull, ~0ull };
	uint64_t count = 0;
	SNAP_CHECK(dbos_snap_dirty_since(space, first, bitmap, 4, &count) == DBOS_OK && count == 5);
	SNAP_CHECK(bitmap[0] == ((1ull << 0) | (1ull << 5) | (1ull << 6)) && bitmap[1] == 1ull);
	SNAP_CHECK(bitmap[2] == (1ull << 1) && bitmap[3] == 0);
	SNAP_CHECK(dbos_snap_dirty_since(space, second, bitmap, 3, NULL) == DBOS_OK);
	SNAP_CHECK(bitmap[0] == ((1ull << 5) | (1ull << 6)) && bitmap[1] == 0 && bitmap[2] == 0);
	SNAP_CHECK(dbos_snap_dirty_since(space, second, bitmap, 2, &count) == DBOS_EINVAL);
	SNAP_CHECK(dbos_snap_dirty_since(space, second, NULL, 3, &count) == DBOS_EINVAL);
	return 0;
}

/* dbos_snap_read: any offset and length inside the space, refusals outside it. */
static int64_t snap_case_read_any_range(struct snap_case_objects *objects)
{
	const uint64_t pages = 4;
	SNAP_CHECK(snap_case_epoch_space(objects, pages));
	dbos_snap_space *space = objects->space;
	dbos_snap_id id = 0;
	SNAP_CHECK(dbos_snap_take(space, &id) == DBOS_OK);
	for (uint64_t page = 0; page < pages; page++)
		SNAP_CHECK(snap_case_write(objects->writers[0], page, 1));
	/* 200 bytes across the edge of pages 0 and 1, starting inside a word. */
	uint8_t bytes[200];
	uint64_t offset = DBOS_PAGE_SIZE - 101;
	SNAP_CHECK(dbos_snap_read(space, id, offset, sizeof(bytes), bytes) == DBOS_OK);
	for (uint64_t i = 0; i < sizeof(bytes); i++) {
		uint64_t at = offset + i;
		uint64_t word = snap_case_word(at / DBOS_PAGE_SIZE, 0);
		SNAP_CHECK(bytes[i] == (uint8_t)(word >> (8 * (at % 8))));
	}
	/* Whole pages at a page offset: the copies, not the live pages. */
	uint64_t words[2 * SNAP_CASE_WORDS_PER_PAGE];
	SNAP_CHECK(dbos_snap_read(space, id, 2 * DBOS_PAGE_SIZE, 2 * DBOS_PAGE_SIZE, words) == DBOS_OK);
	SNAP_CHECK(snap_case_page_is(words, 2, 0) && snap_case_page_is(words + SNAP_CASE_WORDS_PER_PAGE, 3, 0));
	uint64_t size = pages * DBOS_PAGE_SIZE;
	SNAP_CHECK(dbos_snap_read(space, id, size, 0, NULL) == DBOS_OK); /* empty at the end */
	SNAP_CHECK(dbos_snap_read(space, id, size - 8, 16, words) == DBOS_ERANGE);
	SNAP_CHECK(dbos_snap_read(space, id, size + 1, 0, words) == DBOS_ERANGE);
	SNAP_CHECK(dbos_snap_read(space, id, 8, UINT64_MAX, words) == DBOS_ERANGE); /* offset + length wraps */
	SNAP_CHECK(dbos_snap_read(space, id, 0, 8, NULL) == DBOS_EINVAL);
	SNAP_CHECK(dbos_snap_page_read(space, id, pages, words) == DBOS_ERANGE);
	SNAP_CHECK(dbos_snap_page_read(space, id, 0, NULL) == DBOS_EINVAL);
	return 0;
}

/* At most DBOS_SNAP_COUNT_MAX snapshots live at once; a release makes room again. */
static int64_t snap_case_snapshot_count_limit(struct snap_case_objects *objects)
{
	SNAP_CHECK(snap_case_epoch_space(objects, 4));
	dbos_snap_space *space = objects->space;
	dbos_snap_id ids[DBOS_SNAP_COUNT_MAX];
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++) {
		SNAP_CHECK(dbos_snap_take(space, &ids[i]) == DBOS_OK);
		SNAP_CHECK(snap_case_write(objects->writers[0], i % 4, i + 1));
	}
	dbos_snap_id extra = 0;
	SNAP_CHECK(dbos_snap_take(space, &extra) == DBOS_ELIMIT && extra == 0);
	SNAP_CHECK(snap_case_stats(space).snapshots_live == DBOS_SNAP_COUNT_MAX);
	/* Each kept the version its page had at its take. */
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++) {
		uint64_t version = i >= 4 ? i - 3 : 0; /* the write of round i - 4 */
		SNAP_CHECK(snap_case_snapshot_page_is(space, ids[i], i % 4, version));
	}
	SNAP_CHECK(dbos_snap_release(space, ids[5]) == DBOS_OK);
	SNAP_CHECK(dbos_snap_take(space, &extra) == DBOS_OK);
	return 0;
}

/* At most DBOS_SNAP_WRITER_COUNT_MAX writers; unregistering makes room again. */
static int64_t snap_case_writer_count_limit(struct snap_case_objects *objects)
{
	SNAP_CHECK(snap_case_space(objects, 4, DBOS_SNAP_EPOCH, 0) == DBOS_OK);
	dbos_snap_space *space = objects->space;
	for (uint32_t i = 0; i < DBOS_SNAP_WRITER_COUNT_MAX; i++)
		SNAP_CHECK(dbos_snap_writer_register(space, &objects->writers[i]) == DBOS_OK);
	dbos_snap_writer *extra = NULL;
	SNAP_CHECK(dbos_snap_writer_register(space, &extra) == DBOS_ELIMIT && extra == NULL);
	SNAP_CHECK(snap_case_stats(space).writers_registered == DBOS_SNAP_WRITER_COUNT_MAX);
	dbos_snap_writer_unregister(objects->writers[9]);
	objects->writers[9] = NULL;
	SNAP_CHECK(dbos_snap_writer_register(space, &objects->writers[DBOS_SNAP_WRITER_COUNT_MAX]) == DBOS_OK);
	SNAP_CHECK(dbos_snap_writer_register(NULL, &extra) == DBOS_EINVAL);
	SNAP_CHECK(dbos_snap_writer_register(space, NULL) == DBOS_EINVAL);
	return 0;
}

/* Space options that cannot make a space are refused with the code snapshot.h names. */
static int64_t snap_case_bad_space_options(struct snap_case_objects *objects)
{
	SNAP_CHECK(snap_case_memory(objects, 4));
	dbos_snap_space *space = NULL;
	dbos_snap_space_options options = { .base = objects->memory, .size = 4 * DBOS_PAGE_SIZE };
	SNAP_CHECK(dbos_snap_space_create(NULL, &space) == DBOS_EINVAL);
	SNAP_CHECK(dbos_snap_space_create(&options, NULL) == DBOS_EINVAL);
	options.size = 0;
	SNAP_CHECK(dbos_snap_space_create(&options, &space) == DBOS_EINVAL);
	options.size = DBOS_PAGE_SIZE + 1;
	SNAP_CHECK(dbos_snap_space_create(&options, &space) == DBOS_EINVAL);
	options.size = DBOS_PAGE_SIZE;
	options.base = objects->memory + 64;
	SNAP_CHECK(dbos_snap_space_create(&options, &space) == DBOS_EINVAL);
	options.base = NULL;
	SNAP_CHECK(dbos_snap_space_create(&options, &space) == DBOS_EINVAL);
	options.base = objects->memory;
	options.mechanism = DBOS_SNAP_MECHANISM_COUNT;
	SNAP_CHECK(dbos_snap_space_create(&options, &space) == DBOS_EINVAL);
	options.mechanism = DBOS_SNAP_EPOCH;
	options.flags = 1u << 1;
	SNAP_CHECK(dbos_snap_space_create(&options, &space) == DBOS_EINVAL);
	options.flags = 0;
	/* One page past the largest space: refused before any memory is looked at. */
	options.size = (DBOS_SNAP_PAGE_COUNT_MAX + 1) * DBOS_PAGE_SIZE;
	SNAP_CHECK(dbos_snap_space_create(&options, &space) == DBOS_ERANGE);
	SNAP_CHECK(space == NULL);
	return 0;
}

/* Out-of-range pages and missing arguments are refused and change nothing. */
static int64_t snap_case_bad_arguments_change_nothing(struct snap_case_objects *objects)
{
	const uint64_t pages = 8;
	SNAP_CHECK(snap_case_epoch_space(objects, pages));
	dbos_snap_space *space = objects->space;
	dbos_snap_writer *writer = objects->writers[0];
	dbos_snap_id id = 0;
	SNAP_CHECK(dbos_snap_take(space, &id) == DBOS_OK);
	void *address = NULL;
	dbos_snap_writer_enter(writer);
	SNAP_CHECK(dbos_snap_page_prepare(writer, pages, &address) == DBOS_ERANGE && address == NULL);
	dbos_snap_writer_leave(writer);
	/* A refused write_begin leaves no section open. */
	SNAP_CHECK(dbos_snap_write_begin(writer, pages, &address) == DBOS_ERANGE);
	SNAP_CHECK(dbos_snap_writer_epoch(writer) == 0);
	uint8_t bytes[2] = { 1, 2 };
	uint64_t size = pages * DBOS_PAGE_SIZE;
	SNAP_CHECK(dbos_snap_write_copy(writer, size - 1, bytes, 2) == DBOS_ERANGE);
	SNAP_CHECK(dbos_snap_write_copy(writer, size + 1, bytes, 0) == DBOS_ERANGE);
	SNAP_CHECK(dbos_snap_write_copy(writer, 8, bytes, UINT64_MAX) == DBOS_ERANGE);
	SNAP_CHECK(dbos_snap_write_copy(writer, 0, NULL, 1) == DBOS_EINVAL);
	dbos_snap_id unused = 0;
	SNAP_CHECK(dbos_snap_take(NULL, &unused) == DBOS_EINVAL && dbos_snap_take(space, NULL) == DBOS_EINVAL);
	SNAP_CHECK(dbos_snap_info_get(space, id, NULL) == DBOS_EINVAL);
	dbos_snap_stats stats = snap_case_stats(space);
	SNAP_CHECK(stats.copies_made == 0 && stats.snapshots_taken == 1 && stats.snapshots_live == 1);
	for (uint64_t page = 0; page < pages; page++)
		SNAP_CHECK(snap_case_page_is(snap_case_live_page(objects, page), page, 0));
	return 0;
}

/*
 * A space whose worst-case copy pool (DBOS_SNAP_COUNT_MAX copies of every page, 64 MiB here)
 * is as large as the guest test's whole memory: creation must not commit the pool up front,
 * only the copies writers make.
 */
static int64_t snap_case_large_space_commits_only_copies(struct snap_case_objects *objects)
{
	const uint64_t pages = 1024; /* 4 MiB */
	SNAP_CHECK(snap_case_epoch_space(objects, pages));
	dbos_snap_space *space = objects->space;
	dbos_snap_writer *writer = objects->writers[0];
	for (uint32_t round = 1; round <= 2; round++) {
		dbos_snap_id id = 0;
		SNAP_CHECK(dbos_snap_take(space, &id) == DBOS_OK);
		for (uint64_t page = 0; page < pages; page++)
			SNAP_CHECK(snap_case_write(writer, page, round));
		SNAP_CHECK(snap_case_copies(space, id) == pages);
		for (uint64_t page = 0; page < pages; page += 97)
			SNAP_CHECK(snap_case_snapshot_page_is(space, id, page, round - 1));
		SNAP_CHECK(dbos_snap_release(space, id) == DBOS_OK);
		SNAP_CHECK(snap_case_stats(space).copies_live == 0);
	}
	return 0;
}

/* ---- Images: the checksum and the layout --------------------------------------- */

/* CRC32C answers the known vectors (RFC 3720 B.4, "123456789") in one call or many, any alignment. */
static int64_t snap_case_crc32c_known_answers(struct snap_case_objects *objects)
{
	(void)objects;
	static const char digits[] = "123456789";
	SNAP_CHECK(dbos_crc32c(0, digits, 9) == 0xE3069283u);
	SNAP_CHECK(dbos_crc32c(dbos_crc32c(0, digits, 4), digits + 4, 5) == 0xE3069283u);
	SNAP_CHECK(dbos_crc32c(0, digits, 0) == 0);
	uint8_t block[32 + 8];
	__builtin_memset(block, 0, sizeof(block));
	SNAP_CHECK(dbos_crc32c(0, block, 32) == 0x8A9136AAu);
	__builtin_memset(block, 0xff, sizeof(block));
	SNAP_CHECK(dbos_crc32c(0, block, 32) == 0x62A8AB43u);
	for (uint32_t shift = 0; shift < 8; shift++) {
		for (uint32_t i = 0; i < 32; i++)
			block[shift + i] = (uint8_t)i;
		SNAP_CHECK(dbos_crc32c(0, block + shift, 32) == 0x46DD794Eu);
		for (uint32_t i = 0; i < 32; i++)
			block[shift + i] = (uint8_t)(31 - i);
		SNAP_CHECK(dbos_crc32c(0, block + shift, 32) == 0x113FDB5Cu);
	}
	/* A page in one call equals the page in odd pieces. */
	uint8_t page[DBOS_PAGE_SIZE];
	for (uint32_t i = 0; i < DBOS_PAGE_SIZE; i++)
		page[i] = (uint8_t)(i * 131 + (i >> 8));
	uint32_t whole = dbos_crc32c(0, page, DBOS_PAGE_SIZE);
	uint32_t pieces = dbos_crc32c(dbos_crc32c(dbos_crc32c(0, page, 3), page + 3, 1000), page + 1003, 3093);
	SNAP_CHECK(whole == pieces);
	return 0;
}

/* Image sizes: header, pages, one CRC per page, trailer; saturating where a count would wrap. */
static int64_t snap_case_image_layout(struct snap_case_objects *objects)
{
	(void)objects;
	const uint64_t fixed = DBOS_SNAP_IMAGE_HEADER_SIZE + sizeof(dbos_snap_image_trailer);
	const uint64_t per_page = DBOS_PAGE_SIZE + sizeof(uint32_t);
	SNAP_CHECK(sizeof(dbos_snap_image_header) == 56 && sizeof(dbos_snap_image_trailer) == 64);
	SNAP_CHECK(DBOS_SNAP_IMAGE_HEADER_SIZE % DBOS_PAGE_SIZE == 0); /* pages stay page aligned */
	SNAP_CHECK(dbos_snap_image_size(0) == fixed);
	SNAP_CHECK(dbos_snap_image_size(1) == fixed + per_page);
	SNAP_CHECK(dbos_snap_image_size(DBOS_SNAP_PAGE_COUNT_MAX) == fixed + DBOS_SNAP_PAGE_COUNT_MAX * per_page);
	uint64_t largest = (UINT64_MAX - fixed) / per_page;
	SNAP_CHECK(dbos_snap_image_size(largest) == fixed + largest * per_page);
	SNAP_CHECK(dbos_snap_image_size(largest + 1) == UINT64_MAX);
	SNAP_CHECK(dbos_snap_image_size(UINT64_MAX) == UINT64_MAX);
	return 0;
}

/* ---- The table --------------------------------------------------------- */

#define SNAP_CASE(name)                 \
	{                               \
#name, snap_case_##name \
	}

static const struct snap_case snap_cases[] = {
	SNAP_CASE(mechanisms_match_the_runtime),
	SNAP_CASE(select_names_the_choice),
	SNAP_CASE(fork_freezes_raw_writes),
	SNAP_CASE(uffd_wp_freezes_raw_writes),
	SNAP_CASE(space_reports_its_shape),
	SNAP_CASE(snapshot_equals_memory_at_take),
	SNAP_CASE(write_copy_crosses_pages),
	SNAP_CASE(snapshots_share_copies),
	SNAP_CASE(release_returns_copies),
	SNAP_CASE(released_ids_are_closed),
	SNAP_CASE(pins_hold_a_snapshot),
	SNAP_CASE(dirty_since_is_exact),
	SNAP_CASE(read_any_range),
	SNAP_CASE(snapshot_count_limit),
	SNAP_CASE(writer_count_limit),
	SNAP_CASE(bad_space_options),
	SNAP_CASE(bad_arguments_change_nothing),
	SNAP_CASE(large_space_commits_only_copies),
	SNAP_CASE(crc32c_known_answers),
	SNAP_CASE(image_layout),
};

#define SNAP_CASE_COUNT (sizeof(snap_cases) / sizeof(snap_cases[0]))

/* Undo whatever a case left: open sections, a pin, writers, the space, its memory. */
static inline void snap_case_objects_free(struct snap_case_objects *objects)
{
	for (uint32_t i = 0; i < SNAP_CASE_WRITERS_MAX; i++) {
		dbos_snap_writer *writer = objects->writers[i];
		if (!writer)
			continue;
		if (dbos_snap_writer_epoch(writer) != 0)
			dbos_snap_writer_leave(writer);
		dbos_snap_writer_unregister(writer);
	}
	if (objects->pinned)
		dbos_snap_unpin(objects->space, objects->pinned);
	dbos_snap_space_destroy(objects->space);
	if (objects->memory)
		dbos_platform_unreserve(objects->memory, objects->memory_size);
}

/* Run case `index` and destroy what it made: 0, or the line of the failed check. */
static inline int64_t snap_case_run(uint64_t index)
{
	DBOS_ASSERT(index < SNAP_CASE_COUNT);
	struct snap_case_objects objects;
	__builtin_memset(&objects, 0, sizeof(objects));
	int64_t result = snap_cases[index].run(&objects);
	snap_case_objects_free(&objects);
	return result;
}

/* ---- writers_race_snapshots: several writers at once ------------------------------ */

/*
 * SNAP_RACE_WRITERS writers rewrite their own pages (page % SNAP_RACE_WRITERS == writer) through
 * the barrier, without pause, while the taker takes SNAP_RACE_ROUNDS snapshots and keeps them
 * all.  Each snapshot must equal memory at its instant: page p holds the last version written in
 * an epoch before the snapshot's (writers record, per page and epoch, the last version they
 * wrote).  Checked right after each take while the writers go on, and again once they stopped.
 *
 * Phases, each an entry point on the guest and a function on the host:
 *   setup          one thread: the space, every page at version 0, the writers registered
 *   writer(i)      SNAP_RACE_WRITERS threads or vCPUs at once, until the taker says stop
 *   taker          one more thread or vCPU, at the same time; always says stop when it returns
 *   finish         after all of them returned: the final checks, then everything is freed
 */
#define SNAP_RACE_NAME "writers_race_snapshots"
#define SNAP_RACE_WRITERS 2u
#define SNAP_RACE_PAGES 64u
#define SNAP_RACE_ROUNDS 12u
/* Writers are pinned at epochs 1 .. SNAP_RACE_ROUNDS + 1 (one take bumps the epoch by one). */
#define SNAP_RACE_EPOCHS (SNAP_RACE_ROUNDS + 2u)
/* Writes between two takes, so that every snapshot differs from the one before. */
#define SNAP_RACE_WRITES_PER_ROUND 64u
/* No phase waits longer for another than this. */
#define SNAP_RACE_TIMEOUT_NS ((uint64_t)30 * 1000 * 1000 * 1000)

_Static_assert(SNAP_RACE_WRITERS + 1 <= SNAP_CASE_WRITERS_MAX, "the writers fit the case's objects");
_Static_assert(SNAP_RACE_ROUNDS < DBOS_SNAP_COUNT_MAX, "every snapshot stays live until the end");

struct snap_race {
	struct snap_case_objects objects;
	_Atomic uint32_t stop;
	_Atomic uint32_t writers_ready;
	_Atomic uint64_t writes;
	_Atomic uint64_t version[SNAP_RACE_PAGES];
	_Atomic uint64_t epoch_version[SNAP_RACE_PAGES][SNAP_RACE_EPOCHS]; /* 0: none in that epoch */
	dbos_snap_id ids[SNAP_RACE_ROUNDS];
	uint64_t epochs[SNAP_RACE_ROUNDS];
	uint32_t taken;
};

/* One race at a time: static, so guest vCPUs share it like host threads do. */
static struct snap_race snap_race_state;

static inline int64_t snap_race_setup(void)
{
	struct snap_race *race = &snap_race_state;
	__builtin_memset(race, 0, sizeof(*race));
	SNAP_CHECK(snap_case_epoch_space(&race->objects, SNAP_RACE_PAGES));
	for (uint32_t i = 1; i < SNAP_RACE_WRITERS; i++)
		SNAP_CHECK(dbos_snap_writer_register(race->objects.space, &race->objects.writers[i]) == DBOS_OK);
	return 0;
}

static inline bool snap_race_timed_out(uint64_t started_ns)
{
	return dbos_platform_now_ns() - started_ns > SNAP_RACE_TIMEOUT_NS;
}

/* Writer `index`: rewrite its pages, recording each version under its section's epoch. */
static inline int64_t snap_race_writer(uint64_t index)
{
	struct snap_race *race = &snap_race_state;
	SNAP_CHECK(index < SNAP_RACE_WRITERS);
	dbos_snap_writer *writer = race->objects.writers[index];
	SNAP_CHECK(writer != NULL); /* setup made it */
	uint64_t started_ns = dbos_platform_now_ns();
	atomic_fetch_add(&race->writers_ready, 1);
	for (uint64_t page = index; !atomic_load(&race->stop); page += SNAP_RACE_WRITERS) {
		SNAP_CHECK(!snap_race_timed_out(started_ns)); /* the taker never said stop */
		page %= SNAP_RACE_PAGES;
		uint64_t version = atomic_load(&race->version[page]) + 1;
		void *address = NULL;
		SNAP_CHECK(dbos_snap_write_begin(writer, page, &address) == DBOS_OK);
		uint64_t epoch = dbos_snap_writer_epoch(writer);
		snap_case_fill(address, page, version);
		atomic_store(&race->version[page], version);
		bool recorded = epoch < SNAP_RACE_EPOCHS;
		if (recorded)
			atomic_store(&race->epoch_version[page][epoch], version);
		dbos_snap_write_end(writer);
		SNAP_CHECK(recorded);
		atomic_fetch_add(&race->writes, 1);
	}
	return 0;
}

/* Snapshot `round` holds, on every page, the last version written before its epoch. */
static inline int64_t snap_race_check(uint32_t round)
{
	struct snap_race *race = &snap_race_state;
	uint64_t words[SNAP_CASE_WORDS_PER_PAGE];
	for (uint64_t page = 0; page < SNAP_RACE_PAGES; page++) {
		uint64_t expected = 0;
		for (uint64_t epoch = 0; epoch < race->epochs[round]; epoch++) {
			uint64_t version = atomic_load(&race->epoch_version[page][epoch]);
			expected = version > expected ? version : expected;
		}
		SNAP_CHECK(dbos_snap_page_read(race->objects.space, race->ids[round], page, words) == DBOS_OK);
		SNAP_CHECK(snap_case_page_version(words, page) == expected);
	}
	return 0;
}

static inline int64_t snap_race_take_rounds(void)
{
	struct snap_race *race = &snap_race_state;
	uint64_t started_ns = dbos_platform_now_ns();
	while (atomic_load(&race->writers_ready) < SNAP_RACE_WRITERS)
		SNAP_CHECK(!snap_race_timed_out(started_ns));
	for (uint32_t round = 0; round < SNAP_RACE_ROUNDS; round++) {
		uint64_t writes = atomic_load(&race->writes);
		while (atomic_load(&race->writes) < writes + SNAP_RACE_WRITES_PER_ROUND)
			SNAP_CHECK(!snap_race_timed_out(started_ns));
		dbos_snap_info info;
		SNAP_CHECK(dbos_snap_take(race->objects.space, &race->ids[round]) == DBOS_OK);
		race->taken = round + 1;
		SNAP_CHECK(dbos_snap_info_get(race->objects.space, race->ids[round], &info) == DBOS_OK);
		/* Each take opens a newer epoch, within those the writers can record. */
		SNAP_CHECK(info.epoch > (round ? race->epochs[round - 1] : 0) && info.epoch < SNAP_RACE_EPOCHS);
		race->epochs[round] = info.epoch;
		int64_t line = snap_race_check(round); /* while the writers go on */
		if (line != 0)
			return line;
	}
	return 0;
}

/* The taker: every round, then stop, whatever happened. */
static inline int64_t snap_race_taker(void)
{
	int64_t line = snap_race_take_rounds();
	atomic_store(&snap_race_state.stop, 1);
	return line;
}

static inline int64_t snap_race_final_checks(void)
{
	struct snap_race *race = &snap_race_state;
	SNAP_CHECK(race->taken == SNAP_RACE_ROUNDS);
	for (uint32_t round = 0; round < SNAP_RACE_ROUNDS; round++) {
		int64_t line = snap_race_check(round);
		if (line != 0)
			return line;
		SNAP_CHECK(snap_case_copies(race->objects.space, race->ids[round]) > 0);
	}
	for (uint64_t page = 0; page < SNAP_RACE_PAGES; page++) {
		uint8_t *live = snap_case_live_page(&race->objects, page);
		SNAP_CHECK(snap_case_page_version(live, page) == atomic_load(&race->version[page]));
	}
	for (uint32_t round = 0; round < SNAP_RACE_ROUNDS; round++)
		SNAP_CHECK(dbos_snap_release(race->objects.space, race->ids[round]) == DBOS_OK);
	dbos_snap_stats stats = snap_case_stats(race->objects.space);
	SNAP_CHECK(stats.snapshots_live == 0 && stats.copies_live == 0 && stats.copies_made > 0);
	return 0;
}

/* After every writer and the taker returned: the final checks, then free it all. */
static inline int64_t snap_race_finish(void)
{
	struct snap_race *race = &snap_race_state;
	int64_t line = race->objects.space ? snap_race_final_checks() : __LINE__;
	snap_case_objects_free(&race->objects);
	__builtin_memset(&race->objects, 0, sizeof(race->objects));
	return line;
}

#endif /* DBOS_SNAP_CASES_H */
