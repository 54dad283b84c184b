/*
 * bp_open.c - opening a page file as a pool, closing it, reading its numbers.
 *
 * Open checks the file header before anything else: a file that is not
 * ours, a newer format, another page size or a damaged header is refused
 * with its own code and reason.  The pool then reserves address space for
 * max_pages pages and their state words (no memory until committed, and
 * committed memory costs nothing until touched) and marks every page
 * evicted.
 */
#include "bp_internal.h"
#include "dbos/io_linux.h"

#define BP_CLOSE_POLL_NS 1000000ull

static dbos_status bp_open_fail(dbos_bp_error *error_out, dbos_status status, enum dbos_bp_reason reason,
				int32_t errno_value, uint64_t found, uint64_t expected)
{
	if (error_out)
		*error_out = (dbos_bp_error){ .status = status,
					      .reason = reason,
					      .errno_value = errno_value,
					      .found = found,
					      .expected = expected };
	return status;
}

static dbos_status bp_run_one(dbos_gateway *gateway, dbos_io_op *op, int64_t *result)
{
	dbos_status status = dbos_gateway_run(gateway, op, result, 1);
	if (status != DBOS_OK)
		*result = -5;
	return status;
}

static bool bp_page_size_valid(uint32_t page_size)
{
	return DBOS_IS_POWER_OF_TWO(page_size) && page_size >= DBOS_BP_PAGE_SIZE_MIN &&
	       page_size <= DBOS_BP_PAGE_SIZE_MAX;
}

static uint32_t bp_log2(uint64_t value)
{
	return 63u - (uint32_t)__builtin_clzll(value);
}

/* Page-aligned zeroed memory from the platform (reserve + commit), for what O_DIRECT or alignment needs. */
static void *bp_map(size_t size)
{
	void *address = NULL;
	size = DBOS_ALIGN_UP(size, DBOS_PAGE_SIZE);
	if (dbos_platform_reserve(size, DBOS_PAGE_SIZE, &address) != DBOS_OK)
		return NULL;
	if (dbos_platform_commit(address, size, DBOS_PROT_READ_WRITE) != DBOS_OK) {
		dbos_platform_unreserve(address, size);
		return NULL;
	}
	return address;
}

static void bp_unmap(void *address, size_t size)
{
	if (address)
		dbos_platform_unreserve(address, DBOS_ALIGN_UP(size, DBOS_PAGE_SIZE));
}

/* Open the file: O_DIRECT unless buffered was asked for or the filesystem refuses it (tmpfs). */
static dbos_status bp_open_file(dbos_bp *bp, const dbos_bp_config *config, dbos_bp_error *error_out)
{
	uint32_t flags = DBOS_IO_O_CLOEXEC | ((config->flags & DBOS_BP_READ_ONLY) ? DBOS_IO_O_RDONLY : DBOS_IO_O_RDWR);
	if ((config->flags & DBOS_BP_CREATE) && !(config->flags & DBOS_BP_READ_ONLY))
		flags |= DBOS_IO_O_CREAT;
	bool want_direct = !(config->flags & DBOS_BP_BUFFERED);
	dbos_io_op op = { .opcode = DBOS_IO_OPENAT,
			  .fd = DBOS_IO_AT_FDCWD,
			  .path = (uint64_t)(uintptr_t)config->path,
			  .flags = flags | (want_direct ? DBOS_IO_O_DIRECT : 0),
			  .mode = 0644 };
	int64_t result = 0;
	bp_run_one(bp->gateway, &op, &result);
	const char *file_mode = want_direct ? "O_DIRECT" : "buffered (requested)";
	if (want_direct && result == -DBOS_IO_EINVAL) {
		op.flags = flags;
		bp_run_one(bp->gateway, &op, &result);
		file_mode = "buffered (O_DIRECT refused by the filesystem: EINVAL)";
		want_direct = false;
	}
	if (result < 0)
		return bp_open_fail(error_out, dbos_io_status(result), DBOS_BP_REASON_IO, (int32_t)-result, 0, 0);
	bp->fd = (int32_t)result;
	bp->direct = want_direct;
	bp->file_mode = file_mode;
	int32_t lock_errno = 0;
	dbos_status status = bp_runtime_lock_file(bp->fd, !(config->flags & DBOS_BP_READ_ONLY), &lock_errno);
	if (status == DBOS_EBUSY)
		return bp_open_fail(error_out, status, DBOS_BP_REASON_LOCKED, 0, 0, 0);
	if (status != DBOS_OK)
		return bp_open_fail(error_out, status, DBOS_BP_REASON_IO, lock_errno, 0, 0);
	return DBOS_OK;
}

