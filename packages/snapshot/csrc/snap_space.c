/* snap_space.c - spaces: bookkeeping memory, writer registration and waits. */
#include "snap_internal.h"

const char *dbos_snap_mechanism_name(enum dbos_snap_mechanism mechanism)
{
	switch (mechanism) {
	case DBOS_SNAP_AUTO: return "auto";
	case DBOS_SNAP_EPOCH: return "epoch";
	case DBOS_SNAP_UFFD_WP: return "uffd-wp";
	case DBOS_SNAP_FORK: return "fork";
	case DBOS_SNAP_MECHANISM_COUNT: break;
	}
	return "unknown";
}

bool dbos_snap_mechanism_available(enum dbos_snap_mechanism mechanism, const char **reason_out)
{
	const char *reason = NULL;
	bool available = false;
	if (mechanism == DBOS_SNAP_EPOCH) {
		available = true; /* pure memory and atomics: every runtime */
	} else if (mechanism == DBOS_SNAP_UFFD_WP || mechanism == DBOS_SNAP_FORK) {
		available = snap_runtime_available(mechanism, &reason);
	} else {
		reason = "not a mechanism";
	}
	if (reason_out)
		*reason_out = available ? NULL : reason;
	return available;
}

dbos_status dbos_snap_mechanism_select(enum dbos_snap_mechanism requested, uint32_t flags,
				       enum dbos_snap_mechanism *selected_out, const char **reason_out)
{
	if ((unsigned)requested >= DBOS_SNAP_MECHANISM_COUNT || (flags & ~(uint32_t)DBOS_SNAP_WRITES_RAW) != 0 ||
	    !selected_out)
		return DBOS_EINVAL;
	enum dbos_snap_mechanism selected;
	const char *reason;
	if (requested != DBOS_SNAP_AUTO) {
		selected = requested;
		reason = "named by the caller";
	} else if (!(flags & DBOS_SNAP_WRITES_RAW)) {
		selected = DBOS_SNAP_EPOCH;
		reason = "writers announce each page through the write barrier: O(1) takes, one copy per page written";
	} else if (dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, NULL)) {
		selected = DBOS_SNAP_UFFD_WP;
		reason = "raw writes, and userfaultfd write-protect works here: the kernel catches each first write";
	} else {
		selected = DBOS_SNAP_FORK;
		reason = "raw writes, and uffd-wp is unavailable here: fork is the fallback that works everywhere";
	}
	*selected_out = selected;
	const char *unavailable = NULL;
	bool available = dbos_snap_mechanism_available(selected, &unavailable);
	if (reason_out)
		*reason_out = available ? reason : unavailable;
	return available ? DBOS_OK : DBOS_ENOTSUP;
}

/* ---- Bookkeeping ---------------------------------------------------------- */

/*
 * A bookkeeping table, committed whole.  The host backs committed memory only when touched; the
 * guest backs it at once, which the tables can afford (about 136 bytes per page of the space).
 * The copy pool, up to DBOS_SNAP_COUNT_MAX pages per page, is only reserved here and committed
 * as copies need it (snap_frames.c).
 */
static dbos_status snap_area_create(size_t size, void **address_out)
{
	void *address = NULL;
	dbos_status status = dbos_platform_reserve(size, DBOS_PAGE_SIZE, &address);
	if (status != DBOS_OK)
		return status;
	status = dbos_platform_commit(address, size, DBOS_PROT_READ_WRITE);
	if (status != DBOS_OK) {
		dbos_platform_unreserve(address, size);
		return status;
	}
	*address_out = address;
	return DBOS_OK;
}

static void snap_area_destroy(void *address, size_t size)
{
	if (address)
		DBOS_ASSERT(dbos_platform_unreserve(address, size) == DBOS_OK);
}

static size_t snap_page_round(uint64_t bytes)
{
	return (size_t)DBOS_ALIGN_UP(bytes, (uint64_t)DBOS_PAGE_SIZE);
}

