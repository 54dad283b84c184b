/* test_pt_map.c - regions and batched page operations (host runtime). */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>

#include "dbos/pagetable.h"
#include "dbos_test.h"

#define PAGE DBOS_PAGE_SIZE

static dbos_pt_region *region_new(uint64_t size, uint32_t flags)
{
	dbos_pt_region_options options = { .size = size, .flags = flags };
	dbos_pt_region *region = NULL;
	if (dbos_pt_region_create(&options, &region) != DBOS_OK)
		return NULL;
	return region;
}

static uint8_t *page_at(dbos_pt_region *region, uint64_t page)
{
	return dbos_pt_region_base(region) + page * PAGE;
}

static sigjmp_buf fault_jump;
static void on_fault(int sig)
{
	(void)sig;
	siglongjmp(fault_jump, 1);
}

/* True when reading the byte faults (SIGSEGV/SIGBUS). */
static bool read_faults(const volatile uint8_t *address)
{
	struct sigaction action = { 0 }, old_segv, old_bus;
	action.sa_handler = on_fault;
	sigaction(SIGSEGV, &action, &old_segv);
	sigaction(SIGBUS, &action, &old_bus);
	volatile bool faulted = false;
	if (sigsetjmp(fault_jump, 1) == 0)
		(void)*address;
	else
		faulted = true;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return faulted;
}

static void test_terabyte_reservation_costs_nothing(void)
{
	uint64_t size = (uint64_t)1 << 40;
	dbos_pt_region *region = region_new(size, 0);
	REQUIRE(region != NULL);
	CHECK_EQ(dbos_pt_region_size(region), size);
	CHECK_EQ(dbos_pt_region_page_count(region), size / PAGE);
	CHECK(DBOS_IS_ALIGNED((uintptr_t)dbos_pt_region_base(region), DBOS_HUGE_PAGE_SIZE));
	/* Map two pages at the far end: only they cost memory. */
	uint64_t last = size / PAGE - 2;
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(last, 2), DBOS_PROT_READ_WRITE), DBOS_OK);
	page_at(region, last)[0] = 7;
	page_at(region, last + 1)[PAGE - 1] = 9;
	CHECK_EQ(page_at(region, last)[0], 7);
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	CHECK_EQ(stats.pages_mapped, 2);
	CHECK(read_faults(page_at(region, 0)));
	dbos_pt_region_destroy(region);
}

static void test_map_discard_unmap(void)
{
	dbos_pt_region *region = region_new(64 * PAGE, 0);
	REQUIRE(region != NULL);
	CHECK(dbos_pt_range_accessible(region, 0, 1, DBOS_PROT_READ) == false);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(0, 64), DBOS_PROT_READ_WRITE), DBOS_OK);
	CHECK(dbos_pt_range_accessible(region, 0, 64, DBOS_PROT_READ_WRITE));
	for (int page = 0; page < 64; page++)
		memset(page_at(region, page), page + 1, PAGE);
	uint32_t odd[32];
	for (int i = 0; i < 32; i++)
		odd[i] = (uint32_t)(2 * i + 1);
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_list(odd, 32)), DBOS_OK);
	for (int page = 0; page < 64; page++)
		CHECK_EQ(page_at(region, page)[100], (page % 2) ? 0 : page + 1);

	CHECK_EQ(dbos_pt_unmap(region, dbos_pt_range(10, 4)), DBOS_OK);
	dbos_pt_page_info info;
	CHECK_EQ(dbos_pt_page_query(region, 11, &info), DBOS_OK);
	CHECK_EQ(info.state, DBOS_PT_UNMAPPED);
	CHECK(read_faults(page_at(region, 11)));
	CHECK(!dbos_pt_range_accessible(region, 8, 4, DBOS_PROT_READ));
	/* Discarding unmapped pages is a no-op; protecting them is refused and changes nothing. */
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_range(8, 8)), DBOS_OK);
	CHECK_EQ(dbos_pt_protect(region, dbos_pt_range(8, 8), DBOS_PROT_READ), DBOS_EFAULT);
	CHECK(dbos_pt_range_accessible(region, 8, 2, DBOS_PROT_READ_WRITE));
	CHECK_EQ(dbos_pt_protect(region, dbos_pt_range(0, 2), DBOS_PROT_NONE), DBOS_OK);
	CHECK(read_faults(page_at(region, 1)));
	CHECK_EQ(dbos_pt_protect(region, dbos_pt_range(0, 2), DBOS_PROT_READ), DBOS_OK);
	CHECK_EQ(page_at(region, 0)[0], 1);
	CHECK(dbos_pt_range_accessible(region, 0, 2, DBOS_PROT_READ));
	CHECK(!dbos_pt_range_accessible(region, 0, 2, DBOS_PROT_READ_WRITE));
	CHECK_EQ(dbos_pt_populate(region, dbos_pt_range(14, 50)), DBOS_OK);
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	CHECK_EQ(stats.pages_mapped, 60);
	dbos_pt_region_destroy(region);
}