/* The mechanism line: what this pool really runs on. */
static void bp_mechanism_format(dbos_bp *bp)
{
	char *text = bp->mechanism;
	size_t size = sizeof bp->mechanism, length = 0;
	length = bp_append(text, size, length, "io: ");
	length = bp_append(text, size, length, dbos_gateway_backend_name(dbos_gateway_backend_of(bp->gateway)));
	length = bp_append(text, size, length, " gateway; file: ");
	length = bp_append(text, size, length, bp->file_mode);
	length = bp_append(text, size, length, "; eviction: clock, batches of ");
	length = bp_append_u64(text, size, length, bp->evict_batch, false);
	length = bp_append(text, size, length, ", discard: ");
	length = bp_append(text, size, length, dbos_platform_discard_ranges_mechanism());
	length = bp_append(text, size, length, "; checksum: CRC32C by ");
	bp_append(text, size, length, dbos_crc32c_implementation());
}

static dbos_status bp_file_size(dbos_bp *bp, uint64_t *size_out, dbos_bp_error *error_out)
{
	dbos_statx statx;
	__builtin_memset(&statx, 0, sizeof statx);
	dbos_io_op op = { .opcode = DBOS_IO_STATX,
			  .fd = bp->fd,
			  .path = (uint64_t)(uintptr_t) "",
			  .flags = DBOS_IO_AT_EMPTY_PATH,
			  .mode = DBOS_IO_STATX_SIZE,
			  .address = (uint64_t)(uintptr_t)&statx };
	int64_t result = 0;
	bp_run_one(bp->gateway, &op, &result);
	if (result < 0)
		return bp_open_fail(error_out, dbos_io_status(result), DBOS_BP_REASON_IO, (int32_t)-result, 0, 0);
	*size_out = statx.size;
	return DBOS_OK;
}

/* Check the header read into bp->header_page and adopt its numbers. */
static dbos_status bp_header_check(dbos_bp *bp, uint32_t wanted_page_size, uint64_t file_size, dbos_bp_error *error_out)
{
	dbos_bp_file_header header;
	__builtin_memcpy(&header, bp->header_page, sizeof header);
	if (header.magic != DBOS_BP_FILE_MAGIC)
		return bp_open_fail(error_out, DBOS_EINVAL, DBOS_BP_REASON_FOREIGN_FILE, 0, header.magic,
				    DBOS_BP_FILE_MAGIC);
	if (header.format_version > DBOS_BP_FORMAT_VERSION)
		return bp_open_fail(error_out, DBOS_ENOTSUP, DBOS_BP_REASON_NEWER_VERSION, 0, header.format_version,
				    DBOS_BP_FORMAT_VERSION);
	uint32_t stored = header.checksum;
	header.checksum = 0;
	uint32_t computed = dbos_crc32c(0, &header, sizeof header);
	if (stored != computed)
		return bp_open_fail(error_out, DBOS_ECORRUPT, DBOS_BP_REASON_HEADER_CHECKSUM, 0, stored, computed);
	if (header.format_version == 0 || !bp_page_size_valid(header.page_size) || header.page_count == 0 ||
	    header.free_head >= header.page_count || header.free_count >= header.page_count)
		return bp_open_fail(error_out, DBOS_EINVAL, DBOS_BP_REASON_FOREIGN_FILE, 0, 0, 0);
	if (wanted_page_size && wanted_page_size != header.page_size)
		return bp_open_fail(error_out, DBOS_ERANGE, DBOS_BP_REASON_PAGE_SIZE_MISMATCH, 0, header.page_size,
				    wanted_page_size);
	bp->page_size = header.page_size;
	bp->page_shift = bp_log2(header.page_size);
	if (header.page_count > bp->max_pages)
		return bp_open_fail(error_out, DBOS_ELIMIT, DBOS_BP_REASON_FILE_TOO_LARGE, 0, header.page_count,
				    bp->max_pages);
	atomic_store_explicit(&bp->page_count, header.page_count, memory_order_relaxed);
	atomic_store_explicit(&bp->free_head, header.free_head, memory_order_relaxed);
	atomic_store_explicit(&bp->free_count, header.free_count, memory_order_relaxed);
	bp->file_pages = file_size >> bp->page_shift;
	return DBOS_OK;
}

