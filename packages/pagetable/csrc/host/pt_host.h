/*
 * pt_host.h - the host runtime of the pagetable core: shared state and the
 * kernel interfaces newer than this machine's installed headers.
 *
 *   pt_host_region.c     reservation and per-run page operations (mmap family)
 *   pt_host_frames.c     frame pools (one memfd each)
 *   pt_host_uffd.c       the region's userfaultfd: opening, registering runs
 *   pt_host_dirty.c      dirty/present reports (PAGEMAP_SCAN), write-protect
 *   pt_host_fault.c      the fault thread and fault resolution ioctls
 *   pt_host_probe.c      the mechanisms picked, from @dbos/platform's probe
 *   pt_host_mechanism.c  those picks as one line of text for probe()
 *
 * What the machine offers is measured once per process by @dbos/platform
 * (dbos_probe_cached() of dbos/probe.h); this runtime only chooses from it,
 * so the region code, the mechanism line and both probe() functions in
 * JavaScript read the same facts.
 */
#ifndef DBOS_PT_HOST_H
#define DBOS_PT_HOST_H

#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>

#include "../pt_internal.h"
#include "dbos/host/pagemap.h"
#include "dbos/host/platform.h"
#include "dbos/host/userfaultfd.h"
#include "dbos/probe.h"

/*
 * ---- Kernel interfaces newer than the installed headers (uapi values) ----
 *
 * PAGEMAP_SCAN comes from dbos/host/pagemap.h and the userfaultfd feature
 * bits the probe reports from dbos/probe.h; only what @dbos/platform does not
 * name is spelled out here.
 */

#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
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