static void test_lists_coalesce_into_runs(void)
{
	dbos_pt_region *region = region_new(256 * PAGE, DBOS_PT_REGION_MAP_ALL);
	REQUIRE(region != NULL);
	CHECK(dbos_pt_range_accessible(region, 0, 256, DBOS_PROT_READ_WRITE));
	dbos_pt_stats before, after;
	uint32_t pages[64];
	for (int i = 0; i < 64; i++)
		pages[i] = (uint32_t)(100 + i); /* one run */
	dbos_pt_region_stats(region, &before);
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_list(pages, 64)), DBOS_OK);
	dbos_pt_region_stats(region, &after);
	CHECK_EQ(after.runtime_calls - before.runtime_calls, 1);
	for (int i = 0; i < 64; i++)
		pages[i] = (uint32_t)(2 * i); /* 64 runs, discarded together */
	uint8_t *base = dbos_pt_region_base(region);
	for (int page = 0; page < 130; page++)
		base[page * PAGE] = 1;
	dbos_pt_region_stats(region, &before);
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_list(pages, 64)), DBOS_OK);
	dbos_pt_region_stats(region, &after);
	CHECK_EQ(after.runtime_calls - before.runtime_calls, 1);
	for (int page = 0; page < 130; page++)
		CHECK_EQ(base[page * PAGE], (page % 2 == 0 && page < 128) ? 0 : 1);
	uint32_t many[65];
	for (int i = 0; i < 65; i++)
		many[i] = (uint32_t)(2 * i + 1);
	dbos_pt_region_stats(region, &before);
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_list(many, 65)), DBOS_OK);
	dbos_pt_region_stats(region, &after);
	CHECK_EQ(after.runtime_calls - before.runtime_calls, 2); /* DBOS_PT_RUNS_MAX runs per call */
	CHECK_EQ(base[129 * PAGE], 0);
	/* An empty set is a no-op. */
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_list(pages, 0)), DBOS_OK);
	dbos_pt_region_destroy(region);
}

