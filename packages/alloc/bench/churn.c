/*
 * churn.c - native benchmark: random-size malloc/free churn, dbos vs the
 * process's malloc on the same sequence, and the cost of returning 1 GiB to
 * the OS.
 *
 *   churn OPS THREADS ROUNDS   one JSON line: the median of ROUNDS alternating runs each
 *   release BYTES              one JSON line per release mechanism
 *
 * Churn: each thread owns SLOTS slots and a private xorshift sequence; every
 * operation picks a slot, frees what is there or allocates 16 B .. 4 KiB and
 * writes its first and last byte.  Both allocators replay identical
 * sequences (same seeds).
 *
 * The peer is whatever malloc the binary is linked with: built plain it is
 * glibc's; built with -DCHURN_PEER_JEMALLOC -ljemalloc or -DCHURN_PEER_MIMALLOC
 * -lmimalloc, the library replaces malloc/free for the whole process (what a
 * user who picks it does).  peer_identify() proves at start that malloc really
 * is that allocator, and the binary refuses to run (exit 3) when it is not.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dbos/alloc.h"

#if defined(CHURN_PEER_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define PEER_NAME "jemalloc"
#elif defined(CHURN_PEER_MIMALLOC)
#include <mimalloc.h>
#define PEER_NAME "mimalloc"
#else
#include <gnu/libc-version.h>
#define PEER_NAME "glibc"
#endif

/* The peer's version when malloc/free really are its own, else NULL. */
static const char *peer_identify(char *version, size_t size)
{
	void *probe = malloc(100);
	if (!probe)
		return NULL;
#if defined(CHURN_PEER_JEMALLOC)
	/* jemalloc answers which arena holds a pointer only for its own pointers. */
	unsigned arena = 0;
	size_t arena_size = sizeof(arena);
	const char *jemalloc_version = NULL;
	size_t version_size = sizeof(jemalloc_version);
	bool ours = mallctl("arenas.lookup", &arena, &arena_size, &probe, sizeof(probe)) == 0 &&
		    mallctl("version", &jemalloc_version, &version_size, NULL, 0) == 0;
	if (ours)
		snprintf(version, size, "%s", jemalloc_version);
#elif defined(CHURN_PEER_MIMALLOC)
	bool ours = mi_is_in_heap_region(probe);
	int mimalloc_version = mi_version();
	if (ours)
		snprintf(version, size, "%d.%d.%d", mimalloc_version / 100, mimalloc_version / 10 % 10,
			 mimalloc_version % 10);
#else
	/* No other allocator has put its malloc in the process (an LD_PRELOAD, say). */
	bool ours = dlsym(RTLD_DEFAULT, "mallctl") == NULL && dlsym(RTLD_DEFAULT, "mi_malloc") == NULL &&
		    dlsym(RTLD_DEFAULT, "tc_malloc") == NULL;
	if (ours)
		snprintf(version, size, "%s", gnu_get_libc_version());
#endif
	free(probe);
	return ours ? version : NULL;
}

#define SLOTS 4096
#define SIZE_MIN 16
#define SIZE_MAX_ 4096

enum which {
	USE_PEER,
	USE_DBOS
};