static void snap_space_free(dbos_snap_space *space)
{
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++)
		snap_area_destroy((void *)space->slots[i].copies, space->copies_size);
	snap_area_destroy((void *)space->stamps, space->stamps_size);
	snap_area_destroy(space->frames, space->frames_size);
	snap_area_destroy((void *)space->frame_refs, space->frame_refs_size);
	if (space->writers)
		dbos_platform_free(space->writers, sizeof(struct dbos_snap_writer) * DBOS_SNAP_WRITER_COUNT_MAX);
	dbos_platform_free(space, sizeof(*space));
}

static dbos_status snap_space_areas(dbos_snap_space *space)
{
	uint64_t pages = space->page_count;
	space->stamps_size = snap_page_round(pages * sizeof(uint64_t));
	space->copies_size = snap_page_round(pages * sizeof(uint32_t));
	/* Worst case every live snapshot holds its own copy of every page. */
	uint64_t capacity = pages * DBOS_SNAP_COUNT_MAX;
	if (capacity > UINT32_MAX - 1)
		capacity = UINT32_MAX - 1;
	space->frame_capacity = capacity;
	space->frames_size = (size_t)capacity * DBOS_PAGE_SIZE;
	space->frame_refs_size = snap_page_round(capacity * sizeof(uint32_t));

	dbos_status status = snap_area_create(space->stamps_size, (void **)&space->stamps);
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX && status == DBOS_OK; i++)
		status = snap_area_create(space->copies_size, (void **)&space->slots[i].copies);
	if (status == DBOS_OK)
		status = dbos_platform_reserve(space->frames_size, DBOS_PAGE_SIZE, (void **)&space->frames);
	if (status == DBOS_OK)
		status = snap_area_create(space->frame_refs_size, (void **)&space->frame_refs);
	return status;
}

dbos_status dbos_snap_space_create(const dbos_snap_space_options *options, dbos_snap_space **space_out)
{
	if (!options || !space_out)
		return DBOS_EINVAL;
	dbos_snap_space_options resolved = *options;
	if (options->region) {
		if (options->base || options->size)
			return DBOS_EINVAL; /* one or the other */
		resolved.base = dbos_pt_region_base(options->region);
		resolved.size = dbos_pt_region_size(options->region);
	}
	options = &resolved;
	if (!options->base || options->size == 0 || !DBOS_IS_ALIGNED((uintptr_t)options->base, DBOS_PAGE_SIZE) ||
	    !DBOS_IS_ALIGNED(options->size, (uint64_t)DBOS_PAGE_SIZE) ||
	    (unsigned)options->mechanism >= DBOS_SNAP_MECHANISM_COUNT ||
	    (options->flags & ~(uint32_t)DBOS_SNAP_WRITES_RAW) != 0)
		return DBOS_EINVAL;
	if (options->size / DBOS_PAGE_SIZE > DBOS_SNAP_PAGE_COUNT_MAX)
		return DBOS_ERANGE;

	/* The one selection: dbos_snap_host_mechanism_format() describes it from the same call. */
	enum dbos_snap_mechanism mechanism;
	dbos_status selected = dbos_snap_mechanism_select(options->mechanism, options->flags, &mechanism, NULL);
	if (selected != DBOS_OK)
		return selected;

	dbos_snap_space *space = dbos_platform_alloc(sizeof(*space));
	if (!space)
		return DBOS_ENOMEM;
	space->base = options->base;
	space->page_count = options->size / DBOS_PAGE_SIZE;
	space->mechanism = mechanism;
	space->ops = mechanism == DBOS_SNAP_EPOCH ? NULL : snap_runtime_ops(mechanism);
	space->quiesce = options->quiesce;
	space->quiesce_context = options->quiesce_context;
	space->region = options->region;
	uint64_t reserve = options->copy_reserve_pages ? options->copy_reserve_pages : SNAP_REFILL_AHEAD_FRAMES;
	space->reserve_frames = DBOS_ALIGN_UP(reserve, (uint64_t)SNAP_REFILL_CHUNK_FRAMES);
	atomic_init(&space->epoch, SNAP_EPOCH_FIRST);
	atomic_init(&space->sealed_epoch, SNAP_EPOCH_FIRST);
	space->generation_next = 1;
	space->writers = dbos_platform_alloc(sizeof(struct dbos_snap_writer) * DBOS_SNAP_WRITER_COUNT_MAX);
	/*
	 * Each writer knows its space before anything can register it: the mechanism attached below
	 * (UFFD_WP) registers one for its handler thread and starts that thread, which reads
	 * writer->space on every fault.  Filled after the attach, those stores raced with the thread
	 * (nothing ordered them before its reads; ThreadSanitizer reported it).
	 */
	for (uint32_t i = 0; space->writers && i < DBOS_SNAP_WRITER_COUNT_MAX; i++) {
		space->writers[i].index = i;
		space->writers[i].space = space;
	}
	/* 1. Bookkeeping; 2. the runtime mechanism; 3. the refill thread; 4. dirty tracking.  A failure
	 * undoes only the steps that succeeded (a detach of a mechanism never attached would free state
	 * that does not exist). */
	dbos_status status = space->writers ? snap_space_areas(space) : DBOS_ENOMEM;
	bool attached = false;
	if (status == DBOS_OK && mechanism != DBOS_SNAP_EPOCH) {
		status = space->ops ? space->ops->attach(space) : DBOS_ENOTSUP;
		attached = status == DBOS_OK;
	}
	/* FORK keeps no copies in this process: only the copy-on-write mechanisms need frames. */
	if (status == DBOS_OK && mechanism != DBOS_SNAP_FORK)
		status = snap_refill_start(space);
	if (status == DBOS_OK)
		status = snap_dirty_attach(space);
	if (status != DBOS_OK) {
		snap_dirty_detach(space);
		snap_refill_stop(space);
		if (attached)
			space->ops->detach(space);
		snap_space_free(space);
		return status;
	}
	*space_out = space;
	return DBOS_OK;
}