static void test_arguments_are_checked(void)
{
	dbos_pt_region *region = NULL;
	dbos_pt_region_options options = { .size = 0 };
	CHECK_EQ(dbos_pt_region_create(&options, &region), DBOS_EINVAL);
	options.size = 1000;
	CHECK_EQ(dbos_pt_region_create(&options, &region), DBOS_EINVAL);
	options.size = DBOS_PT_REGION_SIZE_MAX + PAGE;
	CHECK_EQ(dbos_pt_region_create(&options, &region), DBOS_ERANGE);
	options.size = PAGE;
	options.flags = 1u << 20;
	CHECK_EQ(dbos_pt_region_create(&options, &region), DBOS_EINVAL);
	CHECK_EQ(dbos_pt_region_create(NULL, &region), DBOS_EINVAL);

	region = region_new(16 * PAGE, 0);
	REQUIRE(region != NULL);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(15, 2), DBOS_PROT_READ_WRITE), DBOS_ERANGE);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(UINT64_MAX, 2), DBOS_PROT_READ_WRITE), DBOS_ERANGE);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(1, UINT64_MAX), DBOS_PROT_READ_WRITE), DBOS_ERANGE);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(0, 1), (enum dbos_prot)7), DBOS_EINVAL);
	uint32_t bad[3] = { 1, 2, 16 };
	CHECK_EQ(dbos_pt_map(region, dbos_pt_list(bad, 3), DBOS_PROT_READ_WRITE), DBOS_ERANGE);
	/* Validation happens before any change: pages 1 and 2 stay unmapped. */
	CHECK(!dbos_pt_range_accessible(region, 1, 2, DBOS_PROT_READ));
	CHECK_EQ(dbos_pt_move(region, dbos_pt_range(0, 2), dbos_pt_range(4, 3)), DBOS_EINVAL);
	CHECK_EQ(dbos_pt_move(region, dbos_pt_range(0, 2), dbos_pt_range(4, 2)), DBOS_EFAULT);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(0, 8), DBOS_PROT_READ_WRITE), DBOS_OK);
	CHECK_EQ(dbos_pt_move(region, dbos_pt_range(0, 4), dbos_pt_range(2, 4)), DBOS_EINVAL);
	dbos_pt_page_info info;
	CHECK_EQ(dbos_pt_page_query(region, 16, &info), DBOS_ERANGE);
	uint64_t found, next;
	uint32_t out[4];
	CHECK_EQ(dbos_pt_dirty_collect(region, 0, 16, 0, out, 4, &found, &next), DBOS_EINVAL); /* not started */
	CHECK_EQ(dbos_pt_accessed_collect(region, 0, 16, 0, out, 4, &found, &next), DBOS_ENOTSUP);
	dbos_pt_region_destroy(region);
}

static void test_frames_show_the_same_bytes_at_two_slots(void)
{
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	REQUIRE(capabilities.frames);
	dbos_pt_frames *frames = NULL;
	REQUIRE(dbos_pt_frames_create(32, &frames) == DBOS_OK);
	CHECK_EQ(dbos_pt_frames_count(frames), 32);
	dbos_pt_region *region = region_new(64 * PAGE, 0);
	REQUIRE(region != NULL);

	/* Slots 10..13 and 40..43 both show frames 4..7. */
	CHECK_EQ(dbos_pt_map_frames(region, dbos_pt_range(10, 4), frames, dbos_pt_range(4, 4), DBOS_PROT_READ_WRITE),
		 DBOS_OK);
	CHECK_EQ(dbos_pt_map_frames(region, dbos_pt_range(40, 4), frames, dbos_pt_range(4, 4), DBOS_PROT_READ_WRITE),
		 DBOS_OK);
	strcpy((char *)page_at(region, 11), "written through slot 11");
	CHECK(strcmp((char *)page_at(region, 41), "written through slot 11") == 0);
	CHECK(strcmp((char *)dbos_pt_frames_address(frames) + 5 * PAGE, "written through slot 11") == 0);
	dbos_pt_page_info info;
	CHECK_EQ(dbos_pt_page_query(region, 41, &info), DBOS_OK);
	CHECK_EQ(info.state, DBOS_PT_FRAME);
	CHECK_EQ(info.frame, 5);

	/* Scattered slot/frame pairs. */
	uint32_t slots[3] = { 20, 21, 30 };
	uint32_t frame_list[3] = { 9, 10, 5 };
	CHECK_EQ(
		dbos_pt_map_frames(region, dbos_pt_list(slots, 3), frames, dbos_pt_list(frame_list, 3), DBOS_PROT_READ),
		DBOS_OK);
	CHECK(strcmp((char *)page_at(region, 30), "written through slot 11") == 0);
	CHECK_EQ(dbos_pt_map_frames(region, dbos_pt_range(0, 1), frames, dbos_pt_range(32, 1), DBOS_PROT_READ),
		 DBOS_ERANGE);

	/* Move slots 10..13 to 50..53 without copying: same frames, source unmapped. */
	CHECK_EQ(dbos_pt_move(region, dbos_pt_range(10, 4), dbos_pt_range(50, 4)), DBOS_OK);
	CHECK(strcmp((char *)page_at(region, 51), "written through slot 11") == 0);
	CHECK_EQ(dbos_pt_page_query(region, 51, &info), DBOS_OK);
	CHECK_EQ(info.frame, 5);
	CHECK(read_faults(page_at(region, 11)));

	/* Discard frees the frame: every slot showing it reads zeros. */
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_range(41, 1)), DBOS_OK);
	CHECK_EQ(page_at(region, 51)[0], 0);
	CHECK_EQ(page_at(region, 30)[0], 0);

	/* The region keeps the pool alive after its creator lets go. */
	dbos_pt_frames_destroy(frames);
	page_at(region, 52)[0] = 3;
	CHECK_EQ(page_at(region, 42)[0], 3);
	dbos_pt_region_destroy(region);
}

