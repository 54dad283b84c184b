/*
 * probe_uffd.c - userfaultfd: can we create one, how, and with which features.
 *
 * Two doors: the userfaultfd(2) system call and, since Linux 6.1,
 * /dev/userfaultfd (USERFAULTFD_IOC_NEW), whose file permissions replace the
 * sysctl.  With vm.unprivileged_userfaultfd = 0 an unprivileged process gets
 * one only with UFFD_USER_MODE_ONLY (faults from user space, which is all
 * dbos needs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "probe_host.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static int uffd_from_syscall(int flags)
{
	return (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags);
}

static int uffd_from_device(void)
{
	int device = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (device < 0)
		return -1;
	int fd = ioctl(device, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	int error = errno;
	close(device);
	errno = error;
	return fd;
}

/* The handshake: with features = 0 the kernel answers every feature it has. */
static bool uffd_api(int fd, uint64_t *features_out)
{
	struct uffdio_api api;
	memset(&api, 0, sizeof(api));
	api.api = UFFD_API;
	if (ioctl(fd, UFFDIO_API, &api) != 0)
		return false;
	*features_out = api.features;
	return true;
}

void probe_uffd(dbos_probe_uffd *uffd)
{
	memset(uffd, 0, sizeof(*uffd));
	uffd->unprivileged_sysctl = (int)probe_read_long("/proc/sys/vm/unprivileged_userfaultfd", -1);

	int fd = uffd_from_syscall(0);
	int error = fd < 0 ? errno : 0;
	uffd->via_syscall = fd >= 0;
	int user_only = uffd_from_syscall(UFFD_USER_MODE_ONLY);
	bool user_only_works = user_only >= 0;
	if (fd < 0 && user_only >= 0) {
		fd = user_only;
		uffd->user_mode_only = true;
		user_only = -1;
	}
	if (user_only >= 0)
		close(user_only);
	int device = uffd_from_device();
	uffd->via_device = device >= 0;
	if (fd < 0 && device >= 0) {
		fd = device;
		device = -1;
	}
	if (device >= 0)
		close(device);

	if (fd >= 0 && uffd_api(fd, &uffd->features))
		uffd->available = true;
	else
		uffd->error = fd >= 0 ? errno : error;
	if (fd >= 0)
		close(fd);
	/* Unprivileged: fully with the sysctl at 1, user-mode faults only since Linux 5.11. */
	uffd->unprivileged = uffd->unprivileged_sysctl == 1 || user_only_works;
}
