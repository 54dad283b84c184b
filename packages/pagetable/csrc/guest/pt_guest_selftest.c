/*
 * pt_guest_selftest.c - @dbos/pagetable's C core running inside the dbos
 * guest on this runtime, driven the way an engine drives it.  An entry point
 * of the guest image (@dbos/hypercall test/guest-pagetable.test.ts calls it):
 * returns 0 when every step held, else -(number of the failed step).
 */
#include "pt_guest.h"

#define STEP(n, cond)                \
	do {                         \
		if (!(cond))         \
			return -(n); \
	} while (0)

#define PAGES 64u

static int64_t check_pages(uint8_t *base, uint64_t page, uint64_t expected)
{
	return *(volatile uint64_t *)(base + page * DBOS_PAGE_SIZE) == expected;
}

DBOS_GUEST_ENTRY(pt_selftest)
{
	dbos_pt_capabilities caps;
	dbos_pt_probe(&caps);
	STEP(1, caps.runtime == DBOS_RUNTIME_GUEST && caps.dirty == DBOS_PT_DIRTY_PTE_BITS &&
			caps.faults == DBOS_PT_FAULT_GUEST_PF && caps.accessed == DBOS_PT_ACCESSED_PTE_BITS);

	dbos_pt_region_options options = { .size = PAGES * DBOS_PAGE_SIZE, .flags = 0 };
	dbos_pt_region *region = 0;
	STEP(2, dbos_pt_region_create(&options, &region) == DBOS_OK);
	uint8_t *base = dbos_pt_region_base(region);

	/* map: lazy zero pages, backed on first touch by the #PF handler. */
	STEP(3, dbos_pt_map(region, dbos_pt_range(0, 16), DBOS_PROT_READ_WRITE) == DBOS_OK);
	uint32_t found_pages[PAGES];
	uint64_t found = 0, next = 0;
	STEP(4, dbos_pt_present_collect(region, 0, PAGES, found_pages, PAGES, &found, &next) == DBOS_OK && found == 0);
	for (uint64_t page = 0; page < 16; page++)
		*(volatile uint64_t *)(base + page * DBOS_PAGE_SIZE) = 1000 + page;
	STEP(5, dbos_pt_present_collect(region, 0, PAGES, found_pages, PAGES, &found, &next) == DBOS_OK && found == 16);

	/* dirty tracking from the hardware D bits. */
	STEP(6, dbos_pt_dirty_start(region, DBOS_PT_DIRTY_PTE_BITS) == DBOS_OK);
	*(volatile uint64_t *)(base + 3 * DBOS_PAGE_SIZE) = 3;
	*(volatile uint64_t *)(base + 9 * DBOS_PAGE_SIZE) = 9;
	(void)*(volatile uint64_t *)(base + 5 * DBOS_PAGE_SIZE); /* a read: accessed, not dirty */
	STEP(7, dbos_pt_dirty_collect(region, 0, PAGES, DBOS_PT_COLLECT_RESET, found_pages, PAGES, &found, &next) == DBOS_OK);
	STEP(8, found == 2 && found_pages[0] == 3 && found_pages[1] == 9 && next == PAGES);
	STEP(9, dbos_pt_dirty_collect(region, 0, PAGES, 0, found_pages, PAGES, &found, &next) == DBOS_OK && found == 0);
	STEP(10, dbos_pt_accessed_collect(region, 0, PAGES, DBOS_PT_COLLECT_RESET, found_pages, PAGES, &found, &next) == DBOS_OK && found >= 3);
	STEP(11, dbos_pt_accessed_collect(region, 0, PAGES, 0, found_pages, PAGES, &found, &next) == DBOS_OK && found == 0);
	STEP(12, dbos_pt_dirty_stop(region) == DBOS_OK);

	/* move: the frames move, nothing is copied; the source becomes unmapped. */
	STEP(13, dbos_pt_move(region, dbos_pt_range(0, 4), dbos_pt_range(32, 4)) == DBOS_OK);
	STEP(14, check_pages(base, 32, 1000) && check_pages(base, 35, 3)); /* page 3 was rewritten above */
	dbos_pt_page_info info;
	STEP(15, dbos_pt_page_query(region, 0, &info) == DBOS_OK && info.state == DBOS_PT_UNMAPPED);
	STEP(16, !(dbos_guest_pte_query((uint64_t)(uintptr_t)base) & DBOS_PTE_PRESENT));

	/* protect and discard. */
	STEP(17, dbos_pt_protect(region, dbos_pt_range(8, 2), DBOS_PROT_READ) == DBOS_OK);
	STEP(18, !(dbos_guest_pte_query((uint64_t)(uintptr_t)(base + 8 * DBOS_PAGE_SIZE)) & DBOS_PTE_WRITE));
	STEP(19, check_pages(base, 8, 1008));
	STEP(20, dbos_pt_protect(region, dbos_pt_range(8, 2), DBOS_PROT_NONE) == DBOS_OK);
	STEP(21, dbos_pt_protect(region, dbos_pt_range(8, 2), DBOS_PROT_READ_WRITE) == DBOS_OK);
	STEP(22, check_pages(base, 8, 1008)); /* contents survived PROT_NONE */
	STEP(23, dbos_pt_discard(region, dbos_pt_range(10, 2)) == DBOS_OK);
	STEP(24, check_pages(base, 10, 0) && check_pages(base, 11, 0));

	/* frame pools: a FRAME slot aliases the pool's own mapping. */
	dbos_pt_frames *frames = 0;
	STEP(25, dbos_pt_frames_create(4, &frames) == DBOS_OK);
	uint8_t *pool = dbos_pt_frames_address(frames);
	*(volatile uint64_t *)(pool + 2 * DBOS_PAGE_SIZE) = 4242;
	STEP(26, dbos_pt_map_frames(region, dbos_pt_range(40, 2), frames, dbos_pt_range(1, 2), DBOS_PROT_READ_WRITE) == DBOS_OK);
	STEP(27, check_pages(base, 41, 4242));
	*(volatile uint64_t *)(base + 40 * DBOS_PAGE_SIZE) = 77;
	STEP(28, *(volatile uint64_t *)(pool + 1 * DBOS_PAGE_SIZE) == 77);

	/* faults through the core's handler: a stamped fill on first touch. */
	static dbos_pt_fill fill = { .byte = 0xab, .stamp_index = true };
	STEP(29, dbos_pt_map(region, dbos_pt_range(48, 8), DBOS_PROT_READ_WRITE) == DBOS_OK);
	STEP(30, dbos_pt_fault_enable(region, dbos_pt_fault_fill, &fill) == DBOS_OK);
	STEP(31, check_pages(base, 50, 50) && base[50 * DBOS_PAGE_SIZE + 100] == 0xab);
	dbos_pt_stats stats;
	dbos_pt_region_stats(region, &stats);
	STEP(32, stats.faults_served == 1);
	STEP(33, dbos_pt_fault_disable(region) == DBOS_OK);

	dbos_pt_region_destroy(region);
	dbos_pt_frames_destroy(frames);
	return 0;
}