static void test_one_pool_per_region(void)
{
	dbos_pt_frames *first = NULL, *second = NULL;
	REQUIRE(dbos_pt_frames_create(4, &first) == DBOS_OK);
	REQUIRE(dbos_pt_frames_create(4, &second) == DBOS_OK);
	dbos_pt_region *region = region_new(8 * PAGE, 0);
	REQUIRE(region != NULL);
	CHECK_EQ(dbos_pt_map_frames(region, dbos_pt_range(0, 1), first, dbos_pt_range(0, 1), DBOS_PROT_READ_WRITE),
		 DBOS_OK);
	CHECK_EQ(dbos_pt_map_frames(region, dbos_pt_range(1, 1), second, dbos_pt_range(0, 1), DBOS_PROT_READ_WRITE),
		 DBOS_EINVAL);
	CHECK_EQ(dbos_pt_unmap(region, dbos_pt_range(0, 1)), DBOS_OK);
	CHECK_EQ(dbos_pt_map_frames(region, dbos_pt_range(1, 1), second, dbos_pt_range(0, 1), DBOS_PROT_READ_WRITE),
		 DBOS_OK);
	dbos_pt_frames_destroy(first);
	dbos_pt_frames_destroy(second);
	dbos_pt_region_destroy(region);
}

static void test_anonymous_move_keeps_bytes(void)
{
	dbos_pt_region *region = region_new(128 * PAGE, 0);
	REQUIRE(region != NULL);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(0, 8), DBOS_PROT_READ_WRITE), DBOS_OK);
	/* Separate map calls and a protection change split vmas: the move must still work. */
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(8, 8), DBOS_PROT_READ_WRITE), DBOS_OK);
	for (int page = 0; page < 16; page++)
		memset(page_at(region, page), 'a' + page, PAGE);
	CHECK_EQ(dbos_pt_move(region, dbos_pt_range(0, 16), dbos_pt_range(64, 16)), DBOS_OK);
	for (int page = 0; page < 16; page++)
		CHECK_EQ(page_at(region, 64 + page)[PAGE / 2], 'a' + page);
	CHECK(read_faults(page_at(region, 3)));
	uint32_t source[2] = { 70, 64 };
	uint32_t target[2] = { 100, 101 };
	CHECK_EQ(dbos_pt_move(region, dbos_pt_list(source, 2), dbos_pt_list(target, 2)), DBOS_OK);
	CHECK_EQ(page_at(region, 100)[0], 'a' + 6);
	CHECK_EQ(page_at(region, 101)[0], 'a');
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	CHECK_EQ(stats.pages_mapped, 16);
	dbos_pt_region_destroy(region);
}

