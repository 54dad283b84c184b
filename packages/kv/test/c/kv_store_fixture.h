/*
 * kv_store_fixture.h - what the store's C tests share (test_kv_store*.c,
 * test_kv_crash*.c): a scratch directory on a real disk, small configs, keys and
 * values derived from numbers so every entry can be verified, and helpers that
 * print dbos_kv_last_error when a call fails.
 *
 * Tests that fork do it before this process starts any thread (the gateway's
 * included): a child of a threaded parent would inherit a gateway whose threads
 * do not exist.
 */
#ifndef KV_STORE_FIXTURE_H
#define KV_STORE_FIXTURE_H

#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dbos/kv.h"
#include "dbos/platform.h"
#include "dbos_test.h"
#include "kv_tsan.h"

static char fixture_root[256];
static int fixture_dirs;

static inline void fixture_setup(void)
{
	snprintf(fixture_root, sizeof fixture_root, "/var/tmp/dbos-kv-test-XXXXXX");
	DBOS_ASSERT(mkdtemp(fixture_root) != NULL);
}

static inline void fixture_teardown(void)
{
	char command[320];
	snprintf(command, sizeof command, "rm -rf '%s'", fixture_root);
	DBOS_ASSERT(system(command) == 0);
}

/* A fresh store directory name under the scratch root (not created). */
static inline const char *fixture_dir(char *buffer, size_t size)
{
	snprintf(buffer, size, "%s/store-%d", fixture_root, fixture_dirs++);
	return buffer;
}

/* Small: a 2 MiB cache, checkpoints only when asked. */
static inline dbos_kv_config fixture_config(const char *dir, uint32_t flags)
{
	return (dbos_kv_config){ .dir = dir,
				 .flags = flags,
				 .cache_bytes = 2u << 20,
				 .checkpoint_wal_bytes = UINT64_MAX,
				 .wait_for_lock_ms = 2000 };
}

static inline void fixture_print_error(const char *call, dbos_status status)
{
	dbos_kv_error error;
	dbos_kv_last_error(&error);
	fprintf(stderr, "%s: %s: %s (errno %d, holder %d)\n", call, dbos_status_name(status), error.message,
		(int)error.errno_value, (int)error.holder_pid);
}

static inline dbos_kv *fixture_open(const dbos_kv_config *config)
{
	dbos_kv *kv = NULL;
	dbos_status status = dbos_kv_open(config, &kv);
	if (status != DBOS_OK)
		fixture_print_error("dbos_kv_open", status);
	return kv;
}

/* "key-<n>" zero-padded so keys sort as numbers do. */
static inline uint32_t fixture_key(char *buffer, uint64_t n)
{
	return (uint32_t)snprintf(buffer, 32, "key-%012llu", (unsigned long long)n);
}

/* A value of `size` bytes for (n, generation): every byte depends on both. */
static inline void fixture_value(uint8_t *buffer, uint64_t size, uint64_t n, uint64_t generation)
{
	uint64_t seed = n * 0x9e3779b97f4a7c15ull ^ generation * 0xbf58476d1ce4e5b9ull;
	for (uint64_t i = 0; i < size; i++) {
		seed ^= seed >> 29;
		seed *= 0x94d049bb133111ebull;
		buffer[i] = (uint8_t)(seed >> 56);
	}
}

static inline dbos_status fixture_put(dbos_kv *kv, uint64_t n, uint64_t size, uint64_t generation, uint32_t flags)
{
	char key[32];
	uint8_t *value = malloc(size ? size : 1);
	fixture_value(value, size, n, generation);
	dbos_kv_op op = {
		.type = DBOS_KV_PUT, .key_size = fixture_key(key, n), .key = key, .value = value, .value_size = size
	};
	dbos_status status = dbos_kv_write(kv, &op, 1, flags, NULL);
	if (status != DBOS_OK)
		fixture_print_error("dbos_kv_write", status);
	free(value);
	return status;
}

static inline dbos_status fixture_del(dbos_kv *kv, uint64_t n)
{
	char key[32];
	dbos_kv_op op = { .type = DBOS_KV_DEL, .key_size = fixture_key(key, n), .key = key };
	return dbos_kv_write(kv, &op, 1, 0, NULL);
}

/* Whether key n holds exactly the value of (size, generation) in `view` (NULL: now). */
static inline bool fixture_has(dbos_kv *kv, dbos_kv_view *view, uint64_t n, uint64_t size, uint64_t generation)
{
	char key[32];
	uint32_t key_size = fixture_key(key, n);
	uint8_t *expected = malloc(size ? size : 1), *actual = malloc(size + 1);
	fixture_value(expected, size, n, generation);
	uint64_t actual_size = 0;
	dbos_status status = dbos_kv_get(kv, view, key, key_size, actual, size + 1, &actual_size);
	bool same = status == DBOS_OK && actual_size == size && memcmp(actual, expected, size) == 0;
	free(expected);
	free(actual);
	return same;
}

static inline bool fixture_absent(dbos_kv *kv, dbos_kv_view *view, uint64_t n)
{
	char key[32];
	uint64_t size = 0;
	return dbos_kv_get(kv, view, key, fixture_key(key, n), NULL, 0, &size) == DBOS_ENOENT;
}

static inline struct dbos_kv_stats fixture_stats(dbos_kv *kv)
{
	struct dbos_kv_stats stats;
	dbos_kv_stats(kv, &stats);
	return stats;
}

static inline uint64_t fixture_now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static inline bool fixture_file_exists(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct stat st;
	return stat(path, &st) == 0;
}

#endif /* KV_STORE_FIXTURE_H */
