/*
 * dbos_pool.c - the system under test, @dbos/bufferpool through its C API
 * (dbos/bufferpool.h), and the page file every system reads: written once
 * through the pool (allocate, fill, unfix dirty, flush), so each data page
 * carries the pool's page header (checksum, own id) and the peers read the
 * very bytes dbos reads.
 *
 * The benchmark opens the pool read-only (the workloads only read, like the
 * peers) with the default O_DIRECT I/O through the process's shared gateway.
 * One fix is dbos_bp_fix_shared + dbos_bp_unfix_shared; a batch is
 * dbos_bp_fix_many + dbos_bp_unfix_many (every miss of the batch submitted
 * at once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpbench.h"
#include "dbos/bufferpool.h"

uint64_t bench_page_id(const void *page, uint32_t page_size)
{
	return ((const volatile dbos_bp_page_header *)page)->pid;
}

static void report_error(const dbos_bp *bp, const char *what, dbos_status status)
{
	dbos_bp_error error;
	char text[256] = "";
	if (bp && dbos_bp_last_error(bp, &error) != DBOS_OK)
		dbos_bp_error_format(&error, text, sizeof(text));
	fprintf(stderr, "dbos: %s: status %d %s\n", what, (int)status, text);
}

static int errno_of(dbos_status status)
{
	switch (status) {
	case DBOS_ENOMEM: return ENOMEM;
	case DBOS_ENOENT: return ENOENT;
	case DBOS_EPERM: return EPERM;
	case DBOS_ENOSPC: return ENOSPC;
	case DBOS_EINVAL: return EINVAL;
	default: return EIO;
	}
}

int bench_describe_file(const char *path, uint32_t page_size, struct bench_file *file_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	dbos_bp_file_header header;
	ssize_t got = pread(fd, &header, sizeof(header), 0);
	close(fd);
	if (got != (ssize_t)sizeof(header) || header.magic != DBOS_BP_FILE_MAGIC || header.page_size != page_size ||
	    header.page_count < 2)
		return EINVAL;
	file_out->path = path;
	file_out->page_size = page_size;
	file_out->first_pid = 1;
	file_out->page_count = header.page_count - 1;
	return 0;
}

int bench_prepare(const char *path, uint32_t page_size, uint64_t page_count, struct bench_file *file_out)
{
	if (unlink(path) != 0 && errno != ENOENT)
		return errno;
	dbos_bp_config config = {
		.path = path,
		.page_size = page_size,
		.flags = DBOS_BP_CREATE,
		.pool_bytes = 64ull << 20,
		.evict_batch = 256,
		.max_pages = page_count + 1,
	};
	dbos_bp *bp = NULL;
	dbos_bp_error open_error;
	dbos_status status = dbos_bp_open(&config, &bp, &open_error);
	if (status != DBOS_OK) {
		char text[256];
		dbos_bp_error_format(&open_error, text, sizeof(text));
		fprintf(stderr, "dbos: open %s for writing: %s\n", path, text);
		return errno_of(status);
	}
	for (uint64_t i = 0; i < page_count; i++) {
		uint64_t pid;
		void *page;
		status = dbos_bp_allocate(bp, &pid, &page);
		if (status != DBOS_OK) {
			report_error(bp, "allocate", status);
			break;
		}
		/* Payload: the page id repeated, so a page's bytes differ from every other's. */
		uint64_t *payload = dbos_bp_payload(page);
		for (uint32_t w = 0; w < dbos_bp_page_payload_size(page_size) / 8; w++)
			payload[w] = pid ^ ((uint64_t)w << 40);
		status = dbos_bp_unfix_exclusive(bp, pid, true);
		if (status != DBOS_OK) {
			report_error(bp, "unfix after allocate", status);
			break;
		}
	}
	if (status == DBOS_OK && (status = dbos_bp_flush(bp)) != DBOS_OK)
		report_error(bp, "flush", status);
	dbos_status closed = dbos_bp_close(bp);
	if (status == DBOS_OK)
		status = closed;
	if (status != DBOS_OK)
		return errno_of(status);
	return bench_describe_file(path, page_size, file_out);
}

