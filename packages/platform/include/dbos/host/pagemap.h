/*
 * dbos/host/pagemap.h - the PAGEMAP_SCAN ioctl on /proc/self/pagemap
 * (Linux 6.7), host runtime only.
 *
 * The structures mirror the kernel's UAPI (struct pm_scan_arg, struct
 * page_region in <linux/fs.h>) under our own names, because build machines'
 * headers may predate them; the layout is the kernel's ABI and cannot change.
 * One PAGEMAP_SCAN call walks a range and returns runs of pages that match
 * the category masks; with DBOS_PM_SCAN_WP_MATCHING it also write-protects
 * them again (UFFD WP_ASYNC dirty tracking).
 */
#ifndef DBOS_HOST_PAGEMAP_H
#define DBOS_HOST_PAGEMAP_H

#include <stdint.h>
#include <sys/ioctl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Page categories (PAGE_IS_*). */
#define DBOS_PAGE_IS_WPALLOWED ((uint64_t)1 << 0)
#define DBOS_PAGE_IS_WRITTEN ((uint64_t)1 << 1)
#define DBOS_PAGE_IS_FILE ((uint64_t)1 << 2)
#define DBOS_PAGE_IS_PRESENT ((uint64_t)1 << 3)
#define DBOS_PAGE_IS_SWAPPED ((uint64_t)1 << 4)
#define DBOS_PAGE_IS_PFNZERO ((uint64_t)1 << 5)
#define DBOS_PAGE_IS_HUGE ((uint64_t)1 << 6)
#define DBOS_PAGE_IS_SOFT_DIRTY ((uint64_t)1 << 7)

/* Scan flags (PM_SCAN_*). */
#define DBOS_PM_SCAN_WP_MATCHING ((uint64_t)1 << 0)
#define DBOS_PM_SCAN_CHECK_WPASYNC ((uint64_t)1 << 1)

/* Bit 55 of a /proc/self/pagemap entry: soft-dirty (CONFIG_MEM_SOFT_DIRTY). */
#define DBOS_PAGEMAP_ENTRY_SOFT_DIRTY ((uint64_t)1 << 55)

struct dbos_page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

struct dbos_pm_scan_arg {
	uint64_t size; /* sizeof(struct dbos_pm_scan_arg) */
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end; /* where the walk stopped (output) */
	uint64_t vec;      /* struct dbos_page_region[vec_len] */
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#ifndef __cplusplus
_Static_assert(sizeof(struct dbos_pm_scan_arg) == 96, "struct pm_scan_arg is 96 bytes in the kernel ABI");
_Static_assert(sizeof(struct dbos_page_region) == 24, "struct page_region is 24 bytes in the kernel ABI");
#endif

#define DBOS_PAGEMAP_SCAN _IOWR('f', 16, struct dbos_pm_scan_arg)

#ifdef __cplusplus
}
#endif

#endif /* DBOS_HOST_PAGEMAP_H */
