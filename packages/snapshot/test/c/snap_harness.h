/*
 * snap_harness.h - native writer threads for the snapshot tests (included by each test).
 *
 * Every page holds one pattern: each 8-byte word is (page << 32) | version.  Writers pick
 * random pages of their own (page % writer_count == writer), bump the page's version and
 * rewrite the whole page, continuously, while the test takes and reads snapshots.  A
 * snapshot is right when each of its pages is one whole pattern with the version the page
 * had at the snapshot's instant:
 *   barrier writers (EPOCH)  record the version each epoch ended with, per page;
 *   raw writers (quiesced)   the quiesce hook records every page's version while all stand.
 */
#ifndef SNAP_HARNESS_H
#define SNAP_HARNESS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbos/snapshot.h"
#include "dbos_test.h"

#define HARNESS_WRITERS_MAX 4
#define HARNESS_EPOCHS_MAX 64
#define WORDS_PER_PAGE (DBOS_PAGE_SIZE / sizeof(uint64_t))

typedef struct harness {
	uint8_t *base;
	uint64_t page_count;
	uint64_t size;
	dbos_snap_space *space;
	bool barrier;
	int writer_count;
	pthread_t threads[HARNESS_WRITERS_MAX];
	_Atomic bool stop;
	_Atomic int pause_request;
	_Atomic int paused;
	_Atomic uint64_t writes;
	_Atomic uint64_t *version;       /* page_count: the page's current version */
	_Atomic uint64_t *epoch_version; /* page_count x HARNESS_EPOCHS_MAX: version an epoch left */
	uint64_t *captured;              /* page_count: versions recorded at the last quiesce */
	int started;
} harness;

static inline uint64_t harness_word(uint64_t page, uint64_t version)
{
	return (page << 32) | (version & 0xffffffffu);
}

static inline void harness_fill(uint8_t *page_bytes, uint64_t page, uint64_t version)
{
	uint64_t *words = (uint64_t *)page_bytes;
	uint64_t word = harness_word(page, version);
	for (size_t i = 0; i < WORDS_PER_PAGE; i++)
		((volatile uint64_t *)words)[i] = word;
}

/* True when the page is entirely `version`'s pattern. */
static inline bool harness_page_is(const uint8_t *page_bytes, uint64_t page, uint64_t version)
{
	const uint64_t *words = (const uint64_t *)page_bytes;
	uint64_t word = harness_word(page, version);
	for (size_t i = 0; i < WORDS_PER_PAGE; i++)
		if (words[i] != word)
			return false;
	return true;
}

