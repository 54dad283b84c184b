/* pt_host_probe.c - what this kernel offers the pagetable core, probed once per process. */
#include "pt_host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static pt_host_uffd_support support;
static pthread_once_t support_once = PTHREAD_ONCE_INIT;

int pt_host_uffd_open(bool *user_mode_only_out)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 || (errno != EPERM && errno != EACCES)) {
		*user_mode_only_out = false;
		return fd;
	}
	/*
	 * vm.unprivileged_userfaultfd=0 refuses unprivileged callers unless they
	 * only want faults from user mode: a kernel access (read(2) into a
	 * missing page) then fails with EFAULT instead of waiting for us.
	 */
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	*user_mode_only_out = fd >= 0;
	return fd;
}

static bool pagemap_scan_works(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* Scan one page of our own stack: ENOTTY/EINVAL mean no PAGEMAP_SCAN. */
	struct page_region regions[1];
	char probe_byte = 0;
	uintptr_t page = (uintptr_t)&probe_byte & ~(uintptr_t)(DBOS_PAGE_SIZE - 1);
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = page,
		.end = page + DBOS_PAGE_SIZE,
		.vec = (uintptr_t)regions,
		.vec_len = 1,
		.category_anyof_mask = PAGE_IS_PRESENT,
		.return_mask = PAGE_IS_PRESENT,
	};
	bool works = ioctl(fd, PAGEMAP_SCAN, &arg) >= 0;
	close(fd);
	return works;
}

static void support_probe(void)
{
	support.pagemap_scan = pagemap_scan_works();
	bool user_mode_only = false;
	int fd = pt_host_uffd_open(&user_mode_only);
	if (fd < 0)
		return;
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	if (ioctl(fd, UFFDIO_API, &api) == 0) {
		support.available = true;
		support.user_mode_only = user_mode_only;
		support.features = api.features;
	}
	close(fd);
}

const pt_host_uffd_support *pt_host_uffd_support_get(void)
{
	pthread_once(&support_once, support_probe);
	return &support;
}

static bool transparent_huge_pages_usable(void)
{
	FILE *file = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	if (file == NULL)
		return false;
	char line[128] = { 0 };
	bool usable = fgets(line, sizeof(line), file) != NULL &&
		      (strstr(line, "[always]") != NULL || strstr(line, "[madvise]") != NULL);
	fclose(file);
	return usable;
}

static bool memfd_works(void)
{
	int fd = memfd_create("dbos-probe", MFD_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

void dbos_pt_rt_probe(dbos_pt_capabilities *capabilities)
{
	const pt_host_uffd_support *uffd = pt_host_uffd_support_get();
	capabilities->runtime = DBOS_RUNTIME_HOST;
	bool wp_async = uffd->available && (uffd->features & UFFD_FEATURE_WP_ASYNC) && uffd->pagemap_scan;
	capabilities->dirty = wp_async ? DBOS_PT_DIRTY_UFFD_WP_ASYNC : DBOS_PT_DIRTY_SHADOW_COMPARE;
	capabilities->faults = !uffd->available       ? DBOS_PT_FAULT_NONE
			       : uffd->user_mode_only ? DBOS_PT_FAULT_UFFD_USER_ONLY
						      : DBOS_PT_FAULT_UFFD;
	capabilities->faults_minor = uffd->available && (uffd->features & UFFD_FEATURE_MINOR_SHMEM);
	capabilities->accessed = DBOS_PT_ACCESSED_NONE; /* Linux gives user space no accessed bits */
	capabilities->present = uffd->pagemap_scan;
	capabilities->huge_pages = transparent_huge_pages_usable() ? DBOS_PT_HUGE_MADVISE : DBOS_PT_HUGE_NONE;
	capabilities->frames = memfd_works();
}
