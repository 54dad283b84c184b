/*
 * snap_uffd.c - UFFD_WP: snapshots of raw memory through userfaultfd write protection.
 *
 * Take (writers quiesced): bump the epoch like EPOCH does, then UFFDIO_WRITEPROTECT the whole
 * range.  The first write to a page after that blocks in the kernel and queues a message; the
 * handler thread, registered as a writer of the space, preserves the page's pre-image for every
 * live snapshot (the same core code the barrier runs), then lifts the protection of that page
 * and wakes the writer.  When the last snapshot goes, the rest of the range is unprotected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dbos/host/userfaultfd.h"
#include "dbos/probe.h"
#include "snap_host.h"

/* Messages read per read(2); the handler serves them in order. */
#define SNAP_UFFD_BATCH 64
/* After a fault, keep polling without sleeping this long: faults come in bursts. */
#define SNAP_UFFD_SPIN_NS 50000u

typedef struct snap_uffd {
	int uffd;
	int stop_fd;
	pthread_t thread;
	dbos_snap_writer *writer;
	dbos_snap_space *space;
	_Atomic uint32_t failed; /* a fault could not be preserved (out of copy frames) */
} snap_uffd;

/*
 * Whether UFFD_WP works here comes from the platform probe, which opened a userfaultfd through
 * the same door dbos_host_uffd_open() gives us and asked for its features: probe() in JavaScript
 * and this choice cannot disagree.
 */
bool snap_uffd_available(const char **reason_out)
{
	const dbos_probe_uffd *uffd = &dbos_probe_cached()->uffd;
	const char *reason = NULL;
	if (!uffd->available)
		reason = uffd->error == ENOSYS ? "the kernel has no userfaultfd"
			 : uffd->error == EPERM || uffd->error == EACCES
				 ? "userfaultfd is not permitted (vm.unprivileged_userfaultfd=0, no /dev/userfaultfd "
				   "access)"
				 : "userfaultfd could not be opened";
	else if (!(uffd->features & DBOS_UFFD_FEATURE_WP))
		reason = "userfaultfd lacks write-protect faults (UFFD_FEATURE_PAGEFAULT_FLAG_WP)";
	if (reason_out)
		*reason_out = reason;
	return reason == NULL;
}

bool snap_uffd_unpopulated(void)
{
	const dbos_probe_uffd *uffd = &dbos_probe_cached()->uffd;
	return uffd->available && (uffd->features & DBOS_UFFD_FEATURE_WP_UNPOPULATED);
}

/* A userfaultfd with write-protect faults (and WP_UNPOPULATED where the kernel has it, 6.6+). */
static int snap_uffd_open_wp(uint64_t *features_out)
{
	int fd = dbos_host_uffd_open(NULL);
	if (fd < 0)
		return fd;
	uint64_t wanted = DBOS_UFFD_FEATURE_WP | (snap_uffd_unpopulated() ? DBOS_UFFD_FEATURE_WP_UNPOPULATED : 0);
	int error = dbos_host_uffd_api(fd, wanted, features_out);
	if (error != 0) {
		close(fd);
		return error;
	}
	return fd;
}

static dbos_status snap_uffd_protect(snap_uffd *host, uint64_t first, uint64_t count, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)(host->space->base + first * DBOS_PAGE_SIZE),
			   .len = count * DBOS_PAGE_SIZE },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	for (int attempt = 0; attempt < 1000; attempt++) {
		if (ioctl(host->uffd, UFFDIO_WRITEPROTECT, &wp) == 0)
			return DBOS_OK;
		if (errno != EAGAIN) /* EAGAIN: the mm changed under us; retry */
			return dbos_host_status_from_errno(errno);
	}
	return DBOS_EAGAIN;
}

