/*
 * pt_cases.h - @dbos/pagetable's conformance cases, written once and run on
 * both runtimes:
 *
 *   host   test/c/test_pt_conformance.c, linked with csrc/ + csrc/host/
 *          (one "ok NAME" line, so one vitest test, per case)
 *   guest  test/guest/pt_conformance.c, entry points of a test guest image
 *          built with csrc/ + csrc/guest/ (test/guest-conformance.test.ts
 *          runs one vitest test per case)
 *
 * A case uses only dbos/pagetable.h and dbos/platform.h (the guest has no
 * libc), returns 0 when every check held, else the line of this file whose
 * check failed.  Where the runtimes differ on purpose (accessed bits exist
 * only in the guest, userfaultfd or PAGEMAP_SCAN may be missing on a host),
 * the case asks dbos_pt_probe() and checks the answer the API documents for
 * that runtime (DBOS_ENOTSUP), so no case is ever skipped.
 *
 * Objects a case creates go into its pt_case_objects; pt_case_run() destroys
 * them whether the case passed or not, so one failure cannot leak frames or
 * fault-handler slots into the cases after it in the same guest.
 */
#ifndef DBOS_PT_CASES_H
#define DBOS_PT_CASES_H

#include "dbos/pagetable.h"
#include "dbos/platform.h"

struct pt_case_objects {
	dbos_pt_region *region;
	dbos_pt_frames *frames;
};

typedef int64_t (*pt_case_fn)(struct pt_case_objects *objects);

struct pt_case {
	const char *name;
	pt_case_fn run;
};

/* A failed check ends the case with the line it sits on. */
#define PT_CHECK(cond)                   \
	do {                             \
		if (!(cond))             \
			return __LINE__; \
	} while (0)

/* Pages in the region most cases use. */
#define PT_CASE_PAGES 64u

static inline volatile uint64_t *pt_case_word(dbos_pt_region *region, uint64_t page)
{
	return (volatile uint64_t *)(dbos_pt_region_base(region) + page * DBOS_PAGE_SIZE);
}

static inline bool pt_case_region(struct pt_case_objects *objects, uint64_t pages, uint32_t flags)
{
	dbos_pt_region_options options = { .size = pages * DBOS_PAGE_SIZE, .flags = flags };
	return dbos_pt_region_create(&options, &objects->region) == DBOS_OK;
}

/* True when found[0 .. found_count) is exactly expected[0 .. expected_count). */
static inline bool pt_case_pages_are(const uint32_t *found, uint64_t found_count, const uint32_t *expected,
				     uint64_t expected_count)
{
	if (found_count != expected_count)
		return false;
	for (uint64_t i = 0; i < found_count; i++) {
		if (found[i] != expected[i])
			return false;
	}
	return true;
}

/* ---- Cases ------------------------------------------------------------- */

/* The capabilities are the runtime's own, within what pagetable.h documents for it. */
static int64_t pt_case_probe(struct pt_case_objects *objects)
{
	(void)objects;
	dbos_pt_capabilities caps;
	dbos_pt_probe(&caps);
	PT_CHECK(caps.runtime == dbos_platform_runtime());
	if (caps.runtime == DBOS_RUNTIME_GUEST) {
		PT_CHECK(caps.dirty == DBOS_PT_DIRTY_PTE_BITS && caps.faults == DBOS_PT_FAULT_GUEST_PF);
		PT_CHECK(caps.accessed == DBOS_PT_ACCESSED_PTE_BITS && caps.present && caps.frames);
		PT_CHECK(!caps.faults_minor && caps.huge_pages == DBOS_PT_HUGE_NONE);
		return 0;
	}
	PT_CHECK(caps.runtime == DBOS_RUNTIME_HOST);
	PT_CHECK(caps.dirty == DBOS_PT_DIRTY_UFFD_WP_ASYNC || caps.dirty == DBOS_PT_DIRTY_SHADOW_COMPARE);
	PT_CHECK(caps.faults == DBOS_PT_FAULT_UFFD || caps.faults == DBOS_PT_FAULT_UFFD_USER_ONLY ||
		 caps.faults == DBOS_PT_FAULT_NONE);
	PT_CHECK(caps.faults != DBOS_PT_FAULT_NONE || !caps.faults_minor);
	PT_CHECK(caps.accessed == DBOS_PT_ACCESSED_NONE); /* Linux gives user space no accessed bits */
	/* WP_ASYNC tracking is only picked where PAGEMAP_SCAN can list the pages. */
	PT_CHECK(caps.dirty != DBOS_PT_DIRTY_UFFD_WP_ASYNC || caps.present);
	return 0;
}

