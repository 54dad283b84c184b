/* snap_workload.c - pattern writer threads for tests and benchmarks (see snap_workload.h). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snap_host.h"
#include "snap_workload.h"

#define WORDS_PER_PAGE (DBOS_PAGE_SIZE / sizeof(uint64_t))
#define WORDS_PER_LINE (DBOS_CACHE_LINE_SIZE / sizeof(uint64_t))

typedef struct snap_worker {
	snap_workload *workload;
	uint32_t index;
	pthread_t thread;
	_Alignas(DBOS_CACHE_LINE_SIZE) _Atomic uint64_t writes;
	_Atomic uint64_t gap_ns_max;
	bool realtime;
} snap_worker;

struct snap_workload {
	uint8_t *base;
	uint64_t page_count;
	dbos_snap_space *space;
	snap_workload_options options;
	_Atomic uint32_t *version;        /* page_count */
	_Atomic uint32_t *epoch_version;  /* page_count x SNAP_WORKLOAD_EPOCHS_MAX when tracking */
	uint32_t *captured[SNAP_WORKLOAD_CAPTURES]; /* page_count each: versions at quiesce n */
	uint64_t captured_quiesce[SNAP_WORKLOAD_CAPTURES];
	uint32_t running;
	_Atomic bool stop;
	_Atomic uint32_t pause_request;
	_Atomic uint32_t paused;
	_Atomic uint64_t quiesces;
	snap_worker workers[SNAP_WORKLOAD_WRITERS_MAX];
};

static uint64_t now_ns(void)
{
	struct timespec time;
	clock_gettime(CLOCK_MONOTONIC, &time);
	return (uint64_t)time.tv_sec * 1000000000u + (uint64_t)time.tv_nsec;
}

static uint64_t pattern_word(uint64_t page, uint32_t version)
{
	return (page << 32) | version;
}

dbos_status snap_workload_create(uint8_t *base, uint64_t page_count, snap_workload **workload_out)
{
	snap_workload *workload = calloc(1, sizeof(*workload));
	if (!workload)
		return DBOS_ENOMEM;
	workload->base = base;
	workload->page_count = page_count;
	workload->version = calloc(page_count, sizeof(uint32_t));
	if (!workload->version) {
		snap_workload_destroy(workload);
		return DBOS_ENOMEM;
	}
	*workload_out = workload;
	return DBOS_OK;
}

void snap_workload_destroy(snap_workload *workload)
{
	if (!workload)
		return;
	snap_workload_stop(workload);
	free((void *)workload->version);
	free((void *)workload->epoch_version);
	for (uint32_t i = 0; i < SNAP_WORKLOAD_CAPTURES; i++)
		free(workload->captured[i]);
	free(workload);
}

void snap_workload_attach(snap_workload *workload, dbos_snap_space *space)
{
	workload->space = space;
}

void snap_workload_fill(snap_workload *workload)
{
	for (uint64_t page = 0; page < workload->page_count; page++) {
		uint64_t *words = (uint64_t *)(workload->base + page * DBOS_PAGE_SIZE);
		for (size_t i = 0; i < WORDS_PER_PAGE; i++)
			words[i] = pattern_word(page, 0);
		atomic_store(&workload->version[page], 0);
	}
}

static void pattern_write(uint8_t *page_bytes, uint64_t page, uint32_t version, bool whole_page)
{
	volatile uint64_t *words = (volatile uint64_t *)page_bytes;
	size_t count = whole_page ? WORDS_PER_PAGE : WORDS_PER_LINE;
	for (size_t i = 0; i < count; i++)
		words[i] = pattern_word(page, version);
}