static void snap_uffd_serve(snap_uffd *host, const struct uffd_msg *msg)
{
	if (msg->event != UFFD_EVENT_PAGEFAULT)
		return;
	dbos_snap_space *space = host->space;
	uintptr_t address = (uintptr_t)msg->arg.pagefault.address & ~(uintptr_t)(DBOS_PAGE_SIZE - 1);
	uint64_t page = (address - (uintptr_t)space->base) / DBOS_PAGE_SIZE;
	DBOS_ASSERT(address >= (uintptr_t)space->base && page < space->page_count);
	if (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
		dbos_snap_writer_enter(host->writer);
		uint64_t epoch = atomic_load_explicit(&host->writer->epoch, memory_order_relaxed);
		if (snap_page_preserve(space, epoch, page) != DBOS_OK)
			atomic_store(&host->failed, 1);
		dbos_snap_writer_leave(host->writer);
		atomic_fetch_add_explicit(&space->faults_handled, 1, memory_order_relaxed);
	}
	/* Lift the protection and wake the writer, whatever happened: never leave it blocked. */
	dbos_status status = snap_uffd_protect(host, page, 1, false);
	if (status != DBOS_OK)
		dbos_platform_log(DBOS_LOG_ERROR, "snapshot: UFFDIO_WRITEPROTECT (unprotect) failed");
}

/* Read and serve every queued message; returns how many. */
static int snap_uffd_drain(snap_uffd *host)
{
	struct uffd_msg messages[SNAP_UFFD_BATCH];
	ssize_t bytes = read(host->uffd, messages, sizeof(messages));
	if (bytes <= 0)
		return 0;
	int count = (int)(bytes / (ssize_t)sizeof(messages[0]));
	for (int i = 0; i < count; i++)
		snap_uffd_serve(host, &messages[i]);
	return count;
}

static void *snap_uffd_thread(void *argument)
{
	snap_uffd *host = argument;
	struct pollfd fds[2] = { { .fd = host->uffd, .events = POLLIN }, { .fd = host->stop_fd, .events = POLLIN } };
	for (;;) {
		int ready = poll(fds, 2, -1);
		if (ready < 0 && errno == EINTR)
			continue;
		DBOS_ASSERT(ready > 0);
		if (fds[1].revents)
			return NULL;
		if (!snap_uffd_drain(host))
			continue;
		/* A burst: poll without sleeping for a while (16 µs vs ~70 µs per fault here). */
		uint64_t until = dbos_platform_now_ns() + SNAP_UFFD_SPIN_NS;
		while (dbos_platform_now_ns() < until) {
			if (snap_uffd_drain(host))
				until = dbos_platform_now_ns() + SNAP_UFFD_SPIN_NS;
			else
				dbos_platform_relax();
		}
	}
}

/*
 * Whether a range of `size` bytes fits the mechanism on this machine.  Each take write-protects
 * the whole range, and for pages never touched (WP_UNPOPULATED) the kernel builds page tables to
 * hold the markers: 1/512 of the range, ~50 ms per GiB on the development VM; without
 * WP_UNPOPULATED attach populates the range instead.  Both grow with the reserved size, not with
 * the memory in use, so a range larger than physical memory would end in the OOM killer or a
 * take measured in minutes: such spaces use FORK (named by the caller).
 */
static bool snap_uffd_fits(uint64_t size)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long page_size = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || page_size <= 0)
		return true; /* unknown: do not refuse what may work */
	return size <= (uint64_t)pages * (uint64_t)page_size;
}