/* Mapped pages read zeros, hold what is written, and report their state. */
static int64_t pt_case_map_reads_zeros_then_holds_writes(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(8, 8), DBOS_PROT_READ_WRITE) == DBOS_OK);
	for (uint64_t page = 8; page < 16; page++)
		PT_CHECK(*pt_case_word(region, page) == 0);
	for (uint64_t page = 8; page < 16; page++)
		*pt_case_word(region, page) = 1000 + page;
	for (uint64_t page = 8; page < 16; page++)
		PT_CHECK(*pt_case_word(region, page) == 1000 + page);
	dbos_pt_page_info info;
	PT_CHECK(dbos_pt_page_query(region, 9, &info) == DBOS_OK);
	PT_CHECK(info.state == DBOS_PT_ANON && info.prot == DBOS_PROT_READ_WRITE && info.frame == UINT32_MAX);
	PT_CHECK(dbos_pt_page_query(region, 7, &info) == DBOS_OK && info.state == DBOS_PT_UNMAPPED);
	PT_CHECK(dbos_pt_range_accessible(region, 8, 8, DBOS_PROT_READ_WRITE));
	PT_CHECK(!dbos_pt_range_accessible(region, 7, 2, DBOS_PROT_READ));
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	PT_CHECK(stats.pages_mapped == 8);
	return 0;
}

/* Mapping is lazy: a page is backed (present) only once touched. */
static int64_t pt_case_map_is_lazy_until_touched(struct pt_case_objects *objects)
{
	dbos_pt_capabilities caps;
	dbos_pt_probe(&caps);
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(0, 16), DBOS_PROT_READ_WRITE) == DBOS_OK);
	uint32_t found_pages[PT_CASE_PAGES];
	uint64_t found = 0, next = 0;
	dbos_status status =
		dbos_pt_present_collect(region, 0, PT_CASE_PAGES, found_pages, PT_CASE_PAGES, &found, &next);
	if (!caps.present) {
		PT_CHECK(status == DBOS_ENOTSUP); /* a host without PAGEMAP_SCAN cannot tell */
		return 0;
	}
	PT_CHECK(status == DBOS_OK && found == 0 && next == PT_CASE_PAGES);
	for (uint64_t page = 0; page < 16; page += 2)
		*pt_case_word(region, page) = page + 1;
	PT_CHECK(dbos_pt_present_collect(region, 0, PT_CASE_PAGES, found_pages, PT_CASE_PAGES, &found, &next) ==
		 DBOS_OK);
	static const uint32_t written[] = { 0, 2, 4, 6, 8, 10, 12, 14 };
	PT_CHECK(pt_case_pages_are(found_pages, found, written, 8) && next == PT_CASE_PAGES);
	/* A full buffer stops the scan where it is: resumable from `next`. */
	PT_CHECK(dbos_pt_present_collect(region, 0, PT_CASE_PAGES, found_pages, 3, &found, &next) == DBOS_OK);
	PT_CHECK(found == 3 && found_pages[2] == 4 && next > 4 && next <= 6);
	return 0;
}

