/* test_pt_dirty.c - dirty-page tracking (userfaultfd WP_ASYNC + PAGEMAP_SCAN, and the shadow fallback). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdbool.h>

#include "dbos/pagetable.h"
#include "dbos_test.h"

#define PAGE DBOS_PAGE_SIZE
#define PAGES 4096 /* 16 MiB */

static dbos_pt_region *region_new(uint64_t size, uint32_t flags)
{
	dbos_pt_region_options options = { .size = size, .flags = flags };
	dbos_pt_region *region = NULL;
	return dbos_pt_region_create(&options, &region) == DBOS_OK ? region : NULL;
}

static uint32_t next_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/* Collect everything dirty in the region (with a small buffer, to exercise resumption). */
static uint64_t collect_all(dbos_pt_region *region, uint32_t flags, uint32_t *out, uint64_t out_capacity)
{
	uint64_t total = 0, next = 0;
	for (int rounds = 0; next < PAGES && rounds < 100000; rounds++) {
		uint64_t found = 0, stop = 0;
		uint64_t chunk = out_capacity - total < 37 ? out_capacity - total : 37;
		if (dbos_pt_dirty_collect(region, next, PAGES - next, flags, out + total, chunk, &found, &stop) !=
		    DBOS_OK)
			return UINT64_MAX;
		total += found;
		next = stop;
	}
	return total;
}

static void check_random_writes_are_reported_exactly(enum dbos_pt_dirty_mechanism mechanism)
{
	dbos_pt_region *region = region_new(PAGES * PAGE, DBOS_PT_REGION_MAP_ALL);
	REQUIRE(region != NULL);
	uint8_t *base = dbos_pt_region_base(region);
	/* Some pages hold data before tracking starts, some are only read. */
	for (int page = 0; page < PAGES; page += 3)
		base[page * PAGE] = 1;
	volatile uint8_t sink = 0;
	for (int page = 1; page < PAGES; page += 5)
		sink += base[page * PAGE + 9];
	(void)sink;
	REQUIRE(dbos_pt_dirty_start(region, mechanism) == DBOS_OK);
	CHECK_EQ(dbos_pt_dirty_mechanism_of(region), mechanism);
	CHECK_EQ(dbos_pt_dirty_start(region, mechanism), DBOS_EBUSY);

	static bool written[PAGES];
	static uint32_t reported[PAGES];
	uint32_t seed = 12345;
	for (int round = 0; round < 3; round++) {
		memset(written, 0, sizeof(written));
		uint64_t expected = 0;
		for (int i = 0; i < 200; i++) {
			uint32_t page = next_random(&seed) % PAGES;
			base[(uint64_t)page * PAGE + next_random(&seed) % PAGE] = (uint8_t)(round + 2 + i);
			expected += !written[page];
			written[page] = true;
		}
		/* Peek without reset twice: the same answer. */
		uint64_t peeked = collect_all(region, 0, reported, PAGES);
		CHECK_EQ(peeked, expected);
		uint64_t found = collect_all(region, DBOS_PT_COLLECT_RESET, reported, PAGES);
		CHECK_EQ(found, expected);
		for (uint64_t i = 0; i < found && found != UINT64_MAX; i++) {
			CHECK(written[reported[i]]);
			if (i > 0)
				CHECK(reported[i] > reported[i - 1]);
		}
		/* After the reset nothing is dirty. */
		CHECK_EQ(collect_all(region, 0, reported, PAGES), 0);
	}
	/* dirty_reset cleans without reporting. */
	base[7 * PAGE] ^= 1;
	base[9 * PAGE] ^= 1;
	CHECK_EQ(collect_all(region, 0, reported, PAGES), 2);
	CHECK_EQ(dbos_pt_dirty_reset(region, 0, 8), DBOS_OK);
	CHECK_EQ(collect_all(region, 0, reported, PAGES), 1);
	CHECK_EQ(reported[0], 9);
	/* Page operations are not writes (a discarded page reads zeros, but was not written). */
	CHECK_EQ(dbos_pt_dirty_reset(region, 0, PAGES), DBOS_OK);
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_range(0, 16)), DBOS_OK);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(100, 4), DBOS_PROT_READ_WRITE), DBOS_OK);
	CHECK_EQ(collect_all(region, 0, reported, PAGES), 0);
	base[101 * PAGE] = 5; /* a page mapped after start is tracked */
	CHECK_EQ(collect_all(region, 0, reported, PAGES), 1);
	CHECK_EQ(reported[0], 101);
	CHECK_EQ(dbos_pt_dirty_stop(region), DBOS_OK);
	CHECK_EQ(dbos_pt_dirty_mechanism_of(region), DBOS_PT_DIRTY_NONE);
	dbos_pt_region_destroy(region);
}

static void test_dirty_uffd_wp_async(void)
{
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	if (capabilities.dirty != DBOS_PT_DIRTY_UFFD_WP_ASYNC)
		SKIP("no userfaultfd WP_ASYNC + PAGEMAP_SCAN here; test_dirty_shadow_compare covers the fallback");
	check_random_writes_are_reported_exactly(DBOS_PT_DIRTY_UFFD_WP_ASYNC);
}

static void test_dirty_shadow_compare(void)
{
	check_random_writes_are_reported_exactly(DBOS_PT_DIRTY_SHADOW_COMPARE);
}

