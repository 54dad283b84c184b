/*
 * pt_host_fault.c - fault hooks on the host: a thread reads the region's
 * userfaultfd and hands each MISSING/MINOR fault to the core, which calls
 * the engine's handler; resolutions are UFFDIO_COPY / _ZEROPAGE / _CONTINUE.
 *
 * The faulting thread sleeps in the kernel until one of those ioctls (or a
 * UFFDIO_WAKE) covers its page.  Write-protect faults never arrive here:
 * with WP_ASYNC the kernel resolves them itself.
 */
#include "pt_host.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Messages read per read(2) from the userfaultfd. */
#define FAULT_MESSAGES_MAX 16
/* Retries of an ioctl the kernel answers EAGAIN (the address space was changing). */
#define RESOLVE_RETRIES_MAX 64

static const uint8_t zero_page[DBOS_PAGE_SIZE] __attribute__((aligned(DBOS_PAGE_SIZE)));

static uintptr_t fault_address(const dbos_pt_fault *fault)
{
	return (uintptr_t)pt_host_address(fault->region, fault->page);
}

static void wake_page(const dbos_pt_fault *fault)
{
	struct uffdio_range range = { .start = fault_address(fault), .len = DBOS_PAGE_SIZE };
	(void)ioctl(fault->region->rt->uffd, UFFDIO_WAKE, &range);
}

/* EEXIST: another fault on the same page was resolved first; the page is there, wake our waiter too. */
static dbos_status resolved_status(const dbos_pt_fault *fault, int error_number)
{
	if (error_number == EEXIST) {
		wake_page(fault);
		return DBOS_OK;
	}
	return dbos_host_status_from_errno(error_number);
}

dbos_status dbos_pt_rt_fault_copy(const dbos_pt_fault *fault, const void *bytes)
{
	const struct dbos_pt_rt_region *rt = fault->region->rt;
	for (int attempt = 0; attempt < RESOLVE_RETRIES_MAX; attempt++) {
		struct uffdio_copy copy = {
			.dst = fault_address(fault),
			.src = (uintptr_t)bytes,
			.len = DBOS_PAGE_SIZE,
			/* Under dirty tracking a loaded page is clean until written. */
			.mode = rt->wp_active ? UFFDIO_COPY_MODE_WP : 0,
		};
		if (ioctl(rt->uffd, UFFDIO_COPY, &copy) == 0)
			return DBOS_OK;
		if (errno != EAGAIN)
			return resolved_status(fault, errno);
	}
	return DBOS_EAGAIN;
}

dbos_status dbos_pt_rt_fault_zero(const dbos_pt_fault *fault)
{
	const struct dbos_pt_rt_region *rt = fault->region->rt;
	if (rt->wp_active)
		return dbos_pt_rt_fault_copy(fault, zero_page); /* ZEROPAGE has no write-protect mode */
	for (int attempt = 0; attempt < RESOLVE_RETRIES_MAX; attempt++) {
		struct uffdio_zeropage zero = { .range = { .start = fault_address(fault), .len = DBOS_PAGE_SIZE } };
		if (ioctl(rt->uffd, UFFDIO_ZEROPAGE, &zero) == 0)
			return DBOS_OK;
		if (errno != EAGAIN)
			return resolved_status(fault, errno);
	}
	return DBOS_EAGAIN;
}

dbos_status dbos_pt_rt_fault_continue(const dbos_pt_fault *fault)
{
	const struct dbos_pt_rt_region *rt = fault->region->rt;
	for (int attempt = 0; attempt < RESOLVE_RETRIES_MAX; attempt++) {
		struct uffdio_continue resume = {
			.range = { .start = fault_address(fault), .len = DBOS_PAGE_SIZE },
			.mode = rt->wp_active ? UFFDIO_CONTINUE_MODE_WP : 0,
		};
		if (ioctl(rt->uffd, UFFDIO_CONTINUE, &resume) == 0)
			return DBOS_OK;
		if (errno != EAGAIN)
			return resolved_status(fault, errno);
	}
	return DBOS_EAGAIN;
}

