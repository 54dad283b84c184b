/*
 * host_baseline.c - the host-side counterparts of the guest operations,
 * measured in C so the comparison has no JavaScript in it (bench/guest.ts).
 *
 *   SYSCALL   getppid(): the plainest system call     vs a hypercall round trip
 *   UFFD      first touch of a page resolved by a userfaultfd handler thread
 *             (UFFDIO_ZEROPAGE)                        vs a guest #PF + handler
 *   REMAP     mmap(MAP_FIXED) of a memfd page, write, madvise(DONTNEED) + PROT_NONE
 *                                                      vs PTE map + write + unmap with INVLPG
 *   TIMER     setitimer(ITIMER_REAL) signal: time a spinning thread loses per tick
 *                                                      vs a LAPIC timer tick in the guest
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "host_baseline.h"

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int bench_syscall(uint64_t count, double *ns_out)
{
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < count; i++)
		syscall(SYS_getppid);
	*ns_out = (double)(now_ns() - start) / (double)count;
	return 0;
}

struct uffd_server {
	int uffd;
	int stop_fd;
};

static void *uffd_serve(void *opaque)
{
	struct uffd_server *server = opaque;
	for (;;) {
		struct pollfd fds[2] = { { .fd = server->uffd, .events = POLLIN },
					 { .fd = server->stop_fd, .events = POLLIN } };
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (fds[1].revents)
			return NULL;
		struct uffd_msg message;
		if (read(server->uffd, &message, sizeof(message)) != sizeof(message))
			continue;
		if (message.event != UFFD_EVENT_PAGEFAULT)
			continue;
		struct uffdio_zeropage zero = {
			.range = { .start = message.arg.pagefault.address & ~(uint64_t)4095, .len = 4096 },
		};
		ioctl(server->uffd, UFFDIO_ZEROPAGE, &zero);
	}
}

static int bench_uffd(uint64_t pages, double *ns_out)
{
	size_t size = pages * 4096;
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (uffd < 0)
		return -errno;
	struct uffdio_api api = { .api = UFFD_API };
	void *area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register reg = {
		.range = { .start = (uint64_t)(uintptr_t)area, .len = size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	struct uffd_server server = { .uffd = uffd, .stop_fd = eventfd(0, EFD_CLOEXEC) };
	pthread_t thread;
	int status = -ENOTSUP;
	if (area != MAP_FAILED && ioctl(uffd, UFFDIO_API, &api) == 0 && ioctl(uffd, UFFDIO_REGISTER, &reg) == 0 &&
	    pthread_create(&thread, NULL, uffd_serve, &server) == 0) {
		volatile uint8_t *bytes = area;
		uint64_t start = now_ns();
		for (uint64_t page = 0; page < pages; page++)
			(void)bytes[page * 4096]; /* read fault: the handler maps the zero page */
		*ns_out = (double)(now_ns() - start) / (double)pages;
		uint64_t one = 1;
		if (write(server.stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(thread, NULL);
		status = 0;
	}
	if (area != MAP_FAILED)
		munmap(area, size);
	close(server.stop_fd);
	close(uffd);
	return status;
}

static int bench_remap(uint64_t count, double *ns_out)
{
	int fd = memfd_create("dbos-bench-remap", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 4096) != 0) {
		int error = errno;
		if (fd >= 0)
			close(fd);
		return -error;
	}
	void *slot = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < count; i++) {
		volatile uint64_t *page = mmap(slot, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
		page[0] = i;
		madvise(slot, 4096, MADV_DONTNEED);
		mmap(slot, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	}
	*ns_out = (double)(now_ns() - start) / (double)count;
	munmap(slot, 4096);
	close(fd);
	return 0;
}

static volatile sig_atomic_t timer_ticks;

static void timer_tick(int signal_number)
{
	(void)signal_number;
	timer_ticks = timer_ticks + 1;
}

/* Spin for duration_ns with a SIGALRM every period_ns; ns lost per tick (see guest timer_gap_ns). */
static int bench_timer(uint64_t period_ns, uint64_t duration_ns, double *ns_out)
{
	struct sigaction action, previous;
	memset(&action, 0, sizeof(action));
	action.sa_handler = timer_tick;
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGALRM, &action, &previous) != 0)
		return -errno;
	timer_ticks = 0;
	struct itimerval on = { .it_interval = { 0, (long)(period_ns / 1000) },
				.it_value = { 0, (long)(period_ns / 1000) } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &on, NULL);
	uint64_t lost = 0, start = now_ns(), last = start;
	while (last - start < duration_ns) {
		uint64_t now = now_ns();
		if (now - last > 1000 && now - last < 500000)
			lost += now - last;
		last = now;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &previous, NULL);
	uint64_t ticks = (uint64_t)timer_ticks;
	if (ticks == 0)
		return -EIO;
	*ns_out = (double)lost / (double)ticks;
	return 0;
}

int host_baseline_run(enum host_baseline_kind what, uint64_t a, uint64_t b, double *ns_out)
{
	if (!ns_out || a == 0)
		return -EINVAL;
	switch (what) {
	case HOST_BASELINE_SYSCALL: return bench_syscall(a, ns_out);
	case HOST_BASELINE_UFFD: return bench_uffd(a, ns_out);
	case HOST_BASELINE_REMAP: return bench_remap(a, ns_out);
	case HOST_BASELINE_TIMER: return b == 0 ? -EINVAL : bench_timer(a, b, ns_out);
	default: return -EINVAL;
	}
}
