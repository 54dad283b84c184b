/*
 * pt_host.h - the host runtime of the pagetable core: shared state and the
 * kernel interfaces newer than this machine's installed headers.
 *
 *   pt_host_region.c  reservation and per-run page operations (mmap family)
 *   pt_host_frames.c  frame pools (one memfd each)
 *   pt_host_uffd.c    the region's userfaultfd: opening, registering runs
 *   pt_host_dirty.c   dirty/present reports (PAGEMAP_SCAN), write-protect
 *   pt_host_fault.c   the fault thread and fault resolution ioctls
 *   pt_host_probe.c   what this kernel offers
 */
#ifndef DBOS_PT_HOST_H
#define DBOS_PT_HOST_H

#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>

#include "../pt_internal.h"

/* ---- Kernel interfaces newer than the installed headers (uapi values) ---- */

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
struct uffdio_poison {
	struct uffdio_range range;
	__u64 mode;
	__s64 updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* ---- State ------------------------------------------------------------- */

struct dbos_pt_rt_region {
	int uffd;           /* -1 until dirty tracking or faults need it */
	uint64_t features;  /* UFFD_FEATURE_* granted on uffd */
	bool wp_active;     /* dirty tracking by WP_ASYNC is on */
	bool faults_active; /* MISSING (and MINOR) faults go to the fault thread */
	int pagemap_fd;     /* /proc/self/pagemap, -1 until needed */
	int stop_fd;        /* eventfd that stops the fault thread */
	dbos_thread *fault_thread;
	/*
	 * Page operations that replace vmas (map, unmap, move) hold it shared
	 * from the mmap until the new vma is registered with the userfaultfd;
	 * PAGEMAP_SCAN holds it exclusive, because a scan that meets a vma in
	 * that window fails with EPERM (PM_SCAN_CHECK_WPASYNC).
	 */
	pthread_rwlock_t remap_lock;
};

struct dbos_pt_rt_frames {
	int memfd;
};

/* What the kernel grants a userfaultfd here (probed once). */
typedef struct pt_host_uffd_support {
	bool available;
	bool user_mode_only; /* only UFFD_USER_MODE_ONLY works (unprivileged, vm.unprivileged_userfaultfd=0) */
	uint64_t features;
	bool pagemap_scan;
} pt_host_uffd_support;

/* Defined by @dbos/hypercall's host platform (csrc/host/platform_memory.c). */
dbos_status dbos_host_status_from_errno(int error_number);
int dbos_host_prot(enum dbos_prot prot);

/* ---- pt_host_probe.c ---- */
const pt_host_uffd_support *pt_host_uffd_support_get(void);
/* userfaultfd(2) with the best flags this process may use; -1 with errno on failure. */
int pt_host_uffd_open(bool *user_mode_only_out);

/* ---- pt_host_region.c ---- */
static inline void *pt_host_address(const dbos_pt_region *region, uint64_t page)
{
	return region->base + page * DBOS_PAGE_SIZE;
}

/* ---- pt_host_uffd.c ---- */
dbos_status pt_host_uffd_ensure(dbos_pt_region *region);
/* Re-register a run whose vmas were just created (MAP_FIXED, mremap) with the active modes. */
dbos_status pt_host_uffd_cover(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_pt_state state);
/* Register the whole region with the active modes (after a mode changes). */
dbos_status pt_host_uffd_cover_all(dbos_pt_region *region);
dbos_status pt_host_uffd_unregister_all(dbos_pt_region *region);
dbos_status pt_host_uffd_write_protect(dbos_pt_region *region, uint64_t first, uint64_t count, bool protect);

/* ---- pt_host_fault.c ---- */
void pt_host_fault_thread_stop(dbos_pt_region *region);

#endif /* DBOS_PT_HOST_H */