static void test_huge_page_region(void)
{
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	dbos_pt_region *region = region_new(8 << 20, DBOS_PT_REGION_HUGE_PAGES);
	REQUIRE(region != NULL);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(0, (4 << 20) / PAGE), DBOS_PROT_READ_WRITE), DBOS_OK);
	CHECK_EQ(dbos_pt_populate(region, dbos_pt_range(0, (4 << 20) / PAGE)), DBOS_OK);
	page_at(region, 600)[5] = 1;
	CHECK_EQ(page_at(region, 600)[5], 1);
	/* Discarding 4 KiB out of a huge page splits it; the rest keeps its bytes. */
	page_at(region, 601)[0] = 2;
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_range(600, 1)), DBOS_OK);
	CHECK_EQ(page_at(region, 600)[5], 0);
	CHECK_EQ(page_at(region, 601)[0], 2);
	dbos_pt_region_destroy(region);
}

static void test_pinned_pages_stay_accessible(void)
{
	dbos_pt_region *region = region_new(32 * PAGE, 0);
	REQUIRE(region != NULL);
	CHECK_EQ(dbos_pt_pin(region, 0, 4), DBOS_EFAULT); /* not mapped */
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(0, 16), DBOS_PROT_READ_WRITE), DBOS_OK);
	CHECK_EQ(dbos_pt_pin(region, 4, 4), DBOS_OK);
	CHECK_EQ(dbos_pt_pin(region, 6, 1), DBOS_OK);
	CHECK(dbos_pt_range_pinned(region, 0, 5));
	CHECK(!dbos_pt_range_pinned(region, 8, 8));
	CHECK_EQ(dbos_pt_unmap(region, dbos_pt_range(0, 8)), DBOS_EBUSY);
	CHECK_EQ(dbos_pt_protect(region, dbos_pt_range(5, 1), DBOS_PROT_READ), DBOS_EBUSY);
	CHECK_EQ(dbos_pt_protect(region, dbos_pt_range(5, 1), DBOS_PROT_NONE), DBOS_EBUSY);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(5, 1), DBOS_PROT_READ), DBOS_EBUSY);
	CHECK_EQ(dbos_pt_move(region, dbos_pt_range(4, 1), dbos_pt_range(20, 1)), DBOS_EBUSY);
	uint32_t list[2] = { 10, 7 };
	CHECK_EQ(dbos_pt_unmap(region, dbos_pt_list(list, 2)), DBOS_EBUSY);
	CHECK(dbos_pt_range_accessible(region, 0, 16, DBOS_PROT_READ_WRITE)); /* nothing changed */
	/* Staying read-write is fine. */
	CHECK_EQ(dbos_pt_discard(region, dbos_pt_range(4, 4)), DBOS_OK);
	CHECK_EQ(dbos_pt_map(region, dbos_pt_range(4, 1), DBOS_PROT_READ_WRITE), DBOS_OK);
	CHECK_EQ(dbos_pt_protect(region, dbos_pt_range(4, 1), DBOS_PROT_READ_WRITE), DBOS_OK);
	CHECK_EQ(dbos_pt_move(region, dbos_pt_range(12, 1), dbos_pt_range(5, 1)), DBOS_OK); /* onto a pinned page */
	dbos_pt_unpin(region, 4, 4);
	CHECK_EQ(dbos_pt_protect(region, dbos_pt_range(5, 1), DBOS_PROT_READ), DBOS_OK);
	CHECK_EQ(dbos_pt_unmap(region, dbos_pt_range(6, 1)), DBOS_EBUSY); /* the second pin */
	dbos_pt_unpin(region, 6, 1);
	CHECK_EQ(dbos_pt_unmap(region, dbos_pt_range(0, 16)), DBOS_OK);
	CHECK_EQ(dbos_pt_pin(region, 30, 4), DBOS_ERANGE);
	dbos_pt_region_destroy(region);
}

typedef struct worker {
	dbos_pt_region *region;
	dbos_pt_frames *frames;
	uint32_t first; /* this worker's 64 pages start here */
	int failures;
} worker;

