/*
 * bp_fixture.h - what the buffer-pool C tests share: a scratch directory on
 * a real disk (O_DIRECT works there), pools with small budgets, page
 * contents derived from (pid, generation) so every page can be verified,
 * and memory measurements (resident pages of the pool's region, RSS).
 */
#ifndef BP_FIXTURE_H
#define BP_FIXTURE_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dbos/bufferpool.h"
#include "dbos/platform.h"
#include "dbos_test.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)

static char fixture_dir[256];
static int fixture_files;

static void fixture_setup(void)
{
	snprintf(fixture_dir, sizeof fixture_dir, "/var/tmp/dbos-bp-test-XXXXXX");
	DBOS_ASSERT(mkdtemp(fixture_dir) != NULL);
}

static void fixture_teardown(void)
{
	char command[320];
	snprintf(command, sizeof command, "rm -rf '%s'", fixture_dir);
	DBOS_ASSERT(system(command) == 0);
}

/* A fresh file name in the scratch directory (the file is not created). */
static const char *fixture_path(char *buffer, size_t size)
{
	snprintf(buffer, size, "%s/pool-%d.db", fixture_dir, fixture_files++);
	return buffer;
}

static dbos_bp_config fixture_config(const char *path, uint64_t pool_bytes)
{
	return (dbos_bp_config){
		.path = path, .flags = DBOS_BP_CREATE, .pool_bytes = pool_bytes, .max_pages = 1u << 16
	};
}

static dbos_bp *fixture_open(const dbos_bp_config *config)
{
	dbos_bp *bp = NULL;
	dbos_bp_error error;
	dbos_status status = dbos_bp_open(config, &bp, &error);
	if (status != DBOS_OK) {
		char text[200];
		dbos_bp_error_format(&error, text, sizeof text);
		fprintf(stderr, "dbos_bp_open(%s): %s: %s\n", config->path, dbos_status_name(status), text);
	}
	return bp;
}

static struct dbos_bp_stats fixture_stats(dbos_bp *bp)
{
	struct dbos_bp_stats stats;
	dbos_bp_stats(bp, &stats);
	return stats;
}

/* The payload word `i` of page `pid` at `generation`: every word of every page differs. */
static uint64_t fixture_word(uint64_t pid, uint64_t generation, uint64_t i)
{
	return (pid * 0x9e3779b97f4a7c15ull) ^ (generation << 40) ^ i;
}

static void fixture_fill(void *page, uint32_t page_size, uint64_t pid, uint64_t generation)
{
	uint64_t *words = dbos_bp_payload(page);
	uint64_t count = dbos_bp_page_payload_size(page_size) / sizeof(uint64_t);
	for (uint64_t i = 0; i < count; i++)
		words[i] = fixture_word(pid, generation, i);
}

static bool fixture_verify(const void *page, uint32_t page_size, uint64_t pid, uint64_t generation)
{
	const uint64_t *words = (const uint64_t *)((const uint8_t *)page + DBOS_BP_PAGE_HEADER_SIZE);
	uint64_t count = dbos_bp_page_payload_size(page_size) / sizeof(uint64_t);
	for (uint64_t i = 0; i < count; i++)
		if (words[i] != fixture_word(pid, generation, i))
			return false;
	return true;
}

/* Allocate `count` pages (pids 1..count on a new file) filled at generation 0. */
static bool fixture_populate(dbos_bp *bp, uint64_t count)
{
	uint32_t page_size = dbos_bp_page_size(bp);
	for (uint64_t n = 0; n < count; n++) {
		uint64_t pid;
		void *page;
		if (dbos_bp_allocate(bp, &pid, &page) != DBOS_OK)
			return false;
		fixture_fill(page, page_size, pid, 0);
		if (dbos_bp_unfix_exclusive(bp, pid, true) != DBOS_OK)
			return false;
	}
	return true;
}

/* Pages of [base, base + bytes) the kernel has in memory. */
static uint64_t fixture_resident_pages(const void *base, uint64_t bytes)
{
	uint64_t pages = bytes / DBOS_PAGE_SIZE;
	unsigned char *vector = malloc(pages ? pages : 1);
	DBOS_ASSERT(vector && mincore((void *)base, bytes, vector) == 0);
	uint64_t resident = 0;
	for (uint64_t i = 0; i < pages; i++)
		resident += vector[i] & 1;
	free(vector);
	return resident;
}

/* The process's resident set, from /proc/self/statm. */
static uint64_t fixture_rss_bytes(void)
{
	FILE *file = fopen("/proc/self/statm", "r");
	DBOS_ASSERT(file);
	unsigned long long size = 0, resident = 0;
	DBOS_ASSERT(fscanf(file, "%llu %llu", &size, &resident) == 2);
	fclose(file);
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t fixture_now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* Overwrite `size` bytes of the file at `offset` behind the pool's back. */
static void fixture_poke(const char *path, uint64_t offset, const void *bytes, size_t size)
{
	int fd = open(path, O_WRONLY);
	DBOS_ASSERT(fd >= 0);
	DBOS_ASSERT(pwrite(fd, bytes, size, (off_t)offset) == (ssize_t)size);
	DBOS_ASSERT(fsync(fd) == 0);
	close(fd);
}

static void fixture_peek(const char *path, uint64_t offset, void *bytes, size_t size)
{
	int fd = open(path, O_RDONLY);
	DBOS_ASSERT(fd >= 0);
	DBOS_ASSERT(pread(fd, bytes, size, (off_t)offset) == (ssize_t)size);
	close(fd);
}

#endif /* BP_FIXTURE_H */