/* Dirty tracking with the runtime's best mechanism reports exactly the pages written. */
static int64_t pt_case_dirty_reports_written_pages(struct pt_case_objects *objects)
{
	dbos_pt_capabilities caps;
	dbos_pt_probe(&caps);
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(0, PT_CASE_PAGES), DBOS_PROT_READ_WRITE) == DBOS_OK);
	for (uint64_t page = 0; page < 16; page++)
		*pt_case_word(region, page) = 1000 + page;
	PT_CHECK(dbos_pt_dirty_start(region, DBOS_PT_DIRTY_NONE) == DBOS_OK);
	PT_CHECK(dbos_pt_dirty_mechanism_of(region) == caps.dirty);
	PT_CHECK(dbos_pt_dirty_start(region, DBOS_PT_DIRTY_NONE) == DBOS_EBUSY);
	*pt_case_word(region, 3) = 3;
	*pt_case_word(region, 9) = 9;
	*pt_case_word(region, 40) = 40; /* never touched before tracking started */
	(void)*pt_case_word(region, 5); /* a read: not a write */
	uint32_t found_pages[PT_CASE_PAGES];
	uint64_t found = 0, next = 0;
	static const uint32_t written[] = { 3, 9, 40 };
	PT_CHECK(dbos_pt_dirty_collect(region, 0, PT_CASE_PAGES, 0, found_pages, PT_CASE_PAGES, &found, &next) ==
		 DBOS_OK);
	PT_CHECK(pt_case_pages_are(found_pages, found, written, 3) && next == PT_CASE_PAGES); /* a peek */
	PT_CHECK(dbos_pt_dirty_collect(region, 0, PT_CASE_PAGES, DBOS_PT_COLLECT_RESET, found_pages, PT_CASE_PAGES,
				       &found, &next) == DBOS_OK);
	PT_CHECK(pt_case_pages_are(found_pages, found, written, 3));
	PT_CHECK(dbos_pt_dirty_collect(region, 0, PT_CASE_PAGES, 0, found_pages, PT_CASE_PAGES, &found, &next) ==
			 DBOS_OK &&
		 found == 0);
	/* A reset range forgets its writes, the rest are kept. */
	*pt_case_word(region, 2) = 22;
	*pt_case_word(region, 50) = 50;
	PT_CHECK(dbos_pt_dirty_reset(region, 0, 10) == DBOS_OK);
	PT_CHECK(dbos_pt_dirty_collect(region, 0, PT_CASE_PAGES, 0, found_pages, PT_CASE_PAGES, &found, &next) ==
			 DBOS_OK &&
		 found == 1 && found_pages[0] == 50);
	PT_CHECK(dbos_pt_dirty_stop(region) == DBOS_OK);
	PT_CHECK(dbos_pt_dirty_mechanism_of(region) == DBOS_PT_DIRTY_NONE);
	PT_CHECK(dbos_pt_dirty_collect(region, 0, PT_CASE_PAGES, 0, found_pages, PT_CASE_PAGES, &found, &next) ==
		 DBOS_EINVAL);
	return 0;
}

/* The portable fallback runs on every runtime: pages whose bytes changed. */
static int64_t pt_case_dirty_shadow_compare(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(0, 32), DBOS_PROT_READ_WRITE) == DBOS_OK);
	*pt_case_word(region, 1) = 1;
	PT_CHECK(dbos_pt_dirty_start(region, DBOS_PT_DIRTY_SHADOW_COMPARE) == DBOS_OK);
	PT_CHECK(dbos_pt_dirty_mechanism_of(region) == DBOS_PT_DIRTY_SHADOW_COMPARE);
	*pt_case_word(region, 1) = 1; /* the same bytes: not a change */
	*pt_case_word(region, 7) = 7;
	*pt_case_word(region, 31) = 31;
	uint32_t found_pages[PT_CASE_PAGES];
	uint64_t found = 0, next = 0;
	static const uint32_t changed[] = { 7, 31 };
	PT_CHECK(dbos_pt_dirty_collect(region, 0, PT_CASE_PAGES, DBOS_PT_COLLECT_RESET, found_pages, PT_CASE_PAGES,
				       &found, &next) == DBOS_OK);
	PT_CHECK(pt_case_pages_are(found_pages, found, changed, 2) && next == PT_CASE_PAGES);
	/* Page operations are not writes: a discarded page is clean afterwards. */
	PT_CHECK(dbos_pt_discard(region, dbos_pt_range(7, 1)) == DBOS_OK);
	PT_CHECK(dbos_pt_dirty_collect(region, 0, PT_CASE_PAGES, 0, found_pages, PT_CASE_PAGES, &found, &next) ==
			 DBOS_OK &&
		 found == 0);
	PT_CHECK(dbos_pt_dirty_stop(region) == DBOS_OK);
	return 0;
}

