/*
 * engine.c - the @dbos/kv C engine alone: random point lookups through dbos_kv_get from several
 * threads, the workload the issue quotes vmcache's B-tree on (8-byte keys, 120-byte values).
 *
 *   kvbench DIR ENTRIES THREADS SECONDS CACHE_BYTES [SMALL_CACHE_BYTES]
 *
 * 1. Open (create) the store in DIR with CACHE_BYTES of buffer pool; load ENTRIES keys in batches
 *    of LOAD_BATCH (no sync: the load is setup, not measured against anything), checkpoint.
 * 2. In memory: THREADS threads look up uniformly chosen loaded keys for WARM_SECONDS, then for
 *    SECONDS counted; every lookup must find its key with the value the load wrote.
 * 3. With SMALL_CACHE_BYTES: close (every page written back), reopen with that buffer pool
 *    (O_DIRECT by default, so the page cache does not hold the data either) and repeat 2; then
 *    again with each thread looking up batches of BATCH keys, dbos_kv_prefetch first (what
 *    getMany does), so a batch's misses of each tree level are read together.
 * One JSON line per phase on stdout; run.ts reads them.
 *
 * Keys are mix64(index) big-endian: distinct (mix64 is a bijection), uniform over the key space, so
 * loading in index order is a random-order load.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbos/kv.h"

#define KEY_BYTES 8u
#define VALUE_BYTES 120u
#define LOAD_BATCH 1000u
#define THREADS_MAX 64u
#define WARM_SECONDS 1.0
#define BATCH 100u

static uint64_t mix64(uint64_t x)
{
	/* splitmix64's finalizer: invertible, so distinct indices give distinct keys. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static void key_of(uint64_t index, uint8_t key[KEY_BYTES])
{
	uint64_t k = mix64(index);
	for (unsigned i = 0; i < KEY_BYTES; i++)
		key[i] = (uint8_t)(k >> (56 - 8 * i));
}

/* The value of `index`: its index in the first 8 bytes (checked on every lookup), then filler. */
static void value_of(uint64_t index, uint8_t value[VALUE_BYTES])
{
	memcpy(value, &index, sizeof index);
	uint64_t x = index;
	for (unsigned i = sizeof index; i < VALUE_BYTES; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		value[i] = (uint8_t)(x >> 56);
	}
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_status(const char *what, dbos_status status)
{
	dbos_kv_error error;
	dbos_kv_last_error(&error);
	fprintf(stderr, "kvbench: %s failed: status %d: %s\n", what, (int)status, error.message);
	exit(1);
}

static dbos_kv *open_store(const char *dir, uint64_t cache_bytes)
{
	dbos_kv_config config;
	memset(&config, 0, sizeof config);
	config.dir = dir;
	config.flags = DBOS_KV_CREATE;
	config.cache_bytes = cache_bytes;
	/* Checkpoints only when asked: a background checkpoint would land in a timed window. */
	config.checkpoint_wal_bytes = UINT64_MAX;
	dbos_kv *kv = NULL;
	dbos_status status = dbos_kv_open(&config, &kv);
	if (status != DBOS_OK)
		die_status("dbos_kv_open", status);
	return kv;
}

static double load(dbos_kv *kv, uint64_t entries)
{
	static dbos_kv_op ops[LOAD_BATCH];
	static uint8_t keys[LOAD_BATCH][KEY_BYTES];
	static uint8_t values[LOAD_BATCH][VALUE_BYTES];
	double start = now_seconds();
	uint64_t lsn = 0;
	for (uint64_t first = 0; first < entries; first += LOAD_BATCH) {
		uint32_t count = (uint32_t)(entries - first < LOAD_BATCH ? entries - first : LOAD_BATCH);
		for (uint32_t i = 0; i < count; i++) {
			key_of(first + i, keys[i]);
			value_of(first + i, values[i]);
			ops[i] = (dbos_kv_op){ .type = DBOS_KV_PUT,
					       .key_size = KEY_BYTES,
					       .value_size = VALUE_BYTES,
					       .key = keys[i],
					       .value = values[i] };
		}
		dbos_status status = dbos_kv_write(kv, ops, count, 0, &lsn);
		if (status != DBOS_OK)
			die_status("dbos_kv_write", status);
	}
	dbos_status status = dbos_kv_wait(kv, lsn, false);
	if (status != DBOS_OK)
		die_status("dbos_kv_wait", status);
	return (double)entries / (now_seconds() - start);
}

struct reader {
	pthread_t thread;
	dbos_kv *kv;
	uint64_t entries;
	uint64_t seed;
	uint32_t batch; /* keys per dbos_kv_prefetch; 1: none, one lookup at a time */
	_Atomic uint64_t lookups;
	uint64_t wrong;
	dbos_status failure;
};

static atomic_bool stop_readers;

/* xorshift64*: a uniform index without a division's bias worth caring about at 2^64. */
static uint64_t next_index(uint64_t *state, uint64_t entries)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (*state * 0x2545f4914f6cdd1dull) % entries;
}