void dbos_snap_space_destroy(dbos_snap_space *space)
{
	if (!space)
		return;
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++) {
		uint64_t word = atomic_load(&space->slots[i].word);
		if (SNAP_WORD_STATE(word) != SNAP_SLOT_LIVE)
			continue;
		/* Pins must be gone: destroying under a reader is a caller bug. */
		DBOS_ASSERT(SNAP_WORD_PINS(word) == 0);
		dbos_snap_id id = snap_id_make(SNAP_WORD_GENERATION(word), i);
		DBOS_ASSERT(dbos_snap_release(space, id) == DBOS_OK);
	}
	/* The mechanism's own writer (the UFFD_WP handler thread) goes with it. */
	if (space->ops)
		space->ops->detach(space);
	snap_refill_stop(space);
	snap_dirty_detach(space);
	for (uint32_t i = 0; i < DBOS_SNAP_WRITER_COUNT_MAX; i++)
		DBOS_ASSERT(atomic_load(&space->writers[i].in_use) == 0);
	snap_space_free(space);
}

void dbos_snap_space_quiesce_set(dbos_snap_space *space, dbos_snap_quiesce_fn quiesce, void *context)
{
	DBOS_ASSERT(space);
	/* Under the take lock: a take in progress finishes with the hook it started with. */
	dbos_mutex_lock(&space->mutex);
	space->quiesce = quiesce;
	space->quiesce_context = context;
	dbos_mutex_unlock(&space->mutex);
}

enum dbos_snap_mechanism dbos_snap_space_mechanism(const dbos_snap_space *space)
{
	return space->mechanism;
}

uint8_t *dbos_snap_space_base(const dbos_snap_space *space)
{
	return space->base;
}

uint64_t dbos_snap_space_page_count(const dbos_snap_space *space)
{
	return space->page_count;
}

uint32_t snap_live_count(dbos_snap_space *space)
{
	uint32_t live = 0;
	for (uint32_t i = 0; i < DBOS_SNAP_COUNT_MAX; i++)
		live += SNAP_WORD_STATE(atomic_load(&space->slots[i].word)) == SNAP_SLOT_LIVE;
	return live;
}

void dbos_snap_space_stats(const dbos_snap_space *space, dbos_snap_stats *stats_out)
{
	dbos_snap_space *mutable_space = (dbos_snap_space *)space;
	dbos_snap_stats stats = { 0 };
	stats.snapshots_live = snap_live_count(mutable_space);
	for (uint32_t i = 0; i < DBOS_SNAP_WRITER_COUNT_MAX; i++)
		stats.writers_registered += atomic_load(&mutable_space->writers[i].in_use);
	stats.epoch = atomic_load(&mutable_space->epoch);
	stats.copies_live = atomic_load(&mutable_space->copies_live);
	stats.copies_made = atomic_load(&mutable_space->copies_made);
	stats.copy_races_lost = atomic_load(&mutable_space->copy_races_lost);
	stats.faults_handled = atomic_load(&mutable_space->faults_handled);
	stats.snapshots_taken = atomic_load(&mutable_space->snapshots_taken);
	*stats_out = stats;
}

