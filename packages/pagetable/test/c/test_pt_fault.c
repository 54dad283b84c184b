/* test_pt_fault.c - fault hooks: pages filled on first touch by a handler thread. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "dbos/pagetable.h"
#include "dbos_test.h"

#define PAGE DBOS_PAGE_SIZE

static dbos_pt_region *region_new(uint64_t size, uint32_t flags)
{
	dbos_pt_region_options options = { .size = size, .flags = flags };
	dbos_pt_region *region = NULL;
	return dbos_pt_region_create(&options, &region) == DBOS_OK ? region : NULL;
}

static bool faults_available(void)
{
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	return capabilities.faults != DBOS_PT_FAULT_NONE;
}

#define FAULTS_UNAVAILABLE "userfaultfd is not available here: fault hooks cannot run"

static uint64_t stamp_of(const uint8_t *page)
{
	uint64_t value;
	memcpy(&value, page, sizeof(value));
	return value;
}

/* ---- A "disk" the handler loads pages from ---- */

#define DISK_PAGES 512
static uint8_t disk[DISK_PAGES][PAGE];
static atomic_uint loads;
static atomic_uint write_faults;

static dbos_status load_from_disk(void *context, const dbos_pt_fault *fault)
{
	CHECK(context == (void *)disk);
	CHECK_EQ(fault->kind, DBOS_PT_FAULT_MISSING);
	atomic_fetch_add(&loads, 1);
	if (fault->write)
		atomic_fetch_add(&write_faults, 1);
	return dbos_pt_fault_copy(fault, disk[fault->page]);
}

typedef struct toucher {
	dbos_pt_region *region;
	uint32_t seed;
	int mismatches;
} toucher;

static void *touch_pages(void *argument)
{
	toucher *self = argument;
	uint8_t *base = dbos_pt_region_base(self->region);
	for (int i = 0; i < 2000; i++) {
		self->seed = self->seed * 1103515245u + 12345u;
		uint32_t page = (self->seed >> 8) % DISK_PAGES;
		if (base[(uint64_t)page * PAGE + 17] != disk[page][17] ||
		    stamp_of(base + (uint64_t)page * PAGE) != page)
			self->mismatches++;
	}
	return NULL;
}

static void test_missing_pages_load_on_demand_from_many_threads(void)
{
	if (!faults_available())
		SKIP(FAULTS_UNAVAILABLE);
	for (uint64_t page = 0; page < DISK_PAGES; page++) {
		memset(disk[page], (int)(page * 7 + 1), PAGE);
		memcpy(disk[page], &page, sizeof(page));
	}
	dbos_pt_region *region = region_new(DISK_PAGES * PAGE, DBOS_PT_REGION_MAP_ALL);
	REQUIRE(region != NULL);
	atomic_store(&loads, 0);
	REQUIRE(dbos_pt_fault_enable(region, load_from_disk, disk) == DBOS_OK);
	CHECK_EQ(dbos_pt_fault_enable(region, load_from_disk, disk), DBOS_EBUSY);

	pthread_t threads[4];
	toucher touchers[4];
	for (int t = 0; t < 4; t++) {
		touchers[t] = (toucher){ .region = region, .seed = (uint32_t)(t * 7919 + 1) };
		REQUIRE(pthread_create(&threads[t], NULL, touch_pages, &touchers[t]) == 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(threads[t], NULL);
		CHECK_EQ(touchers[t].mismatches, 0);
	}
	/* Every page was loaded at most once per racing toucher, and is now resident. */
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	CHECK(stats.faults_served >= 400);
	CHECK_EQ(stats.faults_failed, 0);
	/*
	 * Two touchers racing on one page queue two messages: the second is
	 * answered (EEXIST, counted as served) after the page already works,
	 * maybe after the touchers are done.  Let the fault thread drain them.
	 */
	usleep(200 * 1000);
	unsigned loaded = atomic_load(&loads);
	touch_pages(&touchers[0]);
	CHECK_EQ(atomic_load(&loads), loaded); /* no more faults: pages stay */

	/* A discarded page faults again on its next touch; a write fault says so. */
	uint8_t *base = dbos_pt_region_base(region);
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_range(5, 1)), DBOS_OK);
	atomic_store(&write_faults, 0);
	base[5 * PAGE + 100] = 1;
	CHECK_EQ(atomic_load(&loads), loaded + 1);
	CHECK_EQ(atomic_load(&write_faults), 1);
	CHECK_EQ(stamp_of(base + 5 * PAGE), 5);

	CHECK_EQ(dbos_pt_fault_disable(region), DBOS_OK);
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_range(6, 1)), DBOS_OK);
	CHECK_EQ(base[6 * PAGE + 17], 0); /* plain memory again */
	dbos_pt_region_destroy(region);
}

