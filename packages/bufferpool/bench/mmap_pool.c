/*
 * mmap_pool.c - peer (b): the page file mapped MAP_SHARED, what LMDB relies
 * on.  A fix is the page's address; the read of its id that every system
 * does faults it in.  madvise(MADV_RANDOM) turns readahead off (these are
 * random reads: readahead would only evict useful pages).  The kernel's page
 * cache is the pool, so the cgroup's limit is what bounds it.
 *
 * Variant "willneed": a batch first asks for all its pages with
 * madvise(MADV_WILLNEED) per page, which starts their reads asynchronously
 * (the only way to have several reads in flight from one thread with mmap),
 * then touches them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpbench.h"

struct mmap_pool {
	int fd;
	uint32_t page_size;
	uint8_t *base;
	size_t bytes;
	bool willneed;
	char description[160];
};

static int mp_open(const struct bench_config *config, void **system_out)
{
	struct mmap_pool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return ENOMEM;
	pool->page_size = config->file.page_size;
	pool->willneed = strcmp(config->variant, "willneed") == 0;
	pool->fd = open(config->file.path, O_RDONLY | O_CLOEXEC);
	struct stat facts;
	if (pool->fd < 0 || fstat(pool->fd, &facts) != 0) {
		int error = errno;
		if (pool->fd >= 0)
			close(pool->fd);
		free(pool);
		return error;
	}
	pool->bytes = (size_t)facts.st_size;
	pool->base = mmap(NULL, pool->bytes, PROT_READ, MAP_SHARED, pool->fd, 0);
	if (pool->base == MAP_FAILED) {
		int error = errno;
		close(pool->fd);
		free(pool);
		return error;
	}
	int advice = madvise(pool->base, pool->bytes, MADV_RANDOM);
	snprintf(pool->description, sizeof(pool->description), "mmap MAP_SHARED of %zu MiB, MADV_RANDOM %s%s",
		 pool->bytes >> 20, advice == 0 ? "set" : "refused",
		 pool->willneed ? ", MADV_WILLNEED per batch page" : "");
	*system_out = pool;
	return 0;
}

static void *mp_fix(void *system, uint64_t pid)
{
	struct mmap_pool *pool = system;
	size_t offset = (size_t)pid * pool->page_size;
	return offset + pool->page_size <= pool->bytes ? pool->base + offset : NULL;
}

static void mp_unfix(void *system, uint64_t pid, void *page)
{}

static bool mp_fix_batch(void *system, const uint64_t *pids, uint32_t count, void **pages_out)
{
	struct mmap_pool *pool = system;
	for (uint32_t i = 0; i < count; i++) {
		pages_out[i] = mp_fix(system, pids[i]);
		if (!pages_out[i])
			return false;
	}
	if (pool->willneed)
		for (uint32_t i = 0; i < count; i++)
			madvise(pages_out[i], pool->page_size, MADV_WILLNEED);
	return true;
}

static void mp_unfix_batch(void *system, const uint64_t *pids, uint32_t count, void **pages)
{}

/* The kernel counts this process's page-cache misses as major faults. */
static void mp_counters(void *system, struct bench_counters *out)
{
	memset(out, 0, sizeof(*out));
	FILE *stat = fopen("/proc/self/stat", "r");
	if (!stat)
		return;
	unsigned long major = 0;
	/* Field 12 is majflt; the command name (field 2) has no spaces here. */
	if (fscanf(stat, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %lu", &major) == 1)
		out->reads = major;
	fclose(stat);
}

static const char *mp_describe(void *system)
{
	return ((struct mmap_pool *)system)->description;
}

static void mp_close(void *system)
{
	struct mmap_pool *pool = system;
	munmap(pool->base, pool->bytes);
	close(pool->fd);
	free(pool);
}

const struct bench_system bench_mmap = {
	.name = "mmap",
	.open = mp_open,
	.fix = mp_fix,
	.unfix = mp_unfix,
	.fix_batch = mp_fix_batch,
	.unfix_batch = mp_unfix_batch,
	.counters = mp_counters,
	.describe = mp_describe,
	.close = mp_close,
};
