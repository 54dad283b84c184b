/*
 * hashpool.c - peer (a): the classic buffer pool a competent engineer writes
 * without page-table tricks, as in PostgreSQL or InnoDB.
 *
 *   frames     a fixed array of pool_bytes / page_size page frames (one
 *              anonymous mapping), plus a descriptor per frame: page id,
 *              pin count, reference bit, load state;
 *   hash       page id -> frame, chained through the descriptors, buckets
 *              = 2 x frames, guarded by 1024 striped spin latches (a hit
 *              holds one for a hash probe and a pin: tens of nanoseconds);
 *   eviction   clock (second chance) over the frames: skip pinned frames,
 *              clear set reference bits, take the first frame found clear;
 *   misses     one synchronous pread with O_DIRECT into the frame (no page
 *              cache: the pool is the cache), other threads asking for the
 *              page meanwhile sleep on the frame's state word (futex).
 *
 * Read-only: the benchmark never dirties a page, so there is no write-back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpbench.h"

#define HP_STRIPES 1024u
#define HP_NONE UINT32_MAX
#define HP_NO_PAGE UINT64_MAX

enum {
	FRAME_LOADING = 1,
	FRAME_VALID = 2,
	FRAME_FAILED = 3
};

struct hp_frame {
	_Atomic uint64_t pid;
	_Atomic uint32_t pins;
	_Atomic uint32_t state; /* FRAME_*; futex word while loading */
	_Atomic uint8_t referenced;
	uint32_t next; /* hash chain, guarded by the bucket's stripe */
};

struct hp_stripe {
	_Atomic uint32_t latch;
	char pad[60];
};

struct hashpool {
	int fd;
	uint32_t page_size;
	uint32_t frame_count;
	uint8_t *frames;
	size_t frames_bytes;
	struct hp_frame *descriptors;
	uint32_t *buckets;
	uint32_t bucket_mask;
	struct hp_stripe stripes[HP_STRIPES];
	_Atomic uint64_t hand;
	_Atomic uint64_t reads, hits, evictions;
	char description[160];
};

static void latch_lock(struct hp_stripe *stripe)
{
	for (;;) {
		if (!atomic_exchange_explicit(&stripe->latch, 1, memory_order_acquire))
			return;
		for (unsigned spins = 0; atomic_load_explicit(&stripe->latch, memory_order_relaxed); spins++)
			if (spins > 64)
				sched_yield(); /* two cores shared with others: do not spin on a preempted holder */
	}
}

static void latch_unlock(struct hp_stripe *stripe)
{
	atomic_store_explicit(&stripe->latch, 0, memory_order_release);
}

static uint32_t hash_pid(const struct hashpool *pool, uint64_t pid)
{
	uint64_t h = pid * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & pool->bucket_mask;
}

static struct hp_stripe *stripe_of(struct hashpool *pool, uint32_t bucket)
{
	return &pool->stripes[bucket % HP_STRIPES];
}

