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

#include "dbos/host/pagemap.h"
#include "probe_host.h"

void probe_pagemap(dbos_probe *probe)
{
	long page_size = sysconf(_SC_PAGESIZE);
	char *page = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (page == MAP_FAILED || fd < 0) {
		probe->pagemap_scan_errno = errno;
		goto out;
	}
	page[0] = 1; /* present, and soft-dirty where the kernel tracks it */

	struct dbos_page_region region;
	struct dbos_pm_scan_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.start = (uint64_t)(uintptr_t)page;
	arg.end = arg.start + (uint64_t)page_size;
	arg.vec = (uint64_t)(uintptr_t)&region;
	arg.vec_len = 1;
	arg.return_mask = DBOS_PAGE_IS_PRESENT;
	long found = ioctl(fd, DBOS_PAGEMAP_SCAN, &arg);
	probe->pagemap_scan = found == 1 && region.start == arg.start;
	probe->pagemap_scan_errno = found < 0 ? errno : 0;

	/* A page written for the first time is soft-dirty iff CONFIG_MEM_SOFT_DIRTY. */
	uint64_t entry = 0;
	off_t at = (off_t)((uintptr_t)page / (uintptr_t)page_size) * (off_t)sizeof(entry);
	if (pread(fd, &entry, sizeof(entry), at) == (ssize_t)sizeof(entry))
		probe->soft_dirty = (entry & DBOS_PAGEMAP_ENTRY_SOFT_DIRTY) != 0;
out:
	if (fd >= 0)
		close(fd);
	if (page != MAP_FAILED)
		munmap(page, (size_t)page_size);
}