static dbos_status snap_uffd_attach(dbos_snap_space *space)
{
	if (!snap_uffd_fits(space->page_count * DBOS_PAGE_SIZE))
		return DBOS_ENOMEM;
	snap_uffd *host = dbos_platform_alloc(sizeof(*host));
	if (!host)
		return DBOS_ENOMEM;
	host->space = space;
	host->uffd = -1;
	host->stop_fd = -1;
	uint64_t features = 0;
	dbos_status status = DBOS_OK;
	int fd = snap_uffd_open_wp(&features);
	if (fd < 0)
		status = dbos_host_status_from_errno(-fd);
	host->uffd = fd;
	uint64_t size = space->page_count * DBOS_PAGE_SIZE;
	/* Without WP_UNPOPULATED, pages never touched cannot be protected: back them now. */
	if (status == DBOS_OK && !(features & DBOS_UFFD_FEATURE_WP_UNPOPULATED) &&
	    dbos_platform_advise(space->base, size, DBOS_ADVICE_POPULATE_WRITE) != DBOS_OK)
		status = DBOS_ENOMEM;
	if (status == DBOS_OK) {
		struct uffdio_register reg = { .range = { .start = (uintptr_t)space->base, .len = size },
					       .mode = UFFDIO_REGISTER_MODE_WP };
		if (ioctl(host->uffd, UFFDIO_REGISTER, &reg) != 0)
			status = errno == EBUSY    ? DBOS_EBUSY
				 : errno == EINVAL ? DBOS_EINVAL
						   : dbos_host_status_from_errno(errno);
		else if (!(reg.ioctls & ((uint64_t)1 << _UFFDIO_WRITEPROTECT)))
			status = DBOS_ENOTSUP;
	}
	if (status == DBOS_OK) {
		host->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (host->stop_fd < 0)
			status = dbos_host_status_from_errno(errno);
	}
	if (status == DBOS_OK)
		status = dbos_snap_writer_register(space, &host->writer);
	if (status == DBOS_OK && pthread_create(&host->thread, NULL, snap_uffd_thread, host) != 0) {
		dbos_snap_writer_unregister(host->writer);
		status = DBOS_ENOMEM;
	}
	if (status != DBOS_OK) {
		if (host->stop_fd >= 0)
			close(host->stop_fd);
		if (host->uffd >= 0)
			close(host->uffd); /* closing unregisters the range */
		dbos_platform_free(host, sizeof(*host));
		return status;
	}
	space->host = host;
	return DBOS_OK;
}

static void snap_uffd_detach(dbos_snap_space *space)
{
	snap_uffd *host = space->host;
	uint64_t one = 1;
	DBOS_ASSERT(write(host->stop_fd, &one, sizeof(one)) == sizeof(one));
	pthread_join(host->thread, NULL);
	struct uffdio_range range = { .start = (uintptr_t)space->base, .len = space->page_count * DBOS_PAGE_SIZE };
	snap_uffd_protect(host, 0, space->page_count, false);
	if (ioctl(host->uffd, UFFDIO_UNREGISTER, &range) != 0)
		dbos_platform_log(DBOS_LOG_WARN, "snapshot: UFFDIO_UNREGISTER failed");
	close(host->uffd);
	close(host->stop_fd);
	dbos_snap_writer_unregister(host->writer);
	dbos_platform_free(host, sizeof(*host));
	space->host = NULL;
}

static dbos_status snap_uffd_freeze(dbos_snap_space *space, snap_slot *slot)
{
	snap_uffd *host = space->host;
	/* Epoch first: a fault that arrives once the range is protected copies for this slot. */
	dbos_status status = snap_epoch_take(space, slot);
	if (status == DBOS_OK)
		status = snap_uffd_protect(host, 0, space->page_count, true);
	if (status != DBOS_OK) {
		atomic_store(&slot->epoch, 0);
		snap_writers_wait(space, 0);
		snap_slot_free_copies(space, slot);
	}
	return status;
}

static void snap_uffd_release(dbos_snap_space *space, snap_slot *slot, bool last)
{
	/* Pages nobody wrote are still protected: no snapshot needs that any more. */
	if (last && snap_uffd_protect(space->host, 0, space->page_count, false) != DBOS_OK)
		dbos_platform_log(DBOS_LOG_WARN, "snapshot: unprotecting the range failed");
}

bool snap_uffd_failed(dbos_snap_space *space)
{
	snap_uffd *host = space->host;
	return host && atomic_load(&host->failed);
}

const snap_mechanism_ops snap_uffd_ops = {
	.attach = snap_uffd_attach,
	.detach = snap_uffd_detach,
	.freeze = snap_uffd_freeze,
	.release = snap_uffd_release,
	.read = NULL,
};