static dbos_status bp_header_read(dbos_bp *bp, dbos_bp_error *error_out)
{
	dbos_io_op op = { .opcode = DBOS_IO_PREAD,
			  .fd = bp->fd,
			  .address = (uint64_t)(uintptr_t)bp->header_page,
			  .length = BP_FILE_HEADER_BYTES };
	int64_t result = 0;
	bp_run_one(bp->gateway, &op, &result);
	if (result < 0)
		return bp_open_fail(error_out, dbos_io_status(result), DBOS_BP_REASON_IO, (int32_t)-result, 0, 0);
	if (result < (int64_t)sizeof(dbos_bp_file_header))
		return bp_open_fail(error_out, DBOS_EINVAL, DBOS_BP_REASON_FOREIGN_FILE, 0, (uint64_t)result,
				    BP_FILE_HEADER_BYTES);
	return DBOS_OK;
}

/* Address space for max_pages pages and their state words; memory for the pages the file has. */
static dbos_status bp_reserve(dbos_bp *bp)
{
	bp->pages_reserved_bytes = (size_t)bp->max_pages << bp->page_shift;
	bp->states_reserved_bytes = DBOS_ALIGN_UP((size_t)bp->max_pages * sizeof(uint64_t), DBOS_PAGE_SIZE);
	void *pages = NULL, *states = NULL;
	dbos_status status = dbos_platform_reserve(bp->pages_reserved_bytes, bp->page_size, &pages);
	if (status != DBOS_OK)
		return status;
	bp->pages = pages;
	status = dbos_platform_reserve(bp->states_reserved_bytes, DBOS_PAGE_SIZE, &states);
	if (status != DBOS_OK)
		return status;
	bp->states = states;
	uint64_t page_count = atomic_load_explicit(&bp->page_count, memory_order_relaxed);
	status = bp_commit_to(bp, page_count);
	if (status != DBOS_OK)
		return status;
	atomic_store_explicit(&bp->states[0], (uint64_t)BP_IO << BP_STATE_SHIFT, memory_order_relaxed); /* the header */
	for (uint64_t pid = 1; pid < page_count; pid++)
		atomic_store_explicit(&bp->states[pid], (uint64_t)BP_EVICTED << BP_STATE_SHIFT, memory_order_relaxed);
	return DBOS_OK;
}