struct dbos_system {
	dbos_bp *bp;
	char description[DBOS_BP_MECHANISM_LINE_SIZE + 64];
};

static int dbos_open(const struct bench_config *config, void **system_out)
{
	struct dbos_system *system = calloc(1, sizeof(*system));
	if (!system)
		return ENOMEM;
	dbos_bp_config bp_config = {
		.path = config->file.path,
		.page_size = config->file.page_size,
		.flags = DBOS_BP_READ_ONLY,
		.pool_bytes = config->pool_bytes,
	};
	dbos_bp_error error;
	dbos_status status = dbos_bp_open(&bp_config, &system->bp, &error);
	if (status != DBOS_OK) {
		char text[256];
		dbos_bp_error_format(&error, text, sizeof(text));
		fprintf(stderr, "dbos: open %s: %s\n", config->file.path, text);
		free(system);
		return errno_of(status);
	}
	char mechanism[DBOS_BP_MECHANISM_LINE_SIZE];
	dbos_bp_mechanism(system->bp, mechanism, sizeof(mechanism));
	/* The line goes into JSON: keep it to characters that need no escaping. */
	for (char *c = mechanism; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
			*c = ' ';
	snprintf(system->description, sizeof(system->description), "dbos read-only, %s", mechanism);
	*system_out = system;
	return 0;
}

static void *dbos_fix(void *instance, uint64_t pid)
{
	struct dbos_system *system = instance;
	void *page;
	dbos_status status = dbos_bp_fix_shared(system->bp, pid, &page);
	if (status != DBOS_OK) {
		report_error(system->bp, "fix_shared", status);
		return NULL;
	}
	return page;
}

static void dbos_unfix(void *instance, uint64_t pid, void *page)
{
	struct dbos_system *system = instance;
	dbos_status status = dbos_bp_unfix_shared(system->bp, pid);
	if (status != DBOS_OK)
		report_error(system->bp, "unfix_shared", status);
}

static bool dbos_fix_batch(void *instance, const uint64_t *pids, uint32_t count, void **pages_out)
{
	struct dbos_system *system = instance;
	dbos_status status = dbos_bp_fix_many(system->bp, pids, count, DBOS_BP_SHARED, pages_out);
	if (status != DBOS_OK) {
		report_error(system->bp, "fix_many", status);
		return false;
	}
	return true;
}

static void dbos_unfix_batch(void *instance, const uint64_t *pids, uint32_t count, void **pages)
{
	struct dbos_system *system = instance;
	dbos_status status = dbos_bp_unfix_many(system->bp, pids, count, DBOS_BP_SHARED, false);
	if (status != DBOS_OK)
		report_error(system->bp, "unfix_many", status);
}

static void dbos_counters(void *instance, struct bench_counters *out)
{
	struct dbos_system *system = instance;
	struct dbos_bp_stats stats;
	dbos_bp_stats(system->bp, &stats);
	out->reads = stats.misses;
	out->hits = stats.hits;
	out->evictions = stats.evictions;
}

static const char *dbos_describe(void *instance)
{
	return ((struct dbos_system *)instance)->description;
}

static void dbos_close(void *instance)
{
	struct dbos_system *system = instance;
	dbos_status status = dbos_bp_close(system->bp);
	if (status != DBOS_OK)
		fprintf(stderr, "dbos: close: status %d\n", (int)status);
	free(system);
}

const struct bench_system bench_dbos = {
	.name = "dbos",
	.open = dbos_open,
	.fix = dbos_fix,
	.unfix = dbos_unfix,
	.fix_batch = dbos_fix_batch,
	.unfix_batch = dbos_unfix_batch,
	.counters = dbos_counters,
	.describe = dbos_describe,
	.close = dbos_close,
};