static void test_dirty_on_frames(void)
{
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	dbos_pt_frames *frames = NULL;
	REQUIRE(dbos_pt_frames_create(64, &frames) == DBOS_OK);
	dbos_pt_region *region = region_new(128 * PAGE, 0);
	REQUIRE(region != NULL);
	CHECK_EQ(dbos_pt_map_frames(region, dbos_pt_range(0, 64), frames, dbos_pt_range(0, 64), DBOS_PROT_READ_WRITE),
		 DBOS_OK);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(64, 64), DBOS_PROT_READ_WRITE), DBOS_OK);
	uint8_t *base = dbos_pt_region_base(region);
	base[3 * PAGE] = 1;
	REQUIRE(dbos_pt_dirty_start(region, DBOS_PT_DIRTY_NONE) == DBOS_OK); /* best available */
	CHECK_EQ(dbos_pt_dirty_mechanism_of(region), capabilities.dirty);
	base[5 * PAGE] = 1;
	base[3 * PAGE] = 2;
	base[70 * PAGE] = 1;
	uint32_t out[8];
	uint64_t found = 0, next = 0;
	CHECK_EQ(dbos_pt_dirty_collect(region, 0, 128, DBOS_PT_COLLECT_RESET, out, 8, &found, &next), DBOS_OK);
	CHECK_EQ(found, 3);
	CHECK_EQ(next, 128);
	CHECK_EQ(out[0], 3);
	CHECK_EQ(out[1], 5);
	CHECK_EQ(out[2], 70);
	dbos_pt_frames_destroy(frames);
	dbos_pt_region_destroy(region); /* stops tracking itself */
}

/* RssAnon of this process in kB (0 where /proc cannot tell). */
static long anon_resident_kb(void)
{
	FILE *status = fopen("/proc/self/status", "r");
	if (!status)
		return 0;
	char line[256];
	long kb = 0;
	while (fgets(line, sizeof line, status))
		if (strncmp(line, "RssAnon:", 8) == 0)
			kb = strtol(line + 8, NULL, 10);
	fclose(status);
	return kb;
}

/*
 * Whether reading untouched anonymous memory maps the shared zero page (no memory) or gives each
 * page a frame of its own: Linux normally does the former, but some kernels (seen on a PVM
 * guest) allocate on read, and then such a page is memory and present.
 */
static bool reads_map_the_zero_page(void)
{
	enum {
		PROBE_PAGES = 256
	};
	uint8_t *probe = mmap(NULL, PROBE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(probe != MAP_FAILED);
	long before = anon_resident_kb();
	for (uint32_t i = 0; i < PROBE_PAGES; i++)
		(void)*(volatile uint8_t *)(probe + (size_t)i * PAGE);
	long grown = anon_resident_kb() - before;
	munmap(probe, PROBE_PAGES * PAGE);
	return grown < PROBE_PAGES * (long)(PAGE / 1024) / 2;
}

static void test_present_pages(void)
{
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	dbos_pt_region *region = region_new(1024 * PAGE, DBOS_PT_REGION_MAP_ALL);
	REQUIRE(region != NULL);
	uint32_t out[16];
	uint64_t found = 0, next = 0;
	dbos_status status = dbos_pt_present_collect(region, 0, 1024, out, 16, &found, &next);
	if (!capabilities.present) {
		CHECK_EQ(status, DBOS_ENOTSUP); /* the documented answer still holds */
		dbos_pt_region_destroy(region);
		SKIP("PAGEMAP_SCAN is not available here: only the DBOS_ENOTSUP answer was checked");
	}
	CHECK_EQ(status, DBOS_OK);
	CHECK_EQ(found, 0);
	uint8_t *base = dbos_pt_region_base(region);
	base[10 * PAGE] = 1;
	base[11 * PAGE] = 1;
	base[500 * PAGE] = 1;
	/* The shared zero page is not memory: a read of an untouched page is present only where the
	 * kernel gives it a frame of its own. */
	volatile uint8_t read_only = base[600 * PAGE];
	(void)read_only;
	bool zero_page = reads_map_the_zero_page();
	CHECK_EQ(dbos_pt_present_collect(region, 0, 1024, out, 16, &found, &next), DBOS_OK);
	CHECK_EQ(found, zero_page ? 3 : 4);
	CHECK_EQ(out[0], 10);
	CHECK_EQ(out[1], 11);
	CHECK_EQ(out[2], 500);
	if (!zero_page)
		CHECK_EQ(out[3], 600);
	CHECK_EQ(next, 1024);
	CHECK_EQ(dbos_pt_present_collect(region, 0, 1024, out, 1, &found, &next), DBOS_OK);
	CHECK_EQ(found, 1);
	CHECK_EQ(next, 11);
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_range(0, 1024)), DBOS_OK);
	CHECK_EQ(dbos_pt_present_collect(region, 0, 1024, out, 16, &found, &next), DBOS_OK);
	CHECK_EQ(found, 0);
	dbos_pt_region_destroy(region);
}

static void test_capabilities_are_named(void)
{
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	CHECK_EQ(capabilities.runtime, DBOS_RUNTIME_HOST);
	CHECK(capabilities.dirty != DBOS_PT_DIRTY_NONE);
	CHECK_EQ(capabilities.accessed, DBOS_PT_ACCESSED_NONE);
	printf("# dirty=%s faults=%s minor=%d present=%d huge=%d frames=%d\n",
	       dbos_pt_dirty_mechanism_name(capabilities.dirty), dbos_pt_fault_mechanism_name(capabilities.faults),
	       capabilities.faults_minor, capabilities.present, capabilities.huge_pages, capabilities.frames);
	CHECK(strcmp(dbos_pt_dirty_mechanism_name(DBOS_PT_DIRTY_SHADOW_COMPARE), "shadow-compare") == 0);
}

int main(void)
{
	RUN_TEST(test_capabilities_are_named);
	RUN_TEST(test_dirty_uffd_wp_async);
	RUN_TEST(test_dirty_shadow_compare);
	RUN_TEST(test_dirty_on_frames);
	RUN_TEST(test_present_pages);
	return TEST_EXIT_STATUS();
}