static dbos_status bp_scratch_alloc(dbos_bp *bp)
{
	uint32_t budget = bp->budget_pages, batch = bp->evict_batch;
	/*
	 * Slot tables sized for the budget but touched only as slots come into
	 * use, so a generous pool_bytes costs address space, not memory.
	 */
	bp->slots_bytes = DBOS_ALIGN_UP((size_t)budget * sizeof *bp->slot_pid, DBOS_PAGE_SIZE);
	uint8_t *slots = bp_map(2 * bp->slots_bytes);
	if (slots) {
		bp->slot_pid = (_Atomic uint64_t *)slots;
		bp->free_slots = (uint32_t *)(slots + bp->slots_bytes);
	}
	bp->evict_victims = dbos_platform_alloc((size_t)batch * sizeof *bp->evict_victims);
	bp->evict_pids = dbos_platform_alloc((size_t)batch * sizeof *bp->evict_pids);
	bp->evict_addresses = dbos_platform_alloc((size_t)batch * sizeof *bp->evict_addresses);
	bp->evict_index = dbos_platform_alloc((size_t)batch * sizeof *bp->evict_index);
	bp->evict_ops = dbos_platform_alloc((size_t)batch * sizeof *bp->evict_ops);
	bp->evict_results = dbos_platform_alloc((size_t)batch * sizeof *bp->evict_results);
	bp->evict_ranges = dbos_platform_alloc((size_t)batch * sizeof *bp->evict_ranges);
	bp->flush_pids = dbos_platform_alloc((size_t)batch * sizeof *bp->flush_pids);
	bp->flush_addresses = dbos_platform_alloc((size_t)batch * sizeof *bp->flush_addresses);
	bp->flush_ops = dbos_platform_alloc((size_t)batch * sizeof *bp->flush_ops);
	bp->flush_results = dbos_platform_alloc((size_t)batch * sizeof *bp->flush_results);
	if (!bp->slot_pid || !bp->free_slots || !bp->evict_victims || !bp->evict_pids || !bp->evict_addresses ||
	    !bp->evict_index || !bp->evict_ops || !bp->evict_results || !bp->evict_ranges || !bp->flush_pids ||
	    !bp->flush_addresses || !bp->flush_ops || !bp->flush_results)
		return DBOS_ENOMEM;
	return DBOS_OK;
}

#define BP_FREE(field, count) (bp->field ? dbos_platform_free(bp->field, (size_t)(count) * sizeof *bp->field) : (void)0)

static void bp_destroy(dbos_bp *bp)
{
	if (bp->fd >= 0) {
		dbos_io_op op = { .opcode = DBOS_IO_CLOSE, .fd = bp->fd };
		int64_t result;
		bp_run_one(bp->gateway, &op, &result);
	}
	if (bp->pages)
		dbos_platform_unreserve(bp->pages, bp->pages_reserved_bytes);
	if (bp->states)
		dbos_platform_unreserve((void *)bp->states, bp->states_reserved_bytes);
	bp_unmap(bp->slot_pid, 2 * bp->slots_bytes);
	BP_FREE(evict_victims, bp->evict_batch);
	BP_FREE(evict_pids, bp->evict_batch);
	BP_FREE(evict_addresses, bp->evict_batch);
	BP_FREE(evict_index, bp->evict_batch);
	BP_FREE(evict_ops, bp->evict_batch);
	BP_FREE(evict_results, bp->evict_batch);
	BP_FREE(evict_ranges, bp->evict_batch);
	BP_FREE(flush_pids, bp->evict_batch);
	BP_FREE(flush_addresses, bp->evict_batch);
	BP_FREE(flush_ops, bp->evict_batch);
	BP_FREE(flush_results, bp->evict_batch);
	bp_unmap(bp->header_page, BP_FILE_HEADER_BYTES);
	bp_unmap(bp, sizeof *bp);
}

static dbos_status bp_config_check(const dbos_bp_config *config)
{
	const uint32_t known = DBOS_BP_CREATE | DBOS_BP_BUFFERED | DBOS_BP_READ_ONLY;
	if (!config->path || (config->flags & ~known) || config->reserved)
		return DBOS_EINVAL;
	if (config->page_size && !bp_page_size_valid(config->page_size))
		return DBOS_EINVAL;
	if (config->evict_batch > DBOS_BP_EVICT_BATCH_MAX)
		return DBOS_EINVAL;
	return DBOS_OK;
}

/* Budget, batch and bound, once the page size is known. */
static dbos_status bp_size(dbos_bp *bp, const dbos_bp_config *config, dbos_bp_error *error_out)
{
	uint64_t budget = config->pool_bytes >> bp->page_shift;
	if (budget < DBOS_BP_POOL_PAGES_MIN || budget > UINT32_MAX)
		return bp_open_fail(error_out, DBOS_EINVAL, DBOS_BP_REASON_NONE, 0, budget, DBOS_BP_POOL_PAGES_MIN);
	bp->budget_pages = (uint32_t)budget;
	uint32_t batch = config->evict_batch ? config->evict_batch : DBOS_BP_EVICT_BATCH_DEFAULT;
	if (batch > bp->budget_pages / 2)
		batch = bp->budget_pages / 2;
	bp->evict_batch = batch;
	return DBOS_OK;
}