struct worker {
	pthread_t thread;
	enum which which;
	dbos_alloc_pool *pool;
	uint64_t operations;
	uint64_t seed;
	uint64_t failures;
	void *slots[SLOTS];
	uint32_t sizes[SLOTS];
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

static void *run_worker(void *opaque)
{
	struct worker *w = opaque;
	uint64_t state = w->seed;
	for (uint64_t op = 0; op < w->operations; op++) {
		uint64_t r = next_random(&state);
		uint32_t slot = (uint32_t)(r % SLOTS);
		void *p = w->slots[slot];
		if (p) {
			if (w->which == USE_DBOS) {
				if (dbos_alloc_free(w->pool, p, w->sizes[slot]) != DBOS_OK)
					w->failures++;
			} else {
				free(p);
			}
			w->slots[slot] = NULL;
			continue;
		}
		uint32_t size = SIZE_MIN + (uint32_t)((r >> 32) % (SIZE_MAX_ - SIZE_MIN + 1));
		if (w->which == USE_DBOS) {
			if (dbos_alloc(w->pool, size, 0, &p) != DBOS_OK) {
				w->failures++;
				continue;
			}
		} else {
			p = malloc(size);
		}
		((volatile char *)p)[0] = 1;
		((volatile char *)p)[size - 1] = 1;
		w->slots[slot] = p;
		w->sizes[slot] = size;
	}
	/* Drain, untimed by the caller's choice: included, it is part of the churn. */
	for (uint32_t slot = 0; slot < SLOTS; slot++) {
		if (!w->slots[slot])
			continue;
		if (w->which == USE_DBOS)
			dbos_alloc_free(w->pool, w->slots[slot], w->sizes[slot]);
		else
			free(w->slots[slot]);
		w->slots[slot] = NULL;
	}
	return NULL;
}

static double churn(enum which which, uint64_t operations, int threads, dbos_alloc_pool *pool, uint64_t *failures)
{
	struct worker *workers = calloc((size_t)threads, sizeof(struct worker));
	for (int t = 0; t < threads; t++) {
		workers[t].which = which;
		workers[t].pool = pool;
		workers[t].operations = operations / (uint64_t)threads;
		workers[t].seed = 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1);
	}
	double start = now_seconds();
	for (int t = 0; t < threads; t++)
		pthread_create(&workers[t].thread, NULL, run_worker, &workers[t]);
	for (int t = 0; t < threads; t++)
		pthread_join(workers[t].thread, NULL);
	double seconds = now_seconds() - start;
	*failures = 0;
	for (int t = 0; t < threads; t++)
		*failures += workers[t].failures;
	free(workers);
	return (double)operations / seconds;
}

#define ROUNDS_MAX 15

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *values, int count)
{
	qsort(values, (size_t)count, sizeof(double), compare_double);
	return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

static long rss_bytes(void)
{
	long pages_total = 0, pages_resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2)
		pages_resident = -1;
	if (f)
		fclose(f);
	return pages_resident * sysconf(_SC_PAGESIZE);
}

static void print_release(const char *mechanism, double seconds, long rss_before, long rss_after)
{
	printf("{\"kind\":\"release\",\"mechanism\":\"%s\",\"ms\":%.3f,\"rssBeforeMiB\":%.1f,\"rssAfterMiB\":%.1f}\n",
	       mechanism, seconds * 1e3, rss_before / 1048576.0, rss_after / 1048576.0);
}

static int release(size_t bytes, uint32_t flags, const char *label)
{
	struct dbos_alloc_config config = { .limit_bytes = bytes, .retain_bytes = bytes, .flags = flags };
	dbos_alloc_pool *pool;
	if (dbos_alloc_pool_create(&config, &pool) != DBOS_OK)
		return 1;
	void *p;
	if (dbos_alloc(pool, bytes, 0, &p) != DBOS_OK)
		return 1;
	memset(p, 1, bytes);
	dbos_alloc_free(pool, p, bytes); /* retained: retain_bytes = the whole pool */
	long before = rss_bytes();
	double start = now_seconds();
	size_t released = 0;
	dbos_alloc_trim(pool, 0, &released);
	double seconds = now_seconds() - start;
	print_release(label, seconds, before, rss_bytes());
	struct dbos_alloc_stats stats;
	dbos_alloc_stats_get(pool, &stats);
	fprintf(stderr, "%s: %zu bytes released in %lu discard calls\n", label, released,
		(unsigned long)stats.release_count);
	dbos_alloc_pool_destroy(pool);
	return 0;
}

static void release_glibc(size_t bytes)
{
	char *p = malloc(bytes); /* above the mmap threshold: its own mapping */
	memset(p, 1, bytes);
	__asm__ volatile("" : : "r"(p) : "memory"); /* keep the compiler from eliding malloc+free */
	long before = rss_bytes();
	double start = now_seconds();
	free(p);
	double seconds = now_seconds() - start;
	print_release("glibc free (munmap)", seconds, before, rss_bytes());
}

