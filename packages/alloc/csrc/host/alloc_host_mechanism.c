/*
 * alloc_host_mechanism.c - what pools get on this host, as the one line
 * `dbos probe` (probe().mechanisms.alloc in JavaScript) shows.
 *
 * The line is not a second guess at the machine: it creates the smallest
 * pool with the flags the TypeScript Allocator uses by default
 * (DBOS_ALLOC_POOL_HUGEPAGES | DBOS_ALLOC_POOL_POPULATE), once per process,
 * and reads back what pool creation chose (dbos_alloc_stats_get's
 * mechanism).  @dbos/platform's probe only adds what the pool cannot see
 * from inside: THP's mode, and the hugetlb pages nobody here uses.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../alloc_internal.h"
#include "dbos/probe.h"

static struct dbos_alloc_mechanism measured;
static dbos_status measured_status = DBOS_EIO;
static pthread_once_t measured_once = PTHREAD_ONCE_INIT;

static void measure(void)
{
	struct dbos_alloc_config config = {
		.limit_bytes = DBOS_ALLOC_LIMIT_BYTES_MIN,
		.prefault_bytes = 0,
		.retain_bytes = 0,
		.flags = DBOS_ALLOC_POOL_HUGEPAGES | DBOS_ALLOC_POOL_POPULATE,
		.cache_slot_count = 1,
	};
	dbos_alloc_pool *pool = NULL;
	measured_status = dbos_alloc_pool_create(&config, &pool);
	if (measured_status != DBOS_OK)
		return;
	/* The stats carry a few KiB of class counters: off the stack, this runs once. */
	struct dbos_alloc_stats *stats = dbos_platform_alloc(sizeof(*stats));
	measured_status = stats ? dbos_alloc_stats_get(pool, stats) : DBOS_ENOMEM;
	if (measured_status == DBOS_OK)
		measured = stats->mechanism;
	dbos_platform_free(stats, sizeof(*stats));
	dbos_alloc_pool_destroy(pool);
}

/* Append to a bounded line; `*length` counts what the whole line needs, as snprintf does. */
__attribute__((format(printf, 4, 5))) static void append(char *text, size_t size, size_t *length, const char *format,
							 ...)
{
	va_list arguments;
	va_start(arguments, format);
	size_t offset = *length < size ? *length : size;
	int added = vsnprintf(size > offset ? text + offset : NULL, size - offset, format, arguments);
	va_end(arguments);
	DBOS_ASSERT(added >= 0);
	*length += (size_t)added;
}

/*
 * The advice is only half of it: MADV_HUGEPAGE succeeds whatever THP's mode,
 * and only "always" or "madvise" makes the kernel back the pool with 2 MiB
 * pages.
 */
static void append_huge_pages(char *text, size_t size, size_t *length, const dbos_probe *facts)
{
	bool thp_on = strcmp(facts->thp_enabled, "always") == 0 || strcmp(facts->thp_enabled, "madvise") == 0;
	if (!measured.hugepages)
		append(text, size, length, "huge pages: none (MADV_HUGEPAGE refused)");
	else if (!thp_on)
		append(text, size, length, "huge pages: none (MADV_HUGEPAGE accepted, THP enabled=%s)",
		       facts->thp_enabled);
	else
		append(text, size, length, "huge pages: THP via MADV_HUGEPAGE (enabled=%s)", facts->thp_enabled);
}

size_t dbos_alloc_host_mechanism_format(char *text, size_t size)
{
	DBOS_ASSERT(text != NULL || size == 0);
	pthread_once(&measured_once, measure);
	const dbos_probe *facts = dbos_probe_cached();
	size_t length = 0;
	if (size > 0)
		text[0] = '\0';
	if (measured_status != DBOS_OK) {
		append(text, size, &length, "unavailable: a pool could not be created (%s)",
		       dbos_status_name(measured_status));
		return length;
	}
	append(text, size, &length, "one MAP_NORESERVE reservation per pool; ");
	append_huge_pages(text, size, &length, facts);
	append(text, size, &length, "; populate: %s; release: MADV_DONTNEED per coalesced free run",
	       measured.populate ? "MADV_POPULATE_WRITE in batches" : "first touch (no MADV_POPULATE_WRITE)");
	append(text, size, &length, "; hugetlb: not used (%llu pages reserved)",
	       (unsigned long long)facts->hugetlb_total);
	return length;
}