dbos_status dbos_bp_open(const dbos_bp_config *config, dbos_bp **bp_out, dbos_bp_error *error_out)
{
	if (error_out)
		*error_out = (dbos_bp_error){ .status = DBOS_OK };
	if (!config || !bp_out)
		return bp_open_fail(error_out, DBOS_EINVAL, DBOS_BP_REASON_NONE, 0, 0, 0);
	*bp_out = NULL;
	dbos_status status = bp_config_check(config);
	if (status != DBOS_OK)
		return bp_open_fail(error_out, status, DBOS_BP_REASON_NONE, 0, 0, 0);
	dbos_bp *bp = bp_map(sizeof *bp);
	if (!bp)
		return bp_open_fail(error_out, DBOS_ENOMEM, DBOS_BP_REASON_NONE, 0, 0, 0);
	bp->fd = -1;
	bp->flags = config->flags;
	bp->durable_lsn = config->durable_lsn;
	bp->before_write = config->before_write;
	bp->hook_context = config->hook_context;
	bp->gateway = config->gateway;
	if (!bp->gateway && (status = dbos_gateway_shared(&bp->gateway)) != DBOS_OK)
		goto fail;
	bp->header_page = bp_map(BP_FILE_HEADER_BYTES);
	if (!bp->header_page) {
		status = DBOS_ENOMEM;
		goto fail;
	}
	/* Budget and batch for the mechanism line come from the wanted page size; fixed below if adopted. */
	bp->page_size = config->page_size ? config->page_size : DBOS_BP_PAGE_SIZE_DEFAULT;
	bp->page_shift = bp_log2(bp->page_size);
	if ((status = bp_size(bp, config, error_out)) != DBOS_OK)
		goto fail_detailed;
	if ((status = bp_open_file(bp, config, error_out)) != DBOS_OK)
		goto fail_detailed;
	uint64_t file_size = 0;
	if ((status = bp_file_size(bp, &file_size, error_out)) != DBOS_OK)
		goto fail_detailed;

	bool create = file_size == 0 && (config->flags & DBOS_BP_CREATE) && !(config->flags & DBOS_BP_READ_ONLY);
	if (create) {
		atomic_store_explicit(&bp->page_count, 1, memory_order_relaxed);
	} else {
		if (file_size < BP_FILE_HEADER_BYTES) {
			status = bp_open_fail(error_out, DBOS_EINVAL, DBOS_BP_REASON_FOREIGN_FILE, 0, file_size,
					      BP_FILE_HEADER_BYTES);
			goto fail_detailed;
		}
		if ((status = bp_header_read(bp, error_out)) != DBOS_OK)
			goto fail_detailed;
		/* max_pages depends on the page size the file has. */
		uint32_t file_page_size = ((const dbos_bp_file_header *)bp->header_page)->page_size;
		uint32_t shift = bp_page_size_valid(file_page_size) ? bp_log2(file_page_size) : bp->page_shift;
		bp->max_pages = config->max_pages ? config->max_pages : DBOS_BP_MAX_BYTES_DEFAULT >> shift;
		if ((status = bp_header_check(bp, config->page_size, file_size, error_out)) != DBOS_OK)
			goto fail_detailed;
		if ((status = bp_size(bp, config, error_out)) != DBOS_OK)
			goto fail_detailed;
	}
	if (!bp->max_pages)
		bp->max_pages = config->max_pages ? config->max_pages : DBOS_BP_MAX_BYTES_DEFAULT >> bp->page_shift;
	if (bp->max_pages < 2 || bp->max_pages > ((uint64_t)1 << 46) >> bp->page_shift) {
		status = bp_open_fail(error_out, DBOS_EINVAL, DBOS_BP_REASON_NONE, 0, bp->max_pages, 0);
		goto fail_detailed;
	}
	if ((status = bp_reserve(bp)) != DBOS_OK || (status = bp_scratch_alloc(bp)) != DBOS_OK)
		goto fail;
	if (create) {
		/* The header page, on disk before the pool is handed out. */
		dbos_mutex_lock(&bp->alloc_lock);
		status = bp_grow_file(bp, 1);
		dbos_mutex_unlock(&bp->alloc_lock);
		if (status == DBOS_OK)
			status = bp_write_file_header(bp);
		if (status == DBOS_OK)
			status = bp_sync(bp);
		if (status != DBOS_OK) {
			dbos_bp_last_error(bp, error_out);
			goto fail_detailed;
		}
	}
	bp_mechanism_format(bp);
	*bp_out = bp;
	return DBOS_OK;

fail:
	bp_open_fail(error_out, status, DBOS_BP_REASON_NONE, 0, 0, 0);
fail_detailed:
	bp_destroy(bp);
	return status;
}

