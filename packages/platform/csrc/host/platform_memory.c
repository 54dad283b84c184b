/* platform_memory.c - host implementation of the memory part of dbos/platform.h (mmap family). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dbos/host/platform.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

dbos_runtime dbos_platform_runtime(void)
{
	return DBOS_RUNTIME_HOST;
}

dbos_status dbos_host_status_from_errno(int error_number)
{
	switch (error_number) {
	case 0: return DBOS_OK;
	case ENOMEM: return DBOS_ENOMEM;
	case EINVAL: return DBOS_EINVAL;
	case EPERM:
	case EACCES: return DBOS_EPERM;
	case ENOSYS:
	case EOPNOTSUPP: return DBOS_ENOTSUP;
	case EFAULT: return DBOS_EFAULT;
	case EAGAIN: return DBOS_EAGAIN;
	case EBUSY: return DBOS_EBUSY;
	case ENOENT: return DBOS_ENOENT;
	case EEXIST: return DBOS_EEXIST;
	case ETIMEDOUT: return DBOS_ETIMEDOUT;
	case ENOSPC: return DBOS_ENOSPC;
	case ERANGE:
	case EOVERFLOW: return DBOS_ERANGE;
	default: return DBOS_EIO;
	}
}

int dbos_host_prot(enum dbos_prot prot)
{
	switch (prot) {
	case DBOS_PROT_NONE: return PROT_NONE;
	case DBOS_PROT_READ: return PROT_READ;
	case DBOS_PROT_WRITE: /* x86 cannot map write-only; writable implies readable */
	case DBOS_PROT_READ_WRITE: return PROT_READ | PROT_WRITE;
	}
	return -1;
}

static bool page_aligned(const void *address, size_t size)
{
	return DBOS_IS_ALIGNED((uintptr_t)address, DBOS_PAGE_SIZE) && DBOS_IS_ALIGNED(size, DBOS_PAGE_SIZE);
}