static inline uint64_t harness_random(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

typedef struct harness_writer_arg {
	harness *h;
	int index;
} harness_writer_arg;

static harness_writer_arg harness_args[HARNESS_WRITERS_MAX];

static inline void *harness_writer(void *argument)
{
	harness_writer_arg *arg = argument;
	harness *h = arg->h;
	uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(arg->index + 1);
	dbos_snap_writer *writer = NULL;
	if (h->barrier && dbos_snap_writer_register(h->space, &writer) != DBOS_OK)
		abort();
	uint64_t own = h->page_count / (uint64_t)h->writer_count;
	while (!atomic_load_explicit(&h->stop, memory_order_relaxed)) {
		if (atomic_load_explicit(&h->pause_request, memory_order_acquire)) {
			atomic_fetch_add(&h->paused, 1);
			while (atomic_load(&h->pause_request) && !atomic_load(&h->stop))
				sched_yield();
			atomic_fetch_sub(&h->paused, 1);
			continue;
		}
		uint64_t page = (harness_random(&rng) % own) * (uint64_t)h->writer_count + (uint64_t)arg->index;
		uint64_t version = atomic_load_explicit(&h->version[page], memory_order_relaxed) + 1;
		if (writer) {
			void *address;
			if (dbos_snap_write_begin(writer, page, &address) != DBOS_OK)
				abort();
			/* The epoch this section belongs to decides which snapshots see the write. */
			uint64_t epoch = dbos_snap_writer_epoch(writer);
			harness_fill(address, page, version);
			atomic_store(&h->version[page], version);
			if (epoch < HARNESS_EPOCHS_MAX)
				atomic_store(&h->epoch_version[page * HARNESS_EPOCHS_MAX + epoch], version);
			dbos_snap_write_end(writer);
		} else {
			harness_fill(h->base + page * DBOS_PAGE_SIZE, page, version);
			atomic_store(&h->version[page], version);
		}
		atomic_fetch_add_explicit(&h->writes, 1, memory_order_relaxed);
	}
	if (writer)
		dbos_snap_writer_unregister(writer);
	return NULL;
}

/* The quiesce hook: stop every writer at the top of its loop, record versions, resume. */
static inline void harness_quiesce(void *context, bool stop)
{
	harness *h = context;
	if (!stop) {
		atomic_store_explicit(&h->pause_request, 0, memory_order_release);
		return;
	}
	atomic_store_explicit(&h->pause_request, 1, memory_order_release);
	while (atomic_load(&h->paused) < h->started)
		sched_yield();
	for (uint64_t page = 0; page < h->page_count; page++)
		h->captured[page] = atomic_load(&h->version[page]);
}

static inline void *harness_area(size_t size)
{
	void *address = NULL;
	if (dbos_platform_reserve(size, DBOS_HUGE_PAGE_SIZE, &address) != DBOS_OK)
		abort();
	if (dbos_platform_commit(address, size, DBOS_PROT_READ_WRITE) != DBOS_OK)
		abort();
	return address;
}

/* A space of `page_count` pages, every page at version 0; `huge`: backed by THP where possible. */
static inline dbos_status harness_init_pages(harness *h, uint64_t page_count, enum dbos_snap_mechanism mechanism,
					     bool barrier, bool huge)
{
	memset(h, 0, sizeof(*h));
	h->page_count = page_count;
	h->size = page_count * DBOS_PAGE_SIZE;
	h->barrier = barrier;
	h->base = harness_area(h->size);
	dbos_platform_advise(h->base, h->size, huge ? DBOS_ADVICE_HUGEPAGE : DBOS_ADVICE_NOHUGEPAGE);
	for (uint64_t page = 0; page < page_count; page++)
		harness_fill(h->base + page * DBOS_PAGE_SIZE, page, 0);
	h->version = calloc(page_count, sizeof(uint64_t));
	h->epoch_version = calloc(page_count * HARNESS_EPOCHS_MAX, sizeof(uint64_t));
	h->captured = calloc(page_count, sizeof(uint64_t));
	dbos_snap_space_options options = {
		.base = h->base,
		.size = h->size,
		.mechanism = mechanism,
		.flags = barrier ? 0 : DBOS_SNAP_WRITES_RAW,
		.quiesce = barrier ? NULL : harness_quiesce,
		.quiesce_context = h,
	};
	return dbos_snap_space_create(&options, &h->space);
}

static inline dbos_status harness_init(harness *h, uint64_t page_count, enum dbos_snap_mechanism mechanism,
				       bool barrier)
{
	return harness_init_pages(h, page_count, mechanism, barrier, false);
}

static inline void harness_start(harness *h, int writer_count)
{
	h->writer_count = writer_count;
	for (int i = 0; i < writer_count; i++) {
		harness_args[i] = (harness_writer_arg){ h, i };
		if (pthread_create(&h->threads[i], NULL, harness_writer, &harness_args[i]) != 0)
			abort();
		h->started++;
	}
	/* Let them get going. */
	while (atomic_load(&h->writes) < 1000)
		sched_yield();
}

static inline void harness_stop(harness *h)
{
	atomic_store(&h->stop, true);
	for (int i = 0; i < h->started; i++)
		pthread_join(h->threads[i], NULL);
	h->started = 0;
	atomic_store(&h->stop, false);
}

static inline void harness_free(harness *h)
{
	if (h->started)
		harness_stop(h);
	dbos_snap_space_destroy(h->space);
	dbos_platform_unreserve(h->base, h->size);
	free((void *)h->version);
	free((void *)h->epoch_version);
	free(h->captured);
}

/* Versions a barrier snapshot of epoch `epoch` must show: the last write of an older epoch. */
static inline void harness_expected_epoch(harness *h, uint64_t epoch, uint64_t *expected)
{
	for (uint64_t page = 0; page < h->page_count; page++) {
		uint64_t version = 0;
		for (uint64_t e = 0; e < epoch && e < HARNESS_EPOCHS_MAX; e++) {
			uint64_t v = atomic_load(&h->epoch_version[page * HARNESS_EPOCHS_MAX + e]);
			if (v > version)
				version = v;
		}
		expected[page] = version;
	}
}

/* Read the whole snapshot and count pages that differ from `expected`. */
static inline uint64_t harness_mismatches(harness *h, dbos_snap_id id, const uint64_t *expected)
{
	uint8_t *image = malloc(h->size);
	if (dbos_snap_read(h->space, id, 0, h->size, image) != DBOS_OK)
		abort();
	uint64_t bad = 0;
	for (uint64_t page = 0; page < h->page_count; page++) {
		if (!harness_page_is(image + page * DBOS_PAGE_SIZE, page, expected[page])) {
			if (bad < 3)
				fprintf(stderr, "page %llu: want version %llu, first word %#llx\n",
					(unsigned long long)page, (unsigned long long)expected[page],
					(unsigned long long)((uint64_t *)(image + page * DBOS_PAGE_SIZE))[0]);
			bad++;
		}
	}
	free(image);
	return bad;
}

#endif

#ifndef SNAP_HARNESS_RAW
#define SNAP_HARNESS_RAW
/*
 * Raw writers, quiesced at each take: snapshots taken one after another (up to `live` alive
 * at once) must each equal the versions the quiesce hook saw, now and after writers went on.
 */
static inline void harness_raw_rounds(harness *h, int rounds, int live)
{
	uint64_t *expected[8];
	dbos_snap_id ids[8];
	REQUIRE(live <= 8);
	for (int i = 0; i < live; i++)
		expected[i] = malloc(h->page_count * sizeof(uint64_t));
	for (int round = 0; round < rounds; round++) {
		int slot = round % live;
		if (round >= live)
			CHECK_EQ(dbos_snap_release(h->space, ids[slot]), DBOS_OK);
		REQUIRE(dbos_snap_take(h->space, &ids[slot]) == DBOS_OK);
		memcpy(expected[slot], h->captured, h->page_count * sizeof(uint64_t));
		uint64_t writes_before = atomic_load(&h->writes);
		while (atomic_load(&h->writes) < writes_before + 5000)
			sched_yield();
		for (int i = 0; i <= (round < live ? round : live - 1); i++)
			CHECK_EQ(harness_mismatches(h, ids[i], expected[i]), 0);
	}
	for (int i = 0; i < live && i < rounds; i++)
		CHECK_EQ(dbos_snap_release(h->space, ids[i]), DBOS_OK);
	for (int i = 0; i < live; i++)
		free(expected[i]);
}
#endif