static void release_munmap(size_t bytes, bool hugepages)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hugepages)
		madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 1, bytes);
	__asm__ volatile("" : : "r"(p) : "memory");
	long before = rss_bytes();
	double start = now_seconds();
	munmap(p, bytes);
	double seconds = now_seconds() - start;
	print_release(hugepages ? "munmap (THP)" : "munmap", seconds, before, rss_bytes());
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "churn") == 0) {
		uint64_t operations = strtoull(argv[2], NULL, 10);
		int threads = atoi(argv[3]);
		int rounds = atoi(argv[4]);
		if (rounds < 1 || rounds > ROUNDS_MAX)
			return 64;
		struct dbos_alloc_config config = { .limit_bytes = (size_t)1 << 30,
						    .prefault_bytes = (size_t)64 << 20,
						    .retain_bytes = (size_t)64 << 20,
						    .flags = DBOS_ALLOC_POOL_HUGEPAGES | DBOS_ALLOC_POOL_POPULATE };
		dbos_alloc_pool *pool;
		if (dbos_alloc_pool_create(&config, &pool) != DBOS_OK)
			return 1;
		char version[64];
		if (!peer_identify(version, sizeof(version))) {
			fprintf(stderr, "churn: malloc is not %s here: refusing to report it as %s\n", PEER_NAME,
				PEER_NAME);
			return 3;
		}
		uint64_t failures_peer, failures_dbos;
		/* Warm both once (page faults, THP), then measure. */
		churn(USE_PEER, operations / 10, threads, NULL, &failures_peer);
		churn(USE_DBOS, operations / 10, threads, pool, &failures_dbos);
		/* Alternate the two so load from the rest of the machine hits both alike; keep medians. */
		double peer_rates[ROUNDS_MAX], dbos_rates[ROUNDS_MAX];
		uint64_t failures_total = 0;
		for (int round = 0; round < rounds; round++) {
			peer_rates[round] = churn(USE_PEER, operations, threads, NULL, &failures_peer);
			dbos_rates[round] = churn(USE_DBOS, operations, threads, pool, &failures_dbos);
			failures_total += failures_dbos;
		}
		failures_dbos = failures_total;
		double peer = median(peer_rates, rounds);
		double dbos = median(dbos_rates, rounds);
		struct dbos_alloc_stats stats;
		dbos_alloc_stats_get(pool, &stats);
		printf("{\"kind\":\"churn\",\"peer\":\"%s\",\"peerVersion\":\"%s\",\"threads\":%d,\"rounds\":%d,"
		       "\"operations\":%llu,\"dbosOpsPerSecond\":%.0f,\"peerOpsPerSecond\":%.0f,\"failures\":%llu,"
		       "\"residentMiB\":%.1f,\"hugepages\":%s}\n",
		       PEER_NAME, version, threads, rounds, (unsigned long long)operations, dbos, peer,
		       (unsigned long long)failures_dbos, stats.resident_bytes / 1048576.0,
		       stats.mechanism.hugepages ? "true" : "false");
		dbos_alloc_pool_destroy(pool);
		return failures_dbos ? 2 : 0;
	}
	if (argc == 3 && strcmp(argv[1], "release") == 0) {
		size_t bytes = strtoull(argv[2], NULL, 10);
		if (release(bytes, DBOS_ALLOC_POOL_HUGEPAGES | DBOS_ALLOC_POOL_POPULATE, "dbos trim (THP)") ||
		    release(bytes, DBOS_ALLOC_POOL_POPULATE, "dbos trim (4 KiB pages)"))
			return 1;
		release_glibc(bytes);
		release_munmap(bytes, false);
		release_munmap(bytes, true);
		return 0;
	}
	fprintf(stderr, "usage: churn churn OPS THREADS ROUNDS | churn release BYTES\n");
	return 64;
}