/* Accessed bits: the guest's MMU sets them; the host documents DBOS_ENOTSUP. */
static int64_t pt_case_accessed_pages(struct pt_case_objects *objects)
{
	dbos_pt_capabilities caps;
	dbos_pt_probe(&caps);
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(0, 16), DBOS_PROT_READ_WRITE) == DBOS_OK);
	uint32_t found_pages[PT_CASE_PAGES];
	uint64_t found = 0, next = 0;
	dbos_status status = dbos_pt_accessed_collect(region, 0, PT_CASE_PAGES, DBOS_PT_COLLECT_RESET, found_pages,
						      PT_CASE_PAGES, &found, &next);
	if (caps.accessed == DBOS_PT_ACCESSED_NONE) {
		PT_CHECK(status == DBOS_ENOTSUP);
		return 0;
	}
	PT_CHECK(status == DBOS_OK && found == 0); /* nothing touched yet: nothing backed */
	(void)*pt_case_word(region, 2);
	*pt_case_word(region, 11) = 11;
	static const uint32_t touched[] = { 2, 11 };
	PT_CHECK(dbos_pt_accessed_collect(region, 0, PT_CASE_PAGES, DBOS_PT_COLLECT_RESET, found_pages, PT_CASE_PAGES,
					  &found, &next) == DBOS_OK);
	PT_CHECK(pt_case_pages_are(found_pages, found, touched, 2) && next == PT_CASE_PAGES);
	PT_CHECK(dbos_pt_accessed_collect(region, 0, PT_CASE_PAGES, 0, found_pages, PT_CASE_PAGES, &found, &next) ==
			 DBOS_OK &&
		 found == 0);
	(void)*pt_case_word(region, 11);
	PT_CHECK(dbos_pt_accessed_collect(region, 0, PT_CASE_PAGES, 0, found_pages, PT_CASE_PAGES, &found, &next) ==
			 DBOS_OK &&
		 found == 1 && found_pages[0] == 11);
	return 0;
}

/* A move carries the pages to their new slots without copying; the source is unmapped. */
static int64_t pt_case_move_carries_pages(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(0, 8), DBOS_PROT_READ_WRITE) == DBOS_OK);
	for (uint64_t page = 0; page < 4; page++)
		*pt_case_word(region, page) = 1000 + page;
	PT_CHECK(dbos_pt_move(region, dbos_pt_range(0, 4), dbos_pt_range(32, 4)) == DBOS_OK);
	for (uint64_t page = 0; page < 4; page++)
		PT_CHECK(*pt_case_word(region, 32 + page) == 1000 + page);
	dbos_pt_page_info info;
	PT_CHECK(dbos_pt_page_query(region, 0, &info) == DBOS_OK && info.state == DBOS_PT_UNMAPPED);
	PT_CHECK(dbos_pt_page_query(region, 33, &info) == DBOS_OK && info.state == DBOS_PT_ANON);
	PT_CHECK(!dbos_pt_range_accessible(region, 0, 1, DBOS_PROT_READ));
	/* Lists move pairwise, and a never-touched page moves as a zero page. */
	static const uint32_t sources[] = { 35, 5 };
	static const uint32_t targets[] = { 50, 51 };
	PT_CHECK(dbos_pt_move(region, dbos_pt_list(sources, 2), dbos_pt_list(targets, 2)) == DBOS_OK);
	PT_CHECK(*pt_case_word(region, 50) == 1003 && *pt_case_word(region, 51) == 0);
	PT_CHECK(dbos_pt_move(region, dbos_pt_range(40, 2), dbos_pt_range(41, 2)) == DBOS_EINVAL); /* overlap */
	PT_CHECK(dbos_pt_move(region, dbos_pt_range(0, 1), dbos_pt_range(60, 1)) == DBOS_EFAULT);  /* unmapped */
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	PT_CHECK(stats.pages_mapped == 8);
	return 0;
}

