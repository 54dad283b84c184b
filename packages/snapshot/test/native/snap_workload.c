/* snap_workload.c - pattern writer threads for tests and benchmarks (see snap_workload.h). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snap_workload.h"

#define WORDS_PER_PAGE (DBOS_PAGE_SIZE / sizeof(uint64_t))
#define WORDS_PER_LINE (DBOS_CACHE_LINE_SIZE / sizeof(uint64_t))

typedef struct snap_worker {
	snap_workload *workload;
	uint32_t index;
	pthread_t thread;
	dbos_snap_writer *writer; /* registered for barrier writers, else NULL */
	_Alignas(DBOS_CACHE_LINE_SIZE) _Atomic uint64_t writes;
	_Atomic uint64_t gap_ns_max;
	bool realtime;
} snap_worker;

struct snap_workload {
	dbos_snap_handle *handle; /* NULL once detached: the space closed */
	const dbos_snap_handle_ops *ops;
	uint8_t *base;
	uint64_t page_count;
	snap_workload_options options;
	_Atomic uint32_t *version;                  /* page_count */
	_Atomic uint32_t *epoch_version;            /* page_count x SNAP_WORKLOAD_EPOCHS_MAX when tracking */
	uint32_t *captured[SNAP_WORKLOAD_CAPTURES]; /* page_count each: versions at quiesce n */
	uint64_t captured_quiesce[SNAP_WORKLOAD_CAPTURES];
	uint32_t running;
	_Atomic bool stop;
	_Atomic uint32_t pause_request;
	_Atomic uint32_t paused;
	_Atomic uint64_t quiesces;
	snap_worker workers[SNAP_WORKLOAD_WRITERS_MAX];
};

/* Spin-wait hint: this addon has no platform layer (it is not linked with the core). */
static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	sched_yield();
#endif
}

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

