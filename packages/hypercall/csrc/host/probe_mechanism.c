/*
 * probe_mechanism.c - which mechanism each capability uses on this machine,
 * per runtime, in one line of text.  The choices mirror ARCHITECTURE.md's
 * table: the best unprivileged mechanism the probe found, else the next one.
 */
#include <string.h>

#include "probe_host.h"

/* Said of a mechanism whose package does not exist yet: the probe tells what would run. */
#define NOT_BUILT " [planned: package not built yet]"
#define NO_GUEST_BACKEND " [guest backend not built yet]"

static bool uffd_has(const dbos_probe *p, uint64_t feature)
{
	return p->uffd.available && (p->uffd.features & feature) == feature;
}

static bool dirty_by_wp_async(const dbos_probe *p)
{
	return uffd_has(p, DBOS_UFFD_FEATURE_WP | DBOS_UFFD_FEATURE_WP_ASYNC) && p->pagemap_scan;
}

static const char *io_mechanism(const dbos_probe *p)
{
	return p->io_uring.setup_works ? "io_uring" : "thread pool";
}

static void host_mechanism(const dbos_probe *p, enum dbos_capability capability, char *t, size_t n)
{
	/* These mirror what @dbos/pagetable really selects (pt_host_probe.c): a
	 * SIGSEGV handler would fight Node's own, so there is none. */
	const char *faults = p->uffd.available
		? (p->uffd.user_mode_only ? "userfaultfd (user-mode only)" : "userfaultfd")
		: "none (no userfaultfd)";
	const char *dirty = dirty_by_wp_async(p) ? "UFFD WP_ASYNC + PAGEMAP_SCAN"
						 : "shadow compare (a copy of every page)";
	bool thp = strcmp(p->thp_enabled, "always") == 0 || strcmp(p->thp_enabled, "madvise") == 0;
	switch (capability) {
	case DBOS_CAPABILITY_HYPERCALL:
		if (p->io_uring.setup_works)
			probe_format(t, n, "io_uring via raw system calls, batched; thread-pool fallback%s",
				     p->io_uring.op_ftruncate ? "" : " (ftruncate as a plain system call)");
		else
			probe_format(t, n, "thread pool of plain system calls (io_uring_setup: %s)",
				     strerror(p->io_uring.setup_errno));
		return;
	case DBOS_CAPABILITY_PAGETABLE:
		probe_format(t, n, "mmap/MAP_FIXED/mremap/madvise%s; faults: %s; dirty: %s",
			     p->memfd ? " over memfd frames" : "", faults, dirty);
		return;
	case DBOS_CAPABILITY_SNAPSHOT:
		if (uffd_has(p, DBOS_UFFD_FEATURE_WP))
			probe_format(t, n, "latched pages: epoch copy-on-write; raw regions: userfaultfd write-protect%s",
				     dirty_by_wp_async(p) ? ", dirty sets by WP_ASYNC + PAGEMAP_SCAN" : "");
		else
			probe_format(t, n, "latched pages: epoch copy-on-write; raw regions: fork()%s",
				     thp ? " with THP (MADV_HUGEPAGE)" : "");
		return;
	case DBOS_CAPABILITY_ALLOC:
		probe_format(t, n, "arenas over reserved address space, MADV_POPULATE_WRITE%s%s",
			     thp ? ", THP (MADV_HUGEPAGE)" : ", 4 KiB pages (THP off)",
			     p->hugetlb_total ? ", hugetlb pool" : "");
		return;
	case DBOS_CAPABILITY_SCHEDULER:
		probe_format(t, n, "fibers on worker threads preempted by timer signals (timer_create, SIGEV_THREAD_ID)%s",
			     NOT_BUILT);
		return;
	case DBOS_CAPABILITY_BUFFERPOOL:
		probe_format(t, n, "vmcache over reserved address space, batched MADV_DONTNEED eviction; I/O: %s%s",
			     io_mechanism(p), NOT_BUILT);
		return;
	default:
		probe_format(t, n, "unknown capability");
	}
}

static void guest_mechanism(const dbos_probe *p, enum dbos_capability capability, char *t, size_t n)
{
	if (p->kvm.kind == DBOS_KVM_NONE) {
		probe_format(t, n, "unavailable: %s", p->kvm.reason);
		return;
	}
	/* On PVM, guest ring 0 is emulated: say so where the cost lands. */
	const char *pvm = p->kvm.kind == DBOS_KVM_PVM ? " (PVM: shadow paging, ring 0 emulated)" : "";
	switch (capability) {
	case DBOS_CAPABILITY_HYPERCALL:
		probe_format(t, n, "shared-memory rings + ioeventfd doorbell to VMM threads, host I/O by %s%s",
			     io_mechanism(p), pvm);
		return;
	case DBOS_CAPABILITY_PAGETABLE:
		probe_format(t, n, "direct PTE writes, INVLPG, own #PF handler, hardware A/D bits%s [C API in guest code; JS Region not yet]", pvm);
		return;
	case DBOS_CAPABILITY_SNAPSHOT:
		probe_format(t, n, "page-table pre-copy + prioritized copy-on-write%s%s", pvm, NO_GUEST_BACKEND);
		return;
	case DBOS_CAPABILITY_ALLOC:
		probe_format(t, n, "guest-physical page pool (memfd), per-vCPU free lists, no zeroing%s%s", pvm, NO_GUEST_BACKEND);
		return;
	case DBOS_CAPABILITY_SCHEDULER:
		probe_format(t, n, "LAPIC timer interrupts (in-kernel irqchip), guest context switch%s%s", pvm, NOT_BUILT);
		return;
	case DBOS_CAPABILITY_BUFFERPOOL:
		probe_format(t, n, "page id -> guest virtual address, eviction without TLB shootdown%s%s", pvm, NOT_BUILT);
		return;
	default:
		probe_format(t, n, "unknown capability");
	}
}

void dbos_probe_mechanism(const dbos_probe *probe, enum dbos_capability capability, bool guest,
			  char *text, uint32_t text_size)
{
	if (!text || text_size == 0)
		return;
	if (!probe) {
		text[0] = '\0';
		return;
	}
	if (guest)
		guest_mechanism(probe, capability, text, text_size);
	else
		host_mechanism(probe, capability, text, text_size);
}