/* Read-only pages keep their contents and are reported as such. */
static int64_t pt_case_protect_read_keeps_contents(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(8, 4), DBOS_PROT_READ_WRITE) == DBOS_OK);
	*pt_case_word(region, 8) = 1008;
	PT_CHECK(dbos_pt_protect(region, dbos_pt_range(8, 2), DBOS_PROT_READ) == DBOS_OK);
	PT_CHECK(*pt_case_word(region, 8) == 1008 && *pt_case_word(region, 9) == 0);
	dbos_pt_page_info info;
	PT_CHECK(dbos_pt_page_query(region, 9, &info) == DBOS_OK && info.prot == DBOS_PROT_READ);
	PT_CHECK(dbos_pt_range_accessible(region, 8, 4, DBOS_PROT_READ));
	PT_CHECK(!dbos_pt_range_accessible(region, 8, 4, DBOS_PROT_READ_WRITE));
	PT_CHECK(dbos_pt_range_accessible(region, 10, 2, DBOS_PROT_READ_WRITE));
	PT_CHECK(dbos_pt_protect(region, dbos_pt_range(8, 2), DBOS_PROT_READ_WRITE) == DBOS_OK);
	*pt_case_word(region, 9) = 1009;
	PT_CHECK(*pt_case_word(region, 9) == 1009);
	return 0;
}

/* PROT_NONE makes pages inaccessible but keeps their contents for the next protect. */
static int64_t pt_case_protect_none_keeps_contents(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(8, 4), DBOS_PROT_READ_WRITE) == DBOS_OK);
	*pt_case_word(region, 8) = 1008;
	*pt_case_word(region, 9) = 1009;
	PT_CHECK(dbos_pt_protect(region, dbos_pt_range(8, 3), DBOS_PROT_NONE) == DBOS_OK);
	dbos_pt_page_info info;
	PT_CHECK(dbos_pt_page_query(region, 8, &info) == DBOS_OK && info.state == DBOS_PT_ANON &&
		 info.prot == DBOS_PROT_NONE);
	PT_CHECK(!dbos_pt_range_accessible(region, 8, 1, DBOS_PROT_READ));
	PT_CHECK(dbos_pt_protect(region, dbos_pt_range(8, 3), DBOS_PROT_READ_WRITE) == DBOS_OK);
	PT_CHECK(*pt_case_word(region, 8) == 1008 && *pt_case_word(region, 9) == 1009);
	PT_CHECK(*pt_case_word(region, 10) == 0); /* never touched: still a zero page */
	/* Protecting an unmapped page changes nothing and says so. */
	PT_CHECK(dbos_pt_protect(region, dbos_pt_range(11, 2), DBOS_PROT_READ) == DBOS_EFAULT);
	PT_CHECK(dbos_pt_page_query(region, 11, &info) == DBOS_OK && info.prot == DBOS_PROT_READ_WRITE);
	return 0;
}

/* Discarded pages stay mapped and read zeros; unmapped pages in the set are skipped. */
static int64_t pt_case_discard_reads_zeros(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(0, 16), DBOS_PROT_READ_WRITE) == DBOS_OK);
	for (uint64_t page = 0; page < 16; page++)
		*pt_case_word(region, page) = 1000 + page;
	static const uint32_t scattered[] = { 12, 3, 4, 20 }; /* 20 is unmapped */
	PT_CHECK(dbos_pt_discard(region, dbos_pt_list(scattered, 4)) == DBOS_OK);
	PT_CHECK(dbos_pt_discard(region, dbos_pt_range(10, 1)) == DBOS_OK);
	for (uint64_t page = 0; page < 16; page++) {
		bool dropped = page == 3 || page == 4 || page == 10 || page == 12;
		PT_CHECK(*pt_case_word(region, page) == (dropped ? 0 : 1000 + page));
	}
	dbos_pt_page_info info;
	PT_CHECK(dbos_pt_page_query(region, 3, &info) == DBOS_OK && info.state == DBOS_PT_ANON);
	PT_CHECK(dbos_pt_page_query(region, 20, &info) == DBOS_OK && info.state == DBOS_PT_UNMAPPED);
	*pt_case_word(region, 3) = 3; /* still writable */
	PT_CHECK(*pt_case_word(region, 3) == 3);
	return 0;
}