/* Page operations on a private set of pages, repeated: the region is shared with another worker. */
static void *work_on_own_pages(void *argument)
{
	worker *self = argument;
	uint8_t *base = dbos_pt_region_base(self->region);
	for (int round = 0; round < 200; round++) {
		uint32_t scattered[8];
		for (int i = 0; i < 8; i++)
			scattered[i] = self->first + (uint32_t)(i * 3);
		self->failures +=
			dbos_pt_map(self->region, dbos_pt_range(self->first, 32), DBOS_PROT_READ_WRITE) != DBOS_OK;
		base[(uint64_t)(self->first + 3) * PAGE] = (uint8_t)round;
		self->failures += dbos_pt_discard(self->region, dbos_pt_list(scattered, 8)) != DBOS_OK;
		self->failures += base[(uint64_t)(self->first + 3) * PAGE] != 0;
		self->failures +=
			dbos_pt_map_frames(self->region, dbos_pt_range(self->first + 32, 8), self->frames,
					   dbos_pt_range(self->first / 8, 8), DBOS_PROT_READ_WRITE) != DBOS_OK;
		self->failures += dbos_pt_move(self->region, dbos_pt_range(self->first + 32, 8),
					       dbos_pt_range(self->first + 48, 8)) != DBOS_OK;
		self->failures +=
			dbos_pt_protect(self->region, dbos_pt_range(self->first, 16), DBOS_PROT_READ) != DBOS_OK;
		self->failures += dbos_pt_unmap(self->region, dbos_pt_range(self->first, 64)) != DBOS_OK;
	}
	return NULL;
}

static void test_disjoint_sets_from_two_threads(void)
{
	dbos_pt_region *region = region_new(256 * PAGE, 0);
	REQUIRE(region != NULL);
	dbos_pt_frames *frames = NULL;
	REQUIRE(dbos_pt_frames_create(64, &frames) == DBOS_OK);
	REQUIRE(dbos_pt_dirty_start(region, DBOS_PT_DIRTY_NONE) == DBOS_OK);
	worker workers[2] = { { region, frames, 0, 0 }, { region, frames, 128, 0 } };
	pthread_t threads[2];
	for (int t = 0; t < 2; t++)
		REQUIRE(pthread_create(&threads[t], NULL, work_on_own_pages, &workers[t]) == 0);
	/* Meanwhile, collect dirty pages: writers and page operations keep going. */
	uint32_t out[256];
	for (int round = 0; round < 50; round++) {
		uint64_t found = 0, next = 0;
		CHECK_EQ(dbos_pt_dirty_collect(region, 0, 256, DBOS_PT_COLLECT_RESET, out, 256, &found, &next),
			 DBOS_OK);
	}
	for (int t = 0; t < 2; t++) {
		pthread_join(threads[t], NULL);
		CHECK_EQ(workers[t].failures, 0);
	}
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	CHECK_EQ(stats.pages_mapped, 0);
	dbos_pt_frames_destroy(frames);
	dbos_pt_region_destroy(region);
}

/* Lists that name a page twice, or a page as source and target: each run is checked as found. */
static void test_move_with_overlapping_lists_is_refused_safely(void)
{
	dbos_pt_region *region = region_new(64 * PAGE, DBOS_PT_REGION_MAP_ALL);
	REQUIRE(region != NULL);
	/* Page 1 twice: the second run finds it moved away already (this used to abort). */
	uint32_t twice[] = { 1, 1 };
	uint32_t targets[] = { 10, 11 };
	CHECK_EQ(dbos_pt_move(region, dbos_pt_list(twice, 2), dbos_pt_list(targets, 2)), DBOS_EINVAL);
	dbos_pt_page_info info;
	CHECK_EQ(dbos_pt_page_query(region, 10, &info), DBOS_OK);
	CHECK_EQ(info.state, DBOS_PT_ANON); /* the prefix was applied */
	/* 5 (read-only) moves to 6 first; then 6, read-only now, may not land on pinned 7. */
	CHECK_EQ(dbos_pt_protect(region, dbos_pt_range(5, 1), DBOS_PROT_READ), DBOS_OK);
	REQUIRE(dbos_pt_pin(region, 7, 1) == DBOS_OK);
	uint32_t sources[] = { 5, 6 };
	uint32_t later[] = { 6, 7 };
	CHECK_EQ(dbos_pt_move(region, dbos_pt_list(sources, 2), dbos_pt_list(later, 2)), DBOS_EBUSY);
	CHECK(!read_faults(page_at(region, 7)));
	page_at(region, 7)[0] = 1; /* still writable: the pin held */
	dbos_pt_unpin(region, 7, 1);
	dbos_pt_region_destroy(region);
}