static void test_fill_handler_and_dirty_tracking(void)
{
	if (!faults_available())
		SKIP(FAULTS_UNAVAILABLE);
	dbos_pt_region *region = region_new(64 * PAGE, DBOS_PT_REGION_MAP_ALL);
	REQUIRE(region != NULL);
	dbos_pt_fill fill = { .byte = 0xab, .stamp_index = true };
	REQUIRE(dbos_pt_dirty_start(region, DBOS_PT_DIRTY_NONE) == DBOS_OK);
	REQUIRE(dbos_pt_fault_enable(region, dbos_pt_fault_fill, &fill) == DBOS_OK);
	uint8_t *base = dbos_pt_region_base(region);
	CHECK_EQ(stamp_of(base + 9 * PAGE), 9);
	CHECK_EQ(base[9 * PAGE + 8], 0xab);
	CHECK_EQ(stamp_of(base + 10 * PAGE), 10);
	base[11 * PAGE + 50] = 1; /* filled, then written */
	CHECK_EQ(base[11 * PAGE + 51], 0xab);
	uint32_t out[8];
	uint64_t found = 0, next = 0;
	CHECK_EQ(dbos_pt_dirty_collect(region, 0, 64, 0, out, 8, &found, &next), DBOS_OK);
	if (dbos_pt_dirty_mechanism_of(region) == DBOS_PT_DIRTY_UFFD_WP_ASYNC) {
		/* Filled pages arrive clean; only the written one is dirty. */
		CHECK_EQ(found, 1);
		CHECK_EQ(out[0], 11);
	}
	dbos_pt_fill zeros = { 0 };
	CHECK_EQ(dbos_pt_fault_disable(region), DBOS_OK);
	REQUIRE(dbos_pt_fault_enable(region, dbos_pt_fault_fill, &zeros) == DBOS_OK);
	CHECK_EQ(base[20 * PAGE + 3], 0);
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	CHECK_EQ(stats.faults_served, 4);
	dbos_pt_region_destroy(region); /* with faults and tracking on */
}

static atomic_uint minor_faults;

static dbos_status continue_frames(void *context, const dbos_pt_fault *fault)
{
	(void)context;
	if (fault->kind == DBOS_PT_FAULT_MINOR)
		atomic_fetch_add(&minor_faults, 1);
	return dbos_pt_fault_fill(context, fault);
}

static void test_minor_faults_on_frames(void)
{
	if (!faults_available())
		SKIP(FAULTS_UNAVAILABLE);
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	if (!capabilities.faults_minor)
		SKIP("MINOR faults on shared memory (UFFD_FEATURE_MINOR_SHMEM) are not available here");
	dbos_pt_frames *frames = NULL;
	REQUIRE(dbos_pt_frames_create(16, &frames) == DBOS_OK);
	/* The engine loads frames through the pool's own mapping... */
	for (int frame = 0; frame < 8; frame++)
		memset(dbos_pt_frames_address(frames) + frame * PAGE, 'A' + frame, PAGE);
	dbos_pt_region *region = region_new(32 * PAGE, 0);
	REQUIRE(region != NULL);
	dbos_pt_fill fill = { .byte = 0x5a };
	atomic_store(&minor_faults, 0);
	REQUIRE(dbos_pt_fault_enable(region, continue_frames, &fill) == DBOS_OK);
	/* ...maps them after faults are on, and the first touch of each slot is a MINOR fault. */
	CHECK_EQ(dbos_pt_map_frames(region, dbos_pt_range(0, 16), frames, dbos_pt_range(0, 16), DBOS_PROT_READ_WRITE),
		 DBOS_OK);
	uint8_t *base = dbos_pt_region_base(region);
	CHECK_EQ(base[3 * PAGE + 1], 'D');
	CHECK_EQ(base[7 * PAGE + 1], 'H');
	CHECK_EQ(atomic_load(&minor_faults), 2);
	/* A frame never written is MISSING: the fill handler writes it, into the frame. */
	CHECK_EQ(base[12 * PAGE + 1], 0x5a);
	CHECK_EQ(dbos_pt_frames_address(frames)[12 * PAGE + 1], 0x5a);
	dbos_pt_frames_destroy(frames);
	dbos_pt_region_destroy(region);
}

static dbos_status refuse(void *context, const dbos_pt_fault *fault)
{
	(void)context;
	(void)fault;
	return DBOS_EIO; /* e.g. the page could not be read from disk */
}

static sigjmp_buf bus_jump;
static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(bus_jump, 1);
}

static void test_failed_fault_never_hangs(void)
{
	if (!faults_available())
		SKIP(FAULTS_UNAVAILABLE);
	dbos_pt_region *region = region_new(8 * PAGE, DBOS_PT_REGION_MAP_ALL);
	REQUIRE(region != NULL);
	REQUIRE(dbos_pt_fault_enable(region, refuse, NULL) == DBOS_OK);
	struct sigaction action = { 0 }, old_bus;
	action.sa_handler = on_bus;
	sigaction(SIGBUS, &action, &old_bus);
	volatile int outcome = 0; /* 1: SIGBUS (poisoned), 2: read zeros */
	if (sigsetjmp(bus_jump, 1) == 0) {
		volatile uint8_t value = dbos_pt_region_base(region)[PAGE];
		outcome = value == 0 ? 2 : 3;
	} else {
		outcome = 1;
	}
	sigaction(SIGBUS, &old_bus, NULL);
	CHECK(outcome == 1 || outcome == 2);
	printf("# failed fault -> %s\n", outcome == 1 ? "SIGBUS (poisoned)" : "zeros");
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	CHECK_EQ(stats.faults_failed, 1);
	CHECK_EQ(stats.faults_served, 0);
	dbos_pt_region_destroy(region);
}

static void test_resolution_misuse_is_refused(void)
{
	dbos_pt_region *region = region_new(8 * PAGE, 0);
	REQUIRE(region != NULL);
	CHECK_EQ(dbos_pt_fault_enable(region, NULL, NULL), DBOS_EINVAL);
	CHECK_EQ(dbos_pt_fault_disable(region), DBOS_OK); /* idempotent */
	CHECK_EQ(dbos_pt_fault_copy(NULL, disk), DBOS_EINVAL);
	dbos_pt_region_destroy(region);
}

int main(void)
{
	RUN_TEST(test_missing_pages_load_on_demand_from_many_threads);
	RUN_TEST(test_fill_handler_and_dirty_tracking);
	RUN_TEST(test_minor_faults_on_frames);
	RUN_TEST(test_failed_fault_never_hangs);
	RUN_TEST(test_resolution_misuse_is_refused);
	return TEST_EXIT_STATUS();
}