/* Unmapped pages are inaccessible and their memory is gone: a new map reads zeros. */
static int64_t pt_case_unmap_then_map_reads_zeros(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, DBOS_PT_REGION_MAP_ALL));
	dbos_pt_region *region = objects->region;
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	PT_CHECK(stats.pages_mapped == PT_CASE_PAGES);
	*pt_case_word(region, 6) = 6;
	PT_CHECK(dbos_pt_unmap(region, dbos_pt_range(4, 4)) == DBOS_OK);
	dbos_pt_region_stats(region, &stats);
	PT_CHECK(stats.pages_mapped == PT_CASE_PAGES - 4);
	PT_CHECK(!dbos_pt_range_accessible(region, 6, 1, DBOS_PROT_READ));
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(6, 1), DBOS_PROT_READ_WRITE) == DBOS_OK);
	PT_CHECK(*pt_case_word(region, 6) == 0);
	return 0;
}

/* A frame mapped at a slot aliases the pool's own mapping: the same bytes, both ways. */
static int64_t pt_case_frames_alias_the_pool(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_frames_create(4, &objects->frames) == DBOS_OK);
	dbos_pt_frames *frames = objects->frames;
	PT_CHECK(dbos_pt_frames_count(frames) == 4);
	uint8_t *pool = dbos_pt_frames_address(frames);
	*(volatile uint64_t *)(pool + 2 * DBOS_PAGE_SIZE) = 4242;
	PT_CHECK(dbos_pt_map_frames(region, dbos_pt_range(40, 2), frames, dbos_pt_range(1, 2), DBOS_PROT_READ_WRITE) ==
		 DBOS_OK);
	PT_CHECK(*pt_case_word(region, 41) == 4242);
	*pt_case_word(region, 40) = 77;
	PT_CHECK(*(volatile uint64_t *)(pool + 1 * DBOS_PAGE_SIZE) == 77);
	dbos_pt_page_info info;
	PT_CHECK(dbos_pt_page_query(region, 41, &info) == DBOS_OK && info.state == DBOS_PT_FRAME && info.frame == 2);
	/* The same frame at a second slot, and a move that remaps instead of copying. */
	PT_CHECK(dbos_pt_map_frames(region, dbos_pt_range(44, 1), frames, dbos_pt_range(1, 1), DBOS_PROT_READ) ==
		 DBOS_OK);
	PT_CHECK(*pt_case_word(region, 44) == 77);
	PT_CHECK(dbos_pt_move(region, dbos_pt_range(41, 1), dbos_pt_range(60, 1)) == DBOS_OK);
	PT_CHECK(dbos_pt_page_query(region, 60, &info) == DBOS_OK && info.state == DBOS_PT_FRAME && info.frame == 2);
	*(volatile uint64_t *)(pool + 2 * DBOS_PAGE_SIZE) = 4343;
	PT_CHECK(*pt_case_word(region, 60) == 4343);
	PT_CHECK(dbos_pt_map_frames(region, dbos_pt_range(0, 1), frames, dbos_pt_range(4, 1), DBOS_PROT_READ) ==
		 DBOS_ERANGE);
	return 0;
}