/* The quiesce hook: park every writer between two writes, record the versions it froze. */
static void snap_workload_quiesce(void *context, bool stop)
{
	snap_workload *workload = context;
	if (!stop) {
		atomic_store_explicit(&workload->pause_request, 0, memory_order_release);
		return;
	}
	atomic_store_explicit(&workload->pause_request, 1, memory_order_release);
	while (atomic_load(&workload->paused) < workload->running)
		relax();
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

/* The space closes (its owner calls this on the JavaScript thread): stop writing it for good. */
static void snap_workload_detach(void *context)
{
	snap_workload *workload = context;
	snap_workload_stop(workload);
	workload->handle = NULL;
}

dbos_status snap_workload_create(dbos_snap_handle *handle, snap_workload **workload_out)
{
	if (!handle || handle->abi_version != DBOS_SNAP_HANDLE_ABI_VERSION ||
	    handle->struct_size < sizeof(dbos_snap_handle) || handle->page_size != DBOS_PAGE_SIZE)
		return DBOS_EINVAL;
	if (!handle->space)
		return DBOS_ECLOSED;
	snap_workload *workload = calloc(1, sizeof(*workload));
	if (!workload)
		return DBOS_ENOMEM;
	workload->ops = handle->ops;
	workload->base = handle->base;
	workload->page_count = handle->page_count;
	workload->version = calloc(workload->page_count, sizeof(uint32_t));
	dbos_status status = workload->version ? DBOS_OK : DBOS_ENOMEM;
	dbos_snap_engine engine = { .quiesce = snap_workload_quiesce,
				    .detach = snap_workload_detach,
				    .context = workload };
	if (status == DBOS_OK)
		status = handle->ops->attach(handle, &engine);
	if (status != DBOS_OK) {
		snap_workload_destroy(workload);
		return status;
	}
	workload->handle = handle;
	*workload_out = workload;
	return DBOS_OK;
}

void snap_workload_destroy(snap_workload *workload)
{
	if (!workload)
		return;
	snap_workload_stop(workload);
	if (workload->handle)
		workload->ops->detach(workload->handle);
	free((void *)workload->version);
	free((void *)workload->epoch_version);
	for (uint32_t i = 0; i < SNAP_WORKLOAD_CAPTURES; i++)
		free(workload->captured[i]);
	free(workload);
}

bool snap_workload_attached(const snap_workload *workload)
{
	return workload->handle != NULL;
}

uint64_t snap_workload_page_count(const snap_workload *workload)
{
	return workload->page_count;
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
	const dbos_snap_handle_ops *ops = workload->ops;
	dbos_snap_writer *writer = worker->writer;
	uint64_t rng = 0x9E3779B97F4A7C15ull * (worker->index + 1);
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
				relax();
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
			if (ops->write_begin(writer, page, &prepared) != DBOS_OK)
				abort(); /* the copy pool ran out: the test asked for too much */
			uint64_t epoch = ops->writer_epoch(writer);
			pattern_write(address, page, version, options->whole_page);
			atomic_store_explicit(&workload->version[page], version, memory_order_relaxed);
			if (workload->epoch_version && epoch < SNAP_WORKLOAD_EPOCHS_MAX)
				atomic_store_explicit(&workload->epoch_version[page * SNAP_WORKLOAD_EPOCHS_MAX + epoch],
						      version, memory_order_relaxed);
			ops->write_end(writer);
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
	return NULL;
}

dbos_status snap_workload_start(snap_workload *workload, const snap_workload_options *options)
{
	if (!workload->handle)
		return DBOS_ECLOSED;
	if (workload->running || options->writer_count == 0 || options->writer_count > SNAP_WORKLOAD_WRITERS_MAX ||
	    workload->page_count < options->writer_count)
		return DBOS_EINVAL;
	if (options->barrier && workload->handle->mechanism != DBOS_SNAP_EPOCH)
		return DBOS_ENOTSUP; /* the raw mechanisms catch first writes themselves */
	workload->options = *options;
	if (options->track_epochs && !workload->epoch_version) {
		workload->epoch_version = calloc(workload->page_count * SNAP_WORKLOAD_EPOCHS_MAX, sizeof(uint32_t));
		if (!workload->epoch_version)
			return DBOS_ENOMEM;
	}
	atomic_store(&workload->stop, false);
	dbos_status status = DBOS_OK;
	for (uint32_t i = 0; i < options->writer_count && status == DBOS_OK; i++) {
		snap_worker *worker = &workload->workers[i];
		worker->workload = workload;
		worker->index = i;
		worker->realtime = false;
		worker->writer = NULL;
		atomic_store(&worker->writes, 0);
		atomic_store(&worker->gap_ns_max, 0);
		if (options->barrier)
			status = workload->ops->writer_register(workload->handle->space, &worker->writer);
		if (status == DBOS_OK && pthread_create(&worker->thread, NULL, snap_worker_main, worker) != 0)
			status = DBOS_ENOMEM;
		if (status != DBOS_OK && worker->writer) {
			workload->ops->writer_unregister(worker->writer);
			worker->writer = NULL;
		}
		if (status == DBOS_OK)
			workload->running++;
	}
	if (status != DBOS_OK)
		snap_workload_stop(workload);
	return status;
}

void snap_workload_stop(snap_workload *workload)
{
	atomic_store(&workload->stop, true);
	for (uint32_t i = 0; i < workload->running; i++) {
		snap_worker *worker = &workload->workers[i];
		pthread_join(worker->thread, NULL);
		if (worker->writer)
			workload->ops->writer_unregister(worker->writer);
		worker->writer = NULL;
	}
	workload->running = 0;
	atomic_store(&workload->stop, false);
}

bool snap_workload_running(const snap_workload *workload)
{
	return workload->running != 0;
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

dbos_status snap_workload_first_writes(snap_workload *workload, bool barrier, uint64_t first, uint64_t count,
				       uint64_t stride, uint64_t *ns_out)
{
	if (!workload->handle)
		return DBOS_ECLOSED;
	if (barrier && workload->handle->mechanism != DBOS_SNAP_EPOCH)
		return DBOS_ENOTSUP;
	/* The last page is first + (count - 1) * stride: compared by division, so no product wraps. */
	if (stride == 0 || count == 0 || first >= workload->page_count ||
	    count - 1 > (workload->page_count - 1 - first) / stride)
		return DBOS_ERANGE;
	const dbos_snap_handle_ops *ops = workload->ops;
	dbos_snap_writer *writer = NULL;
	if (barrier) {
		dbos_status status = ops->writer_register(workload->handle->space, &writer);
		if (status != DBOS_OK)
			return status;
	}
	/* Like the writer threads: SCHED_FIFO where allowed, so other processes do not inflate it. */
	int policy;
	struct sched_param saved;
	bool realtime = false;
	if (pthread_getschedparam(pthread_self(), &policy, &saved) == 0) {
		struct sched_param param = { .sched_priority = 1 };
		realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
	}
	dbos_status status = DBOS_OK;
	uint64_t started = now_ns();
	for (uint64_t i = 0; i < count && status == DBOS_OK; i++) {
		uint64_t page = first + i * stride;
		if (writer) {
			void *address;
			status = ops->write_begin(writer, page, &address);
			if (status != DBOS_OK)
				break;
			((volatile uint64_t *)address)[1] += 1;
			ops->write_end(writer);
		} else {
			((volatile uint64_t *)(workload->base + page * DBOS_PAGE_SIZE))[1] += 1;
		}
	}
	uint64_t elapsed = now_ns() - started;
	if (realtime)
		pthread_setschedparam(pthread_self(), policy, &saved);
	if (writer)
		ops->writer_unregister(writer);
	*ns_out = elapsed / count;
	return status;
}

dbos_status snap_workload_entry(snap_workload *workload, enum snap_workload_entry entry, uint64_t a, uint64_t b)
{
	if (!workload->handle)
		return DBOS_ECLOSED;
	const dbos_snap_handle_ops *ops = workload->ops;
	dbos_snap_writer *writer = NULL;
	dbos_status status = ops->writer_register(workload->handle->space, &writer);
	if (status != DBOS_OK)
		return status;
	void *address = NULL;
	switch (entry) {
	case SNAP_WORKLOAD_PAGE_PREPARE:
		ops->writer_enter(writer);
		status = ops->page_prepare(writer, a, &address);
		ops->writer_leave(writer);
		break;
	case SNAP_WORKLOAD_WRITE_BEGIN:
		status = ops->write_begin(writer, a, &address);
		if (status == DBOS_OK)
			ops->write_end(writer);
		break;
	case SNAP_WORKLOAD_WRITE_COPY: {
		/* A source exactly as long as the space: a length the core fails to refuse reads past it. */
		uint64_t size = workload->page_count * DBOS_PAGE_SIZE;
		uint8_t *source = calloc(size, 1);
		status = source ? ops->write_copy(writer, a, source, b) : DBOS_ENOMEM;
		free(source);
		break;
	}
	default: status = DBOS_EINVAL; break;
	}
	/* A page the core let through must be one of the space's. */
	if (status == DBOS_OK && address &&
	    ((uint8_t *)address < workload->base ||
	     (uint8_t *)address >= workload->base + workload->page_count * DBOS_PAGE_SIZE))
		abort();
	ops->writer_unregister(writer);
	return status;
}

dbos_status snap_workload_fork_pwrite(snap_workload *workload, int fd, uint64_t *ns_out)
{
	if (!workload->handle)
		return DBOS_ECLOSED;
	return snap_fork_peer_write(workload->base, workload->page_count * DBOS_PAGE_SIZE, fd, ns_out);
}