/* ---- Writers ---------------------------------------------------------------- */

dbos_status dbos_snap_writer_register(dbos_snap_space *space, dbos_snap_writer **writer_out)
{
	if (!space || !writer_out)
		return DBOS_EINVAL;
	for (uint32_t i = 0; i < DBOS_SNAP_WRITER_COUNT_MAX; i++) {
		uint32_t expected = 0;
		if (atomic_compare_exchange_strong(&space->writers[i].in_use, &expected, 1)) {
			DBOS_ASSERT(atomic_load(&space->writers[i].epoch) == 0);
			*writer_out = &space->writers[i];
			return DBOS_OK;
		}
	}
	return DBOS_ELIMIT;
}

void dbos_snap_writer_unregister(dbos_snap_writer *writer)
{
	if (!writer)
		return;
	DBOS_ASSERT(atomic_load(&writer->epoch) == 0); /* not inside a section */
	DBOS_ASSERT(atomic_exchange(&writer->in_use, 0) == 1);
}

void dbos_snap_writer_enter(dbos_snap_writer *writer)
{
	DBOS_ASSERT(atomic_load_explicit(&writer->epoch, memory_order_relaxed) == 0);
	dbos_snap_space *space = writer->space;
	uint64_t epoch = atomic_load(&space->epoch);
	/*
	 * Publish the pin, then re-read the epoch (both sequentially consistent): either take
	 * sees our pin and waits for us, or we see its new epoch and pin that instead.
	 */
	for (;;) {
		atomic_store(&writer->epoch, epoch);
		uint64_t again = atomic_load(&space->epoch);
		if (again == epoch)
			break;
		epoch = again;
	}
}

void dbos_snap_writer_leave(dbos_snap_writer *writer)
{
	DBOS_ASSERT(atomic_load_explicit(&writer->epoch, memory_order_relaxed) != 0);
	/* Only this thread writes its sequence: a plain increment, no locked instruction. */
	uint64_t sequence = atomic_load_explicit(&writer->sequence, memory_order_relaxed);
	atomic_store_explicit(&writer->sequence, sequence + 1, memory_order_relaxed);
	atomic_store_explicit(&writer->epoch, 0, memory_order_release);
}

uint64_t dbos_snap_writer_epoch(const dbos_snap_writer *writer)
{
	return atomic_load_explicit(&((dbos_snap_writer *)writer)->epoch, memory_order_relaxed);
}

dbos_status dbos_snap_write_begin(dbos_snap_writer *writer, uint64_t page, void **page_address_out)
{
	dbos_snap_writer_enter(writer);
	dbos_status status = dbos_snap_page_prepare(writer, page, page_address_out);
	if (status != DBOS_OK)
		dbos_snap_writer_leave(writer);
	return status;
}

void dbos_snap_write_end(dbos_snap_writer *writer)
{
	dbos_snap_writer_leave(writer);
}

static void snap_backoff(uint32_t *spins)
{
	if (++*spins < SNAP_SPIN_COUNT_MAX)
		dbos_platform_relax();
	else
		dbos_platform_yield();
}

void snap_writers_wait(dbos_snap_space *space, uint64_t epoch)
{
	for (uint32_t i = 0; i < DBOS_SNAP_WRITER_COUNT_MAX; i++) {
		struct dbos_snap_writer *writer = &space->writers[i];
		uint64_t sequence = atomic_load(&writer->sequence);
		uint64_t pinned = atomic_load(&writer->epoch);
		uint32_t spins = 0;
		/* Bounded by the writer's section: it leaves (sequence moves) or was already newer. */
		while (pinned != 0 && (epoch == 0 || pinned < epoch) && atomic_load(&writer->sequence) == sequence) {
			snap_backoff(&spins);
			pinned = atomic_load(&writer->epoch);
		}
	}
}