static void *snap_worker_main(void *argument)
{
	snap_worker *worker = argument;
	snap_workload *workload = worker->workload;
	const snap_workload_options *options = &workload->options;
	uint64_t rng = 0x9E3779B97F4A7C15ull * (worker->index + 1);
	dbos_snap_writer *writer = NULL;
	if (options->barrier && dbos_snap_writer_register(workload->space, &writer) != DBOS_OK)
		abort();
	if (options->realtime) {
		struct sched_param param = { .sched_priority = 1 };
		worker->realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
	}
	uint64_t pages = options->hot_page_count && options->hot_page_count < workload->page_count
				 ? options->hot_page_count
				 : workload->page_count;
	uint64_t own = pages / options->writer_count;
	uint64_t last_ns = now_ns();
	while (!atomic_load_explicit(&workload->stop, memory_order_relaxed)) {
		if (atomic_load_explicit(&workload->pause_request, memory_order_acquire)) {
			atomic_fetch_add(&workload->paused, 1);
			while (atomic_load(&workload->pause_request) && !atomic_load(&workload->stop))
				dbos_platform_relax();
			atomic_fetch_sub(&workload->paused, 1);
			continue;
		}
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		/* Each writer owns the pages congruent to its index: no two write one page. */
		uint64_t page = (rng % own) * options->writer_count + worker->index;
		uint32_t version = atomic_load_explicit(&workload->version[page], memory_order_relaxed) + 1;
		uint8_t *address = workload->base + page * DBOS_PAGE_SIZE;
		if (writer) {
			void *prepared;
			if (dbos_snap_write_begin(writer, page, &prepared) != DBOS_OK)
				abort();
			uint64_t epoch = dbos_snap_writer_epoch(writer);
			pattern_write(address, page, version, options->whole_page);
			atomic_store_explicit(&workload->version[page], version, memory_order_relaxed);
			if (workload->epoch_version && epoch < SNAP_WORKLOAD_EPOCHS_MAX)
				atomic_store_explicit(&workload->epoch_version[page * SNAP_WORKLOAD_EPOCHS_MAX + epoch],
						      version, memory_order_relaxed);
			dbos_snap_write_end(writer);
		} else {
			pattern_write(address, page, version, options->whole_page);
			atomic_store_explicit(&workload->version[page], version, memory_order_relaxed);
		}
		uint64_t finished_ns = now_ns();
		uint64_t gap = finished_ns - last_ns;
		last_ns = finished_ns;
		if (gap > atomic_load_explicit(&worker->gap_ns_max, memory_order_relaxed))
			atomic_store_explicit(&worker->gap_ns_max, gap, memory_order_relaxed);
		atomic_store_explicit(&worker->writes, atomic_load_explicit(&worker->writes, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	}
	if (writer)
		dbos_snap_writer_unregister(writer);
	return NULL;
}

dbos_status snap_workload_start(snap_workload *workload, const snap_workload_options *options)
{
	if (workload->running || options->writer_count == 0 || options->writer_count > SNAP_WORKLOAD_WRITERS_MAX ||
	    (options->barrier && !workload->space) || workload->page_count < options->writer_count)
		return DBOS_EINVAL;
	workload->options = *options;
	if (options->track_epochs && !workload->epoch_version) {
		workload->epoch_version = calloc(workload->page_count * SNAP_WORKLOAD_EPOCHS_MAX, sizeof(uint32_t));
		if (!workload->epoch_version)
			return DBOS_ENOMEM;
	}
	atomic_store(&workload->stop, false);
	for (uint32_t i = 0; i < options->writer_count; i++) {
		snap_worker *worker = &workload->workers[i];
		worker->workload = workload;
		worker->index = i;
		worker->realtime = false;
		if (pthread_create(&worker->thread, NULL, snap_worker_main, worker) != 0) {
			snap_workload_stop(workload);
			return DBOS_ENOMEM;
		}
		workload->running++;
	}
	return DBOS_OK;
}

void snap_workload_stop(snap_workload *workload)
{
	atomic_store(&workload->stop, true);
	for (uint32_t i = 0; i < workload->running; i++)
		pthread_join(workload->workers[i].thread, NULL);
	workload->running = 0;
	atomic_store(&workload->stop, false);
}

bool snap_workload_running(const snap_workload *workload)
{
	return workload->running != 0;
}

void snap_workload_quiesce(void *context, bool stop)
{
	snap_workload *workload = context;
	if (!workload)
		return;
	if (!stop) {
		atomic_store_explicit(&workload->pause_request, 0, memory_order_release);
		return;
	}
	atomic_store_explicit(&workload->pause_request, 1, memory_order_release);
	while (atomic_load(&workload->paused) < workload->running)
		dbos_platform_relax();
	uint64_t quiesce = atomic_fetch_add(&workload->quiesces, 1) + 1;
	uint32_t ring = (uint32_t)(quiesce % SNAP_WORKLOAD_CAPTURES);
	if (!workload->captured[ring])
		workload->captured[ring] = malloc(workload->page_count * sizeof(uint32_t));
	if (!workload->captured[ring])
		return; /* nothing recorded: snap_workload_expected reports ENOTSUP for it */
	/* Everyone stands between two writes: these are the versions the snapshot freezes. */
	for (uint64_t page = 0; page < workload->page_count; page++)
		workload->captured[ring][page] = atomic_load_explicit(&workload->version[page], memory_order_relaxed);
	workload->captured_quiesce[ring] = quiesce;
}

void snap_workload_stats_get(snap_workload *workload, bool reset_gap, snap_workload_stats *stats_out)
{
	snap_workload_stats stats = { 0 };
	for (uint32_t i = 0; i < workload->running; i++) {
		snap_worker *worker = &workload->workers[i];
		stats.writes += atomic_load(&worker->writes);
		uint64_t gap = reset_gap ? atomic_exchange(&worker->gap_ns_max, 0) : atomic_load(&worker->gap_ns_max);
		if (gap > stats.gap_ns_max)
			stats.gap_ns_max = gap;
		stats.realtime_writers += worker->realtime;
	}
	stats.quiesces = atomic_load(&workload->quiesces);
	*stats_out = stats;
}

dbos_status snap_workload_expected(snap_workload *workload, uint64_t epoch, uint64_t quiesce, uint32_t *expected)
{
	if (!workload->options.barrier) {
		uint32_t ring = (uint32_t)(quiesce % SNAP_WORKLOAD_CAPTURES);
		if (quiesce == 0 || !workload->captured[ring] || workload->captured_quiesce[ring] != quiesce)
			return DBOS_ENOTSUP;
		memcpy(expected, workload->captured[ring], workload->page_count * sizeof(uint32_t));
		return DBOS_OK;
	}
	if (!workload->epoch_version || epoch > SNAP_WORKLOAD_EPOCHS_MAX)
		return DBOS_ENOTSUP;
	for (uint64_t page = 0; page < workload->page_count; page++) {
		uint32_t version = 0;
		for (uint64_t e = 0; e < epoch; e++) {
			uint32_t v = atomic_load(&workload->epoch_version[page * SNAP_WORKLOAD_EPOCHS_MAX + e]);
			version = v > version ? v : version;
		}
		expected[page] = version;
	}
	return DBOS_OK;
}

uint64_t snap_workload_mismatches(const snap_workload *workload, const uint8_t *pages, const uint32_t *expected,
				  uint64_t *first_bad_out)
{
	uint64_t bad = 0;
	*first_bad_out = UINT64_MAX;
	for (uint64_t page = 0; page < workload->page_count; page++) {
		const uint64_t *words = (const uint64_t *)(pages + page * DBOS_PAGE_SIZE);
		uint64_t want = pattern_word(page, expected[page]);
		for (size_t i = 0; i < WORDS_PER_PAGE; i++) {
			if (words[i] != want) {
				if (*first_bad_out == UINT64_MAX)
					*first_bad_out = page;
				bad++;
				break;
			}
		}
	}
	return bad;
}

uint64_t snap_workload_first_writes(dbos_snap_space *space, uint8_t *base, uint64_t first, uint64_t count,
				    uint64_t stride)
{
	dbos_snap_writer *writer = NULL;
	if (space && dbos_snap_writer_register(space, &writer) != DBOS_OK)
		return 0;
	/* Like the writer threads: SCHED_FIFO where allowed, so other processes do not inflate it. */
	int policy;
	struct sched_param saved;
	bool realtime = false;
	if (pthread_getschedparam(pthread_self(), &policy, &saved) == 0) {
		struct sched_param param = { .sched_priority = 1 };
		realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
	}
	uint64_t started = now_ns();
	for (uint64_t i = 0; i < count; i++) {
		uint64_t page = first + i * stride;
		if (writer) {
			void *address;
			if (dbos_snap_write_begin(writer, page, &address) != DBOS_OK)
				abort();
			((volatile uint64_t *)address)[1] += 1;
			dbos_snap_write_end(writer);
		} else {
			((volatile uint64_t *)(base + page * DBOS_PAGE_SIZE))[1] += 1;
		}
	}
	uint64_t elapsed = now_ns() - started;
	if (realtime)
		pthread_setschedparam(pthread_self(), policy, &saved);
	if (writer)
		dbos_snap_writer_unregister(writer);
	return count ? elapsed / count : 0;
}
