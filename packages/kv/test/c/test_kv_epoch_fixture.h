/*
 * test_kv_epoch_fixture.h - what the epoch and checkpoint tests share: a
 * scratch directory on a real disk, a buffer pool whose before_write hook is
 * a struct kv_epochs, and page contents derived from (pid, generation) so
 * every page read can be checked against the generation it should hold.
 */
#ifndef TEST_KV_EPOCH_FIXTURE_H
#define TEST_KV_EPOCH_FIXTURE_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../csrc/kv_internal.h"
#include "dbos/platform.h"
#include "dbos_test.h"
#include "kv_tsan.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)

static char fixture_dir[256];
static int fixture_files;

static inline void fixture_setup(void)
{
	snprintf(fixture_dir, sizeof fixture_dir, "/var/tmp/dbos-kv-epoch-test-XXXXXX");
	DBOS_ASSERT(mkdtemp(fixture_dir) != NULL);
}

static inline void fixture_teardown(void)
{
	char command[320];
	snprintf(command, sizeof command, "rm -rf '%s'", fixture_dir);
	DBOS_ASSERT(system(command) == 0);
}

/* A pool over a fresh file in the scratch directory, its hook feeding a new struct kv_epochs. */
struct fixture_pool {
	char path[300];
	dbos_bp *bp;
	struct kv_epochs *epochs;
};

/* page_size 0: the pool's default (4 KiB). */
static inline bool fixture_pool_open_sized(struct fixture_pool *pool, uint64_t pool_bytes, uint32_t page_size)
{
	snprintf(pool->path, sizeof pool->path, "%s/pool-%d.db", fixture_dir, fixture_files++);
	pool->epochs = kv_epochs_create(NULL); /* as the store does: the hook context exists before the pool */
	if (!pool->epochs)
		return false;
	dbos_bp_config config = { .path = pool->path,
				  .flags = DBOS_BP_CREATE,
				  .pool_bytes = pool_bytes,
				  .page_size = page_size,
				  .max_pages = 1u << 20,
				  .before_write = kv_epochs_before_write,
				  .hook_context = pool->epochs };
	dbos_bp_error error;
	dbos_status status = dbos_bp_open(&config, &pool->bp, &error);
	if (status != DBOS_OK) {
		fprintf(stderr, "dbos_bp_open(%s): %s\n", pool->path, dbos_status_name(status));
		kv_epochs_destroy(pool->epochs);
		return false;
	}
	kv_epochs_attach(pool->epochs, pool->bp);
	return true;
}

static inline bool fixture_pool_open(struct fixture_pool *pool, uint64_t pool_bytes)
{
	return fixture_pool_open_sized(pool, pool_bytes, 0);
}

static inline void fixture_pool_close(struct fixture_pool *pool)
{
	CHECK_EQ(dbos_bp_close(pool->bp), DBOS_OK);
	kv_epochs_destroy(pool->epochs);
}

/* The payload word `i` of page `pid` at `generation`: every word of every page differs. */
static inline uint64_t fixture_word(uint64_t pid, uint64_t generation, uint64_t i)
{
	return (pid * 0x9e3779b97f4a7c15ull) ^ (generation << 40) ^ i;
}

static inline void fixture_fill(void *page, uint32_t page_size, uint64_t pid, uint64_t generation)
{
	uint64_t *words = dbos_bp_payload(page);
	uint64_t count = dbos_bp_page_payload_size(page_size) / sizeof(uint64_t);
	for (uint64_t i = 0; i < count; i++)
		words[i] = fixture_word(pid, generation, i);
}

static inline bool fixture_verify(const void *page, uint32_t page_size, uint64_t pid, uint64_t generation)
{
	const uint64_t *words = (const uint64_t *)((const uint8_t *)page + DBOS_BP_PAGE_HEADER_SIZE);
	uint64_t count = dbos_bp_page_payload_size(page_size) / sizeof(uint64_t);
	for (uint64_t i = 0; i < count; i++)
		if (words[i] != fixture_word(pid, generation, i))
			return false;
	return true;
}

/* Allocate `count` new pages filled at generation 0. */
static inline bool fixture_populate(dbos_bp *bp, uint64_t count)
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

/* Rewrite page `pid` at `generation` through an exclusive fix (the hook runs). */
static inline bool fixture_rewrite(dbos_bp *bp, uint64_t pid, uint64_t generation)
{
	void *page;
	if (dbos_bp_fix_exclusive(bp, pid, &page) != DBOS_OK)
		return false;
	fixture_fill(page, dbos_bp_page_size(bp), pid, generation);
	return dbos_bp_unfix_exclusive(bp, pid, true) == DBOS_OK;
}

/* Page `pid` as the pool has it now holds `generation`. */
static inline bool fixture_current_is(dbos_bp *bp, uint64_t pid, uint64_t generation)
{
	void *page;
	if (dbos_bp_fix_shared(bp, pid, &page) != DBOS_OK)
		return false;
	bool same = fixture_verify(page, dbos_bp_page_size(bp), pid, generation);
	return dbos_bp_unfix_shared(bp, pid) == DBOS_OK && same;
}

/* Page `pid` read through the epoch holds `generation`. */
static inline bool fixture_epoch_is(struct kv_epoch *epoch, uint32_t page_size, uint64_t pid, uint64_t generation)
{
	struct kv_epoch_pin pin;
	if (kv_epoch_fix(epoch, pid, &pin) != DBOS_OK)
		return false;
	bool same = pin.pid == pid && fixture_verify(pin.page, page_size, pid, generation);
	kv_epoch_unfix(epoch, &pin);
	return same;
}

/* Page `pid` read through the epoch is a free-chain page. */
static inline bool fixture_epoch_is_free(struct kv_epoch *epoch, uint64_t pid)
{
	struct kv_epoch_pin pin;
	if (kv_epoch_fix(epoch, pid, &pin) != DBOS_OK)
		return false;
	bool free = (((const dbos_bp_page_header *)pin.page)->flags & DBOS_BP_PAGE_FREE) != 0;
	kv_epoch_unfix(epoch, &pin);
	return free;
}

static inline uint64_t fixture_now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

#endif /* TEST_KV_EPOCH_FIXTURE_H */