/* Releasing a frame zeroes it wherever it is mapped. */
static int64_t pt_case_frames_release_reads_zeros(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_frames_create(4, &objects->frames) == DBOS_OK);
	dbos_pt_frames *frames = objects->frames;
	PT_CHECK(dbos_pt_map_frames(region, dbos_pt_range(0, 4), frames, dbos_pt_range(0, 4), DBOS_PROT_READ_WRITE) ==
		 DBOS_OK);
	for (uint64_t page = 0; page < 4; page++)
		*pt_case_word(region, page) = 500 + page;
	PT_CHECK(dbos_pt_frames_release(frames, dbos_pt_range(1, 2)) == DBOS_OK);
	PT_CHECK(*pt_case_word(region, 0) == 500 && *pt_case_word(region, 3) == 503);
	PT_CHECK(*pt_case_word(region, 1) == 0 && *pt_case_word(region, 2) == 0);
	PT_CHECK(*(volatile uint64_t *)(dbos_pt_frames_address(frames) + DBOS_PAGE_SIZE) == 0);
	PT_CHECK(dbos_pt_frames_release(frames, dbos_pt_range(3, 2)) == DBOS_ERANGE);
	return 0;
}

/* The core's ready-made handler fills a page on first touch; the host without userfaultfd says DBOS_ENOTSUP. */
static int64_t pt_case_fault_handler_fills_first_touch(struct pt_case_objects *objects)
{
	static dbos_pt_fill fill = { .byte = 0xab, .stamp_index = true };
	dbos_pt_capabilities caps;
	dbos_pt_probe(&caps);
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(48, 8), DBOS_PROT_READ_WRITE) == DBOS_OK);
	dbos_status status = dbos_pt_fault_enable(region, dbos_pt_fault_fill, &fill);
	if (caps.faults == DBOS_PT_FAULT_NONE) {
		PT_CHECK(status == DBOS_ENOTSUP);
		return 0;
	}
	PT_CHECK(status == DBOS_OK);
	PT_CHECK(dbos_pt_fault_enable(region, dbos_pt_fault_fill, &fill) == DBOS_EBUSY);
	volatile uint8_t *bytes = dbos_pt_region_base(region);
	PT_CHECK(*pt_case_word(region, 50) == 50 && bytes[50 * DBOS_PAGE_SIZE + 100] == 0xab);
	PT_CHECK(*pt_case_word(region, 50) == 50); /* served once: the page is there now */
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	PT_CHECK(stats.faults_served == 1 && stats.faults_failed == 0);
	/* Pages mapped after enabling are covered too. */
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(20, 1), DBOS_PROT_READ_WRITE) == DBOS_OK);
	PT_CHECK(*pt_case_word(region, 20) == 20);
	PT_CHECK(dbos_pt_fault_disable(region) == DBOS_OK);
	PT_CHECK(*pt_case_word(region, 52) == 0); /* after disable: plain zero pages */
	return 0;
}

/* A pinned page refuses to become inaccessible or read-only, and allows the rest. */
static int64_t pt_case_pins_refuse_unmap_and_protect(struct pt_case_objects *objects)
{
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_pin(region, 0, 1) == DBOS_EFAULT); /* unmapped */
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(0, 4), DBOS_PROT_READ_WRITE) == DBOS_OK);
	PT_CHECK(dbos_pt_pin(region, 1, 2) == DBOS_OK);
	PT_CHECK(dbos_pt_range_pinned(region, 0, 2) && !dbos_pt_range_pinned(region, 3, 1));
	PT_CHECK(dbos_pt_unmap(region, dbos_pt_range(2, 1)) == DBOS_EBUSY);
	PT_CHECK(dbos_pt_protect(region, dbos_pt_range(1, 1), DBOS_PROT_READ) == DBOS_EBUSY);
	PT_CHECK(dbos_pt_move(region, dbos_pt_range(1, 1), dbos_pt_range(9, 1)) == DBOS_EBUSY);
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(1, 1), DBOS_PROT_READ) == DBOS_EBUSY);
	PT_CHECK(dbos_pt_discard(region, dbos_pt_range(1, 2)) == DBOS_OK);
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(1, 1), DBOS_PROT_READ_WRITE) == DBOS_OK);
	dbos_pt_unpin(region, 1, 2);
	PT_CHECK(!dbos_pt_range_pinned(region, 0, 4));
	PT_CHECK(dbos_pt_unmap(region, dbos_pt_range(0, 4)) == DBOS_OK);
	return 0;
}