/* A page fixed by someone (shared or exclusive), or 0. */
static uint64_t bp_first_fixed(dbos_bp *bp)
{
	uint64_t page_count = atomic_load_explicit(&bp->page_count, memory_order_acquire);
	for (uint64_t pid = 1; pid < page_count; pid++) {
		uint32_t state = bp_state(atomic_load_explicit(&bp->states[pid], memory_order_relaxed));
		if ((state >= 1 && state <= BP_SHARED_MAX) || state == BP_EXCLUSIVE)
			return pid;
	}
	return 0;
}

dbos_status dbos_bp_close(dbos_bp *bp)
{
	if (!bp)
		return DBOS_EINVAL;
	/* Prefetches in flight finish on gateway threads; their pages are in BP_IO until then. */
	for (uint32_t inflight; (inflight = atomic_load_explicit(&bp->prefetches_in_flight, memory_order_acquire));)
		dbos_platform_wait((const uint32_t *)&bp->prefetches_in_flight, inflight, BP_CLOSE_POLL_NS);
	if (bp_first_fixed(bp))
		return DBOS_EBUSY;
	dbos_status status = dbos_bp_flush(bp);
	bp_destroy(bp);
	return status;
}

void dbos_bp_stats(const dbos_bp *bp, struct dbos_bp_stats *stats_out)
{
	if (!bp || !stats_out)
		return;
	struct dbos_bp_stats stats = { 0 };
	for (uint32_t i = 0; i < BP_STRIPES; i++) {
		stats.hits += atomic_load_explicit(&bp->stripes[i].hits, memory_order_relaxed);
		stats.misses += atomic_load_explicit(&bp->stripes[i].misses, memory_order_relaxed);
		stats.optimistic_restarts +=
			atomic_load_explicit(&bp->stripes[i].optimistic_restarts, memory_order_relaxed);
	}
	stats.evictions = atomic_load_explicit(&bp->evictions, memory_order_relaxed);
	stats.pages_written = atomic_load_explicit(&bp->pages_written, memory_order_relaxed);
	stats.reads_in_flight = atomic_load_explicit(&bp->reads_in_flight, memory_order_relaxed);
	stats.writes_in_flight = atomic_load_explicit(&bp->writes_in_flight, memory_order_relaxed);
	stats.resident_pages = atomic_load_explicit(&bp->resident_pages, memory_order_relaxed);
	stats.resident_bytes = stats.resident_pages << bp->page_shift;
	stats.budget_pages = bp->budget_pages;
	stats.dirty_pages = atomic_load_explicit(&bp->dirty_pages, memory_order_relaxed);
	stats.held_back = atomic_load_explicit(&bp->held_back, memory_order_relaxed);
	stats.page_count = atomic_load_explicit(&bp->page_count, memory_order_relaxed);
	stats.free_pages = atomic_load_explicit(&bp->free_count, memory_order_relaxed);
	stats.page_size = bp->page_size;
	*stats_out = stats;
}

uint32_t dbos_bp_page_size(const dbos_bp *bp)
{
	return bp ? bp->page_size : 0;
}

uint64_t dbos_bp_page_count(const dbos_bp *bp)
{
	return bp ? atomic_load_explicit(&bp->page_count, memory_order_acquire) : 0;
}

void dbos_bp_mechanism(const dbos_bp *bp, char *text, size_t size)
{
	if (!text || !size)
		return;
	text[0] = '\0';
	if (bp)
		bp_append(text, size, 0, bp->mechanism);
}
