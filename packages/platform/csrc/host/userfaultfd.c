/* userfaultfd.c - the one place a host runtime opens a userfaultfd (dbos/host/userfaultfd.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dbos/host/userfaultfd.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static int uffd_syscall(int flags)
{
	int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags);
	return fd >= 0 ? fd : -errno;
}

static int uffd_device(void)
{
	int device = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (device < 0)
		return -errno;
	int fd = ioctl(device, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	int error = errno;
	close(device);
	return fd >= 0 ? fd : -error;
}

int dbos_host_uffd_open_door(enum dbos_host_uffd_door door)
{
	switch (door) {
	case DBOS_HOST_UFFD_SYSCALL: return uffd_syscall(0);
	case DBOS_HOST_UFFD_USER_MODE_ONLY: return uffd_syscall(DBOS_UFFD_USER_MODE_ONLY);
	case DBOS_HOST_UFFD_DEVICE: return uffd_device();
	}
	return -EINVAL;
}

int dbos_host_uffd_open(enum dbos_host_uffd_door *door_out)
{
	static const enum dbos_host_uffd_door doors[] = { DBOS_HOST_UFFD_SYSCALL, DBOS_HOST_UFFD_USER_MODE_ONLY,
							  DBOS_HOST_UFFD_DEVICE };
	int first_error = 0;
	for (unsigned i = 0; i < sizeof(doors) / sizeof(doors[0]); i++) {
		int fd = dbos_host_uffd_open_door(doors[i]);
		if (fd >= 0) {
			if (door_out)
				*door_out = doors[i];
			return fd;
		}
		if (!first_error)
			first_error = fd;
	}
	return first_error;
}

int dbos_host_uffd_api(int fd, uint64_t features, uint64_t *offered_out)
{
	struct uffdio_api api;
	memset(&api, 0, sizeof(api));
	api.api = UFFD_API;
	api.features = features;
	if (ioctl(fd, UFFDIO_API, &api) != 0)
		return -errno;
	if (offered_out)
		*offered_out = api.features;
	return 0;
}