/* A range as large as the region is walked by the chunks it uses, and refused where it would need memory. */
static void test_whole_terabyte_ranges_are_bounded(void)
{
	dbos_pt_region *region = region_new(DBOS_PT_REGION_SIZE_MAX, 0);
	REQUIRE(region != NULL);
	uint64_t last = dbos_pt_region_page_count(region) - 1;
	uint32_t ends[] = { 0, (uint32_t)last };
	CHECK_EQ(dbos_pt_map(region, dbos_pt_list(ends, 2), DBOS_PROT_READ_WRITE), DBOS_OK);
	dbos_pt_pages all = dbos_pt_range(0, last + 1);
	/* 2^32 entries are 32 GiB: more than half of any machine this runs on. */
	CHECK_EQ(dbos_pt_map(region, all, DBOS_PROT_READ_WRITE), DBOS_ENOMEM);
	CHECK_EQ(dbos_pt_protect(region, all, DBOS_PROT_READ), DBOS_ENOMEM);
	CHECK_EQ(dbos_pt_populate(region, all), DBOS_ENOMEM);
	CHECK_EQ(dbos_pt_dirty_start(region, DBOS_PT_DIRTY_SHADOW_COMPARE), DBOS_ENOMEM);
	/* Discarding and asking about pins read two chunks, not 2^32 entries. */
	page_at(region, last)[0] = 7;
	CHECK_EQ(dbos_pt_discard(region, all), DBOS_OK);
	CHECK_EQ(page_at(region, last)[0], 0);
	CHECK(!dbos_pt_range_pinned(region, 0, last + 1));
	CHECK_EQ(dbos_pt_populate(region, dbos_pt_range(1, 1)), DBOS_EFAULT); /* never mapped */
	dbos_pt_region_destroy(region);
}

/* A frame list far longer than the pool is a caller bug, refused before any system call. */
static void test_frame_lists_longer_than_meant_are_refused(void)
{
	dbos_pt_frames *frames = NULL;
	REQUIRE(dbos_pt_frames_create(4, &frames) == DBOS_OK);
	static uint32_t ones[4 * 64 + 1024 + 1];
	for (size_t i = 0; i < sizeof(ones) / sizeof(ones[0]); i++)
		ones[i] = 1;
	CHECK_EQ(dbos_pt_frames_release(frames, dbos_pt_list(ones, sizeof(ones) / sizeof(ones[0]))), DBOS_EINVAL);
	CHECK_EQ(dbos_pt_frames_release(frames, dbos_pt_list(ones, 8)), DBOS_OK);
	dbos_pt_frames_destroy(frames);
}

int main(void)
{
	RUN_TEST(test_terabyte_reservation_costs_nothing);
	RUN_TEST(test_map_discard_unmap);
	RUN_TEST(test_lists_coalesce_into_runs);
	RUN_TEST(test_arguments_are_checked);
	RUN_TEST(test_frames_show_the_same_bytes_at_two_slots);
	RUN_TEST(test_one_pool_per_region);
	RUN_TEST(test_anonymous_move_keeps_bytes);
	RUN_TEST(test_huge_page_region);
	RUN_TEST(test_pinned_pages_stay_accessible);
	RUN_TEST(test_disjoint_sets_from_two_threads);
	RUN_TEST(test_move_with_overlapping_lists_is_refused_safely);
	RUN_TEST(test_whole_terabyte_ranges_are_bounded);
	RUN_TEST(test_frame_lists_longer_than_meant_are_refused);
	return TEST_EXIT_STATUS();
}
