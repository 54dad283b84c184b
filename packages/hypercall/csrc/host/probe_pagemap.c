/*
 * probe_pagemap.c - PAGEMAP_SCAN (Linux 6.7) and soft-dirty bits, tried on
 * a page of our own.  PAGEMAP_SCAN with UFFD WP_ASYNC is how the host runtime
 * finds dirty pages without a fault per page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "probe_host.h"

/* struct pm_scan_arg and friends, Linux 6.7 UAPI (newer than the build headers). */
struct probe_page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

struct probe_pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PROBE_PAGEMAP_SCAN _IOWR('f', 16, struct probe_pm_scan_arg)
#define PROBE_PAGE_IS_PRESENT ((uint64_t)1 << 3)
#define PROBE_PAGEMAP_SOFT_DIRTY ((uint64_t)1 << 55)

void probe_pagemap(dbos_probe *probe)
{
	long page_size = sysconf(_SC_PAGESIZE);
	char *page = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (page == MAP_FAILED || fd < 0) {
		probe->pagemap_scan_errno = errno;
		goto out;
	}
	page[0] = 1; /* present, and soft-dirty where the kernel tracks it */

	struct probe_page_region region;
	struct probe_pm_scan_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.start = (uint64_t)(uintptr_t)page;
	arg.end = arg.start + (uint64_t)page_size;
	arg.vec = (uint64_t)(uintptr_t)&region;
	arg.vec_len = 1;
	arg.return_mask = PROBE_PAGE_IS_PRESENT;
	long found = ioctl(fd, PROBE_PAGEMAP_SCAN, &arg);
	probe->pagemap_scan = found == 1 && region.start == arg.start;
	probe->pagemap_scan_errno = found < 0 ? errno : 0;

	/* A page written for the first time is soft-dirty iff CONFIG_MEM_SOFT_DIRTY. */
	uint64_t entry = 0;
	off_t at = (off_t)((uintptr_t)page / (uintptr_t)page_size) * (off_t)sizeof(entry);
	if (pread(fd, &entry, sizeof(entry), at) == (ssize_t)sizeof(entry))
		probe->soft_dirty = (entry & PROBE_PAGEMAP_SOFT_DIRTY) != 0;
out:
	if (fd >= 0)
		close(fd);
	if (page != MAP_FAILED)
		munmap(page, (size_t)page_size);
}