/* Look key `index` up and check its value; false when the store failed. */
static bool lookup_checked(struct reader *reader, uint64_t index, const uint8_t key[KEY_BYTES])
{
	uint8_t value[VALUE_BYTES + 8];
	uint64_t size = 0;
	dbos_status status = dbos_kv_get(reader->kv, NULL, key, KEY_BYTES, value, sizeof value, &size);
	if (status != DBOS_OK) {
		reader->failure = status;
		return false;
	}
	uint64_t stored;
	memcpy(&stored, value, sizeof stored);
	if (size != VALUE_BYTES || stored != index)
		reader->wrong++;
	return true;
}

static void *reader_main(void *argument)
{
	struct reader *reader = argument;
	uint64_t state = reader->seed;
	uint64_t indices[BATCH];
	uint8_t keys[BATCH][KEY_BYTES];
	const void *key_pointers[BATCH];
	uint32_t key_sizes[BATCH];
	for (uint32_t i = 0; i < BATCH; i++) {
		key_pointers[i] = keys[i];
		key_sizes[i] = KEY_BYTES;
	}
	while (!atomic_load_explicit(&stop_readers, memory_order_relaxed)) {
		for (uint32_t i = 0; i < reader->batch; i++) {
			indices[i] = next_index(&state, reader->entries);
			key_of(indices[i], keys[i]);
		}
		if (reader->batch > 1) {
			dbos_status status = dbos_kv_prefetch(reader->kv, key_pointers, key_sizes, reader->batch);
			if (status != DBOS_OK) {
				reader->failure = status;
				break;
			}
		}
		for (uint32_t i = 0; i < reader->batch; i++)
			if (!lookup_checked(reader, indices[i], keys[i]))
				return NULL;
		atomic_fetch_add_explicit(&reader->lookups, reader->batch, memory_order_relaxed);
	}
	return NULL;
}

static uint64_t total_lookups(struct reader *readers, unsigned threads)
{
	uint64_t total = 0;
	for (unsigned t = 0; t < threads; t++)
		total += atomic_load_explicit(&readers[t].lookups, memory_order_relaxed);
	return total;
}