void dbos_pt_rt_fault_fail(const dbos_pt_fault *fault)
{
	const struct dbos_pt_rt_region *rt = fault->region->rt;
	if ((rt->features & UFFD_FEATURE_POISON) && fault->kind == DBOS_PT_FAULT_MISSING) {
		/* The toucher gets SIGBUS: better than reading a page that was never loaded. */
		struct uffdio_poison poison = { .range = { .start = fault_address(fault), .len = DBOS_PAGE_SIZE } };
		if (ioctl(rt->uffd, UFFDIO_POISON, &poison) == 0 || errno == EEXIST) {
			wake_page(fault);
			return;
		}
	}
	/* No poison: zeros (MISSING) or the frame as it is (MINOR); either way the toucher runs on. */
	dbos_status status =
		fault->kind == DBOS_PT_FAULT_MINOR ? dbos_pt_rt_fault_continue(fault) : dbos_pt_rt_fault_zero(fault);
	if (status != DBOS_OK)
		wake_page(fault); /* the page may be gone (unmapped meanwhile): the retry faults normally */
}

static void serve_message(dbos_pt_region *region, const struct uffd_msg *message)
{
	if (message->event != UFFD_EVENT_PAGEFAULT)
		return; /* we asked for no other events */
	uintptr_t address = (uintptr_t)message->arg.pagefault.address;
	uintptr_t base = (uintptr_t)region->base;
	if (address < base || address >= base + region->size)
		return;
	dbos_pt_fault fault = {
		.region = region,
		.page = (address - base) / DBOS_PAGE_SIZE,
		.kind = (message->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR) ? DBOS_PT_FAULT_MINOR
										   : DBOS_PT_FAULT_MISSING,
		.write = (message->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0,
		.runtime = (void *)message,
	};
	dbos_pt_fault_dispatch(&fault);
}

static void fault_thread_main(void *argument)
{
	dbos_pt_region *region = argument;
	struct dbos_pt_rt_region *rt = region->rt;
	struct uffd_msg messages[FAULT_MESSAGES_MAX];
	for (;;) {
		struct pollfd fds[2] = { { .fd = rt->uffd, .events = POLLIN },
					 { .fd = rt->stop_fd, .events = POLLIN } };
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			dbos_platform_log(DBOS_LOG_ERROR, "pagetable: fault thread poll failed");
			return;
		}
		if (fds[1].revents)
			return;
		if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			return;
		ssize_t bytes = read(rt->uffd, messages, sizeof(messages));
		if (bytes < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return;
		}
		DBOS_ASSERT(bytes % (ssize_t)sizeof(messages[0]) == 0);
		for (ssize_t i = 0; i < bytes / (ssize_t)sizeof(messages[0]); i++)
			serve_message(region, &messages[i]);
	}
}

dbos_status dbos_pt_rt_fault_enable(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = region->rt;
	DBOS_ASSERT(rt->fault_thread == NULL);
	dbos_status status = pt_host_uffd_ensure(region);
	if (status != DBOS_OK)
		return status;
	rt->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rt->stop_fd < 0)
		return dbos_host_status_from_errno(errno);
	rt->faults_active = true;
	status = pt_host_uffd_cover_all(region);
	if (status == DBOS_OK)
		status = dbos_platform_thread_start(fault_thread_main, region, &rt->fault_thread);
	if (status != DBOS_OK) {
		rt->faults_active = false;
		(void)pt_host_uffd_unregister_all(region);
		(void)pt_host_uffd_cover_all(region);
		close(rt->stop_fd);
		rt->stop_fd = -1;
	}
	return status;
}

void pt_host_fault_thread_stop(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = region->rt;
	if (rt->fault_thread == NULL)
		return;
	uint64_t one = 1;
	ssize_t written = write(rt->stop_fd, &one, sizeof(one));
	DBOS_ASSERT(written == (ssize_t)sizeof(one));
	dbos_platform_thread_join(rt->fault_thread);
	rt->fault_thread = NULL;
	close(rt->stop_fd);
	rt->stop_fd = -1;
}

dbos_status dbos_pt_rt_fault_disable(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = region->rt;
	if (!rt->faults_active)
		return DBOS_OK;
	pt_host_fault_thread_stop(region);
	rt->faults_active = false;
	/*
	 * Unregistering wakes threads still waiting; they retry and fault like
	 * plain memory.  It also drops write protection: under dirty tracking
	 * every populated page then reads as written until the next reset
	 * (reporting too much is safe, losing a write is not).
	 */
	dbos_status status = pt_host_uffd_unregister_all(region);
	if (status == DBOS_OK)
		status = pt_host_uffd_cover_all(region);
	return status;
}