/* Bad arguments are refused with the codes pagetable.h names, and change nothing. */
static int64_t pt_case_bad_arguments_change_nothing(struct pt_case_objects *objects)
{
	dbos_pt_region_options options = { .size = 1000, .flags = 0 };
	dbos_pt_region *unused = 0;
	PT_CHECK(dbos_pt_region_create(&options, &unused) == DBOS_EINVAL && unused == 0);
	options.size = DBOS_PT_REGION_SIZE_MAX + DBOS_PAGE_SIZE;
	PT_CHECK(dbos_pt_region_create(&options, &unused) == DBOS_ERANGE);
	PT_CHECK(dbos_pt_frames_create(0, &objects->frames) == DBOS_EINVAL);
	PT_CHECK(pt_case_region(objects, PT_CASE_PAGES, 0));
	dbos_pt_region *region = objects->region;
	PT_CHECK(dbos_pt_region_page_count(region) == PT_CASE_PAGES);
	PT_CHECK(dbos_pt_region_size(region) == PT_CASE_PAGES * DBOS_PAGE_SIZE);
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(60, 8), DBOS_PROT_READ_WRITE) == DBOS_ERANGE);
	static const uint32_t beyond[] = { 1, PT_CASE_PAGES };
	PT_CHECK(dbos_pt_map(region, dbos_pt_list(beyond, 2), DBOS_PROT_READ_WRITE) == DBOS_ERANGE);
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(0, 1), (enum dbos_prot)7) == DBOS_EINVAL);
	dbos_pt_page_info info;
	PT_CHECK(dbos_pt_page_query(region, 1, &info) == DBOS_OK && info.state == DBOS_PT_UNMAPPED);
	PT_CHECK(dbos_pt_page_query(region, PT_CASE_PAGES, &info) == DBOS_ERANGE);
	PT_CHECK(dbos_pt_map(region, dbos_pt_range(0, 0), DBOS_PROT_READ_WRITE) == DBOS_OK); /* empty: a no-op */
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	PT_CHECK(stats.pages_mapped == 0);
	return 0;
}

/* ---- The table --------------------------------------------------------- */

#define PT_CASE(name)                 \
	{                             \
#name, pt_case_##name \
	}

static const struct pt_case pt_cases[] = {
	PT_CASE(probe),
	PT_CASE(map_reads_zeros_then_holds_writes),
	PT_CASE(map_is_lazy_until_touched),
	PT_CASE(dirty_reports_written_pages),
	PT_CASE(dirty_shadow_compare),
	PT_CASE(accessed_pages),
	PT_CASE(move_carries_pages),
	PT_CASE(protect_read_keeps_contents),
	PT_CASE(protect_none_keeps_contents),
	PT_CASE(discard_reads_zeros),
	PT_CASE(unmap_then_map_reads_zeros),
	PT_CASE(frames_alias_the_pool),
	PT_CASE(frames_release_reads_zeros),
	PT_CASE(fault_handler_fills_first_touch),
	PT_CASE(pins_refuse_unmap_and_protect),
	PT_CASE(bad_arguments_change_nothing),
};

#define PT_CASE_COUNT (sizeof(pt_cases) / sizeof(pt_cases[0]))

/* Run case `index` and destroy what it made: 0, or the line of the failed check. */
static inline int64_t pt_case_run(uint64_t index)
{
	DBOS_ASSERT(index < PT_CASE_COUNT);
	struct pt_case_objects objects = { 0, 0 };
	int64_t result = pt_cases[index].run(&objects);
	dbos_pt_region_destroy(objects.region);
	dbos_pt_frames_destroy(objects.frames);
	return result;
}

#endif /* DBOS_PT_CASES_H */