dbos_status dbos_platform_reserve(size_t size, size_t alignment, void **address_out)
{
	if (size == 0 || !DBOS_IS_ALIGNED(size, DBOS_PAGE_SIZE) || !DBOS_IS_POWER_OF_TWO(alignment) ||
	    alignment < DBOS_PAGE_SIZE)
		return DBOS_EINVAL;
	/* Over-reserve by the alignment and trim both ends: mmap only promises page alignment. */
	size_t padded = size + alignment - DBOS_PAGE_SIZE;
	if (padded < size)
		return DBOS_ERANGE;
	char *base = mmap(NULL, padded, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return dbos_host_status_from_errno(errno);
	char *aligned = (char *)DBOS_ALIGN_UP((uintptr_t)base, alignment);
	size_t head = (size_t)(aligned - base);
	size_t tail = padded - head - size;
	if (head)
		munmap(base, head);
	if (tail)
		munmap(aligned + size, tail);
	*address_out = aligned;
	return DBOS_OK;
}

dbos_status dbos_platform_unreserve(void *address, size_t size)
{
	if (!page_aligned(address, size))
		return DBOS_EINVAL;
	return munmap(address, size) == 0 ? DBOS_OK : dbos_host_status_from_errno(errno);
}

dbos_status dbos_platform_commit(void *address, size_t size, enum dbos_prot prot)
{
	int host_prot = dbos_host_prot(prot);
	if (!page_aligned(address, size) || host_prot < 0)
		return DBOS_EINVAL;
	void *mapped = mmap(address, size, host_prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	return mapped == MAP_FAILED ? dbos_host_status_from_errno(errno) : DBOS_OK;
}

dbos_status dbos_platform_decommit(void *address, size_t size)
{
	if (!page_aligned(address, size))
		return DBOS_EINVAL;
	/* A fresh PROT_NONE mapping drops the pages and keeps the range reserved. */
	void *mapped = mmap(address, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	return mapped == MAP_FAILED ? dbos_host_status_from_errno(errno) : DBOS_OK;
}

dbos_status dbos_platform_protect(void *address, size_t size, enum dbos_prot prot)
{
	int host_prot = dbos_host_prot(prot);
	if (!page_aligned(address, size) || host_prot < 0)
		return DBOS_EINVAL;
	return mprotect(address, size, host_prot) == 0 ? DBOS_OK : dbos_host_status_from_errno(errno);
}

dbos_status dbos_platform_advise(void *address, size_t size, enum dbos_advice advice)
{
	int host_advice;
	switch (advice) {
	case DBOS_ADVICE_DISCARD: host_advice = MADV_DONTNEED; break;
	case DBOS_ADVICE_POPULATE_WRITE: host_advice = MADV_POPULATE_WRITE; break;
	case DBOS_ADVICE_POPULATE_READ: host_advice = MADV_POPULATE_READ; break;
	case DBOS_ADVICE_HUGEPAGE: host_advice = MADV_HUGEPAGE; break;
	case DBOS_ADVICE_NOHUGEPAGE: host_advice = MADV_NOHUGEPAGE; break;
	default: return DBOS_EINVAL;
	}
	if (!page_aligned(address, size))
		return DBOS_EINVAL;
	return madvise(address, size, host_advice) == 0 ? DBOS_OK : dbos_host_status_from_errno(errno);
}

#ifndef PIDFD_SELF_THREAD
#define PIDFD_SELF_THREAD (-10000) /* Linux 6.15: "the calling thread" (so our mm) without opening a pidfd */
#endif

_Static_assert(sizeof(struct dbos_platform_range) == sizeof(struct iovec) &&
		       offsetof(struct dbos_platform_range, size) == offsetof(struct iovec, iov_len),
	       "a range is an iovec");
_Static_assert(DBOS_PLATFORM_RANGES_MAX <= UIO_MAXIOV, "process_madvise takes UIO_MAXIOV ranges");

/* 0: untried, 1: process_madvise(PIDFD_SELF_THREAD) works, -1: it does not (older kernel). */
static atomic_int process_madvise_state;

/*
 * One process_madvise for every range: one system call and one TLB flush.  The self pidfd
 * stays right after fork(), unlike a pidfd opened for our pid.  False when the kernel lacks
 * it (remembered) or did not take every byte: the caller then finishes range by range
 * (repeating DONTNEED is harmless).
 */
static bool discard_ranges_at_once(const struct dbos_platform_range *ranges, uint32_t count, size_t total)
{
	if (atomic_load_explicit(&process_madvise_state, memory_order_relaxed) < 0)
		return false;
	long advised = syscall(SYS_process_madvise, PIDFD_SELF_THREAD, (const struct iovec *)ranges, (size_t)count,
			       MADV_DONTNEED, 0u);
	if (advised < 0 && (errno == EBADF || errno == ENOSYS || errno == EINVAL || errno == EPERM)) {
		atomic_store_explicit(&process_madvise_state, -1, memory_order_relaxed);
		return false;
	}
	if (advised >= 0)
		atomic_store_explicit(&process_madvise_state, 1, memory_order_relaxed);
	return advised == (long)total;
}

const char *dbos_platform_discard_ranges_mechanism(void)
{
	if (atomic_load_explicit(&process_madvise_state, memory_order_relaxed) == 0) {
		/* Not tried yet: ask the kernel with one page of our own. */
		void *page = mmap(NULL, DBOS_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page != MAP_FAILED) {
			struct dbos_platform_range range = { page, DBOS_PAGE_SIZE };
			discard_ranges_at_once(&range, 1, DBOS_PAGE_SIZE);
			munmap(page, DBOS_PAGE_SIZE);
		}
	}
	return atomic_load_explicit(&process_madvise_state, memory_order_relaxed) > 0
		       ? "process_madvise(MADV_DONTNEED), one call per batch"
		       : "madvise(MADV_DONTNEED) per range (process_madvise of the calling process refused)";
}

dbos_status dbos_platform_discard_ranges(const struct dbos_platform_range *ranges, uint32_t count)
{
	if (count > DBOS_PLATFORM_RANGES_MAX || (count && !ranges))
		return DBOS_EINVAL;
	size_t total = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (!page_aligned(ranges[i].address, ranges[i].size) || ranges[i].size == 0)
			return DBOS_EINVAL;
		total += ranges[i].size;
	}
	if (count > 1 && discard_ranges_at_once(ranges, count, total))
		return DBOS_OK;
	for (uint32_t i = 0; i < count; i++)
		if (madvise(ranges[i].address, ranges[i].size, MADV_DONTNEED) != 0)
			return dbos_host_status_from_errno(errno);
	return DBOS_OK;
}

void *dbos_platform_alloc(size_t size)
{
	/* calloc, not mmap: control structures are small and many. */
	return calloc(1, size ? size : 1);
}

void dbos_platform_free(void *address, size_t size)
{
	(void)size;
	free(address);
}