static void sleep_seconds(double seconds)
{
	struct timespec ts = { .tv_sec = (time_t)seconds,
			       .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static void print_json_string(const char *text)
{
	putchar('"');
	for (const char *c = text; *c; c++) {
		if (*c == '"' || *c == '\\')
			putchar('\\');
		if ((unsigned char)*c >= 0x20)
			putchar(*c);
	}
	putchar('"');
}

/* Phase 2 (and 3): THREADS readers, a warm-up, then a counted window; prints one JSON line. */
static void lookups(dbos_kv *kv, const char *phase, uint64_t entries, unsigned threads, uint32_t batch, double seconds,
		    uint64_t cache_bytes, double load_ops_per_second)
{
	static struct reader readers[THREADS_MAX];
	atomic_store(&stop_readers, false);
	for (unsigned t = 0; t < threads; t++) {
		readers[t] = (struct reader){
			.kv = kv, .entries = entries, .seed = 0x9e3779b97f4a7c15ull * (t + 1), .batch = batch
		};
		if (pthread_create(&readers[t].thread, NULL, reader_main, &readers[t]) != 0) {
			fprintf(stderr, "kvbench: pthread_create failed\n");
			exit(1);
		}
	}
	sleep_seconds(WARM_SECONDS);
	struct dbos_kv_stats before;
	dbos_kv_stats(kv, &before);
	uint64_t first = total_lookups(readers, threads);
	double start = now_seconds();
	sleep_seconds(seconds);
	uint64_t last = total_lookups(readers, threads);
	double elapsed = now_seconds() - start;
	struct dbos_kv_stats after;
	dbos_kv_stats(kv, &after);
	atomic_store(&stop_readers, true);
	uint64_t wrong = 0;
	for (unsigned t = 0; t < threads; t++) {
		pthread_join(readers[t].thread, NULL);
		if (readers[t].failure != DBOS_OK)
			die_status("dbos_kv_get", readers[t].failure);
		wrong += readers[t].wrong;
	}
	char mechanism[512];
	dbos_kv_mechanism(kv, mechanism, sizeof mechanism);
	printf("{\"kind\":\"lookup\",\"phase\":\"%s\",\"entries\":%" PRIu64
	       ",\"threads\":%u,\"batch\":%u,\"seconds\":%.3f,"
	       "\"lookupsPerSecond\":%.1f,\"loadOpsPerSecond\":%.1f,\"cacheBytes\":%" PRIu64 ",\"cacheHits\":%" PRIu64
	       ",\"cacheMisses\":%" PRIu64 ",\"treeHeight\":%" PRIu64 ",\"wrong\":%" PRIu64 ",\"mechanism\":",
	       phase, entries, threads, batch, elapsed, (double)(last - first) / elapsed, load_ops_per_second,
	       cache_bytes, after.cache_hits - before.cache_hits, after.cache_misses - before.cache_misses,
	       after.tree_height, wrong);
	print_json_string(mechanism);
	printf("}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: kvbench DIR ENTRIES THREADS SECONDS CACHE_BYTES [SMALL_CACHE_BYTES]\n");
		return 2;
	}
	const char *dir = argv[1];
	uint64_t entries = strtoull(argv[2], NULL, 10);
	unsigned threads = (unsigned)strtoul(argv[3], NULL, 10);
	double seconds = strtod(argv[4], NULL);
	uint64_t cache_bytes = strtoull(argv[5], NULL, 10);
	uint64_t small_cache_bytes = argc == 7 ? strtoull(argv[6], NULL, 10) : 0;
	if (entries == 0 || threads == 0 || threads > THREADS_MAX || seconds <= 0) {
		fprintf(stderr, "kvbench: bad arguments\n");
		return 2;
	}

	/* 1. Load and checkpoint. */
	dbos_kv *kv = open_store(dir, cache_bytes);
	double load_ops_per_second = load(kv, entries);
	dbos_status status = dbos_kv_checkpoint(kv);
	if (status != DBOS_OK)
		die_status("dbos_kv_checkpoint", status);

	/* 2. In memory. */
	lookups(kv, "in-memory", entries, threads, 1, seconds, cache_bytes, load_ops_per_second);

	/* 3. Out of memory: reopen with the small buffer pool. */
	if (small_cache_bytes) {
		status = dbos_kv_close(kv);
		if (status != DBOS_OK)
			die_status("dbos_kv_close", status);
		kv = open_store(dir, small_cache_bytes);
		lookups(kv, "out-of-memory", entries, threads, 1, seconds, small_cache_bytes, 0);
		lookups(kv, "out-of-memory", entries, threads, BATCH, seconds, small_cache_bytes, 0);
	}
	status = dbos_kv_close(kv);
	if (status != DBOS_OK)
		die_status("dbos_kv_close", status);
	return 0;
}