static void futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static int hp_open(const struct bench_config *config, void **system_out)
{
	struct hashpool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return ENOMEM;
	pool->page_size = config->file.page_size;
	pool->frame_count = (uint32_t)(config->pool_bytes / pool->page_size);
	pool->fd = open(config->file.path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (pool->fd < 0) {
		int error = errno;
		free(pool);
		return error;
	}
	pool->frames_bytes = (size_t)pool->frame_count * pool->page_size;
	pool->frames = mmap(NULL, pool->frames_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t buckets = 1;
	while (buckets < 2 * pool->frame_count)
		buckets <<= 1;
	pool->bucket_mask = buckets - 1;
	pool->descriptors = calloc(pool->frame_count, sizeof(*pool->descriptors));
	pool->buckets = malloc(buckets * sizeof(*pool->buckets));
	if (pool->frames == MAP_FAILED || !pool->descriptors || !pool->buckets) {
		if (pool->frames != MAP_FAILED)
			munmap(pool->frames, pool->frames_bytes);
		free(pool->descriptors);
		free(pool->buckets);
		close(pool->fd);
		free(pool);
		return ENOMEM;
	}
	for (uint32_t b = 0; b < buckets; b++)
		pool->buckets[b] = HP_NONE;
	for (uint32_t f = 0; f < pool->frame_count; f++) {
		atomic_init(&pool->descriptors[f].pid, HP_NO_PAGE);
		pool->descriptors[f].next = HP_NONE;
	}
	snprintf(pool->description, sizeof(pool->description),
		 "hash-table pool: %u frames, %u buckets, %u striped spin latches, clock, pread O_DIRECT",
		 pool->frame_count, buckets, HP_STRIPES);
	*system_out = pool;
	return 0;
}

static void *frame_bytes(struct hashpool *pool, uint32_t frame)
{
	return pool->frames + (size_t)frame * pool->page_size;
}

/* Under the bucket's stripe: the frame holding pid, or HP_NONE. */
static uint32_t chain_find(struct hashpool *pool, uint32_t bucket, uint64_t pid)
{
	for (uint32_t f = pool->buckets[bucket]; f != HP_NONE; f = pool->descriptors[f].next)
		if (atomic_load_explicit(&pool->descriptors[f].pid, memory_order_relaxed) == pid)
			return f;
	return HP_NONE;
}

static void chain_remove(struct hashpool *pool, uint32_t bucket, uint32_t frame)
{
	uint32_t *link = &pool->buckets[bucket];
	while (*link != frame)
		link = &pool->descriptors[*link].next;
	*link = pool->descriptors[frame].next;
	pool->descriptors[frame].next = HP_NONE;
}

/* A pinned frame after waiting out its load; NULL if the load failed. */
static void *await_frame(struct hashpool *pool, uint32_t frame)
{
	struct hp_frame *d = &pool->descriptors[frame];
	uint32_t state;
	while ((state = atomic_load_explicit(&d->state, memory_order_acquire)) == FRAME_LOADING)
		futex_wait(&d->state, FRAME_LOADING);
	if (state != FRAME_VALID) {
		atomic_fetch_sub(&d->pins, 1);
		return NULL;
	}
	return frame_bytes(pool, frame);
}

/*
 * Clock: a frame pinned once by us and out of every chain.  Terminates because
 * the benchmark never pins more than threads x batch frames of the thousands.
 */
static uint32_t claim_victim(struct hashpool *pool)
{
	for (;;) {
		uint32_t f =
			(uint32_t)(atomic_fetch_add_explicit(&pool->hand, 1, memory_order_relaxed) % pool->frame_count);
		struct hp_frame *d = &pool->descriptors[f];
		if (atomic_load_explicit(&d->pins, memory_order_relaxed) != 0)
			continue;
		if (atomic_load_explicit(&d->referenced, memory_order_relaxed)) {
			atomic_store_explicit(&d->referenced, 0, memory_order_relaxed);
			continue;
		}
		uint32_t unpinned = 0;
		if (!atomic_compare_exchange_strong(&d->pins, &unpinned, 1))
			continue;
		uint64_t old = atomic_load(&d->pid);
		if (old == HP_NO_PAGE)
			return f;
		uint32_t bucket = hash_pid(pool, old);
		struct hp_stripe *stripe = stripe_of(pool, bucket);
		latch_lock(stripe);
		/* A lookup pins under this stripe: if one came in between, the frame is in use after all. */
		if (atomic_load(&d->pins) != 1 || atomic_load(&d->pid) != old) {
			latch_unlock(stripe);
			atomic_fetch_sub(&d->pins, 1);
			continue;
		}
		chain_remove(pool, bucket, f);
		atomic_store(&d->pid, HP_NO_PAGE);
		latch_unlock(stripe);
		atomic_fetch_add_explicit(&pool->evictions, 1, memory_order_relaxed);
		return f;
	}
}

static void *hp_fix(void *system, uint64_t pid)
{
	struct hashpool *pool = system;
	uint32_t bucket = hash_pid(pool, pid);
	struct hp_stripe *stripe = stripe_of(pool, bucket);
	latch_lock(stripe);
	uint32_t f = chain_find(pool, bucket, pid);
	if (f != HP_NONE) {
		atomic_fetch_add_explicit(&pool->descriptors[f].pins, 1, memory_order_acquire);
		latch_unlock(stripe);
		atomic_store_explicit(&pool->descriptors[f].referenced, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&pool->hits, 1, memory_order_relaxed);
		return await_frame(pool, f);
	}
	latch_unlock(stripe);

	uint32_t victim = claim_victim(pool);
	struct hp_frame *d = &pool->descriptors[victim];
	latch_lock(stripe);
	f = chain_find(pool, bucket, pid);
	if (f != HP_NONE) { /* another thread loaded it meanwhile: use that one, free the victim */
		atomic_fetch_add_explicit(&pool->descriptors[f].pins, 1, memory_order_acquire);
		latch_unlock(stripe);
		atomic_fetch_sub(&d->pins, 1);
		return await_frame(pool, f);
	}
	atomic_store(&d->pid, pid);
	atomic_store(&d->state, FRAME_LOADING);
	atomic_store_explicit(&d->referenced, 1, memory_order_relaxed);
	d->next = pool->buckets[bucket];
	pool->buckets[bucket] = victim;
	latch_unlock(stripe);

	void *bytes = frame_bytes(pool, victim);
	ssize_t got = pread(pool->fd, bytes, pool->page_size, (off_t)(pid * pool->page_size));
	atomic_fetch_add_explicit(&pool->reads, 1, memory_order_relaxed);
	uint32_t state = got == (ssize_t)pool->page_size ? FRAME_VALID : FRAME_FAILED;
	if (state == FRAME_FAILED) {
		fprintf(stderr, "hashpool: pread of page %lu: %s\n", (unsigned long)pid,
			got < 0 ? strerror(errno) : "short read");
		latch_lock(stripe);
		chain_remove(pool, bucket, victim);
		atomic_store(&d->pid, HP_NO_PAGE);
		latch_unlock(stripe);
	}
	atomic_store_explicit(&d->state, state, memory_order_release);
	futex_wake_all(&d->state);
	if (state == FRAME_FAILED) {
		atomic_fetch_sub(&d->pins, 1);
		return NULL;
	}
	return bytes;
}

static uint32_t frame_of(struct hashpool *pool, const void *page)
{
	return (uint32_t)(((const uint8_t *)page - pool->frames) / pool->page_size);
}

static void hp_unfix(void *system, uint64_t pid, void *page)
{
	struct hashpool *pool = system;
	atomic_fetch_sub_explicit(&pool->descriptors[frame_of(pool, page)].pins, 1, memory_order_release);
}

/* No batch interface in a classic pool: the pages are fixed one after the other. */
static bool hp_fix_batch(void *system, const uint64_t *pids, uint32_t count, void **pages_out)
{
	for (uint32_t i = 0; i < count; i++) {
		pages_out[i] = hp_fix(system, pids[i]);
		if (!pages_out[i]) {
			while (i--)
				hp_unfix(system, pids[i], pages_out[i]);
			return false;
		}
	}
	return true;
}

static void hp_unfix_batch(void *system, const uint64_t *pids, uint32_t count, void **pages)
{
	for (uint32_t i = 0; i < count; i++)
		hp_unfix(system, pids[i], pages[i]);
}

static void hp_counters(void *system, struct bench_counters *out)
{
	struct hashpool *pool = system;
	out->reads = atomic_load(&pool->reads);
	out->hits = atomic_load(&pool->hits);
	out->evictions = atomic_load(&pool->evictions);
}

static const char *hp_describe(void *system)
{
	return ((struct hashpool *)system)->description;
}

static void hp_close(void *system)
{
	struct hashpool *pool = system;
	munmap(pool->frames, pool->frames_bytes);
	free(pool->descriptors);
	free(pool->buckets);
	close(pool->fd);
	free(pool);
}

const struct bench_system bench_hashpool = {
	.name = "hashpool",
	.open = hp_open,
	.fix = hp_fix,
	.unfix = hp_unfix,
	.fix_batch = hp_fix_batch,
	.unfix_batch = hp_unfix_batch,
	.counters = hp_counters,
	.describe = hp_describe,
	.close = hp_close,
};
