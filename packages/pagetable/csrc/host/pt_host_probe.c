/*
 * pt_host_probe.c - the mechanisms the host runtime picks, from the facts
 * @dbos/platform measured (dbos_probe_cached()).  Nothing is probed here:
 * userfaultfd, PAGEMAP_SCAN, THP and memfd were each tried once by the
 * platform, and every package choosing from the same facts agrees with
 * `dbos probe` about this machine.
 */
#include "pt_host.h"

#include <string.h>
#include <sys/sysinfo.h>

/* THP backs MADV_HUGEPAGE ranges when enabled is "always" or "madvise" (not "never"). */
static bool transparent_huge_pages_usable(const dbos_probe *facts)
{
	return strcmp(facts->thp_enabled, "always") == 0 || strcmp(facts->thp_enabled, "madvise") == 0;
}

void dbos_pt_rt_probe(dbos_pt_capabilities *capabilities)
{
	const dbos_probe *facts = dbos_probe_cached();
	const dbos_probe_uffd *uffd = &facts->uffd;
	/*
	 * Dirty pages need both halves: WP_ASYNC lets the kernel resolve first
	 * writes by itself, PAGEMAP_SCAN lists (and re-protects) them.  Either
	 * one missing means the shadow copy.
	 */
	bool wp_async = uffd->available && (uffd->features & DBOS_UFFD_FEATURE_WP_ASYNC) && facts->pagemap_scan;
	capabilities->runtime = DBOS_RUNTIME_HOST;
	capabilities->dirty = wp_async ? DBOS_PT_DIRTY_UFFD_WP_ASYNC : DBOS_PT_DIRTY_SHADOW_COMPARE;
	/* dbos_host_uffd_open() gives this process the door the probe found first. */
	capabilities->faults = !uffd->available       ? DBOS_PT_FAULT_NONE
			       : uffd->user_mode_only ? DBOS_PT_FAULT_UFFD_USER_ONLY
						      : DBOS_PT_FAULT_UFFD;
	capabilities->faults_minor = uffd->available && (uffd->features & DBOS_UFFD_FEATURE_MINOR_SHMEM);
	capabilities->accessed = DBOS_PT_ACCESSED_NONE; /* Linux gives user space no accessed bits */
	capabilities->present = facts->pagemap_scan;
	capabilities->huge_pages = transparent_huge_pages_usable(facts) ? DBOS_PT_HUGE_MADVISE : DBOS_PT_HUGE_NONE;
	capabilities->frames = facts->memfd;
}

uint64_t dbos_pt_rt_memory_bytes(void)
{
	/* The machine's RAM, read once: the bound the core keeps each operation's new memory under. */
	static _Atomic uint64_t total_bytes;
	uint64_t total = atomic_load_explicit(&total_bytes, memory_order_relaxed);
	if (total == 0) {
		struct sysinfo info;
		total = sysinfo(&info) == 0 ? (uint64_t)info.totalram * info.mem_unit : 0;
		if (total == 0)
			total = (uint64_t)1 << 30; /* unknown: assume a small machine rather than a limitless one */
		atomic_store_explicit(&total_bytes, total, memory_order_relaxed);
	}
	return total;
}
