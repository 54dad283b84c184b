/*
 * probe_uffd.c - userfaultfd: can we create one, how, and with which features.
 *
 * Every door of dbos/host/userfaultfd.h is tried on its own, so the result
 * says which ones this process has; `available` and `user_mode_only`
 * describe the fd that dbos_host_uffd_open() gives the packages.
 */
#include <string.h>
#include <unistd.h>

#include "dbos/host/userfaultfd.h"
#include "probe_host.h"

void probe_uffd(dbos_probe_uffd *uffd)
{
	memset(uffd, 0, sizeof(*uffd));
	uffd->unprivileged_sysctl = (int)probe_read_long("/proc/sys/vm/unprivileged_userfaultfd", -1);

	/* Each door on its own, so the probe can say which ones open. */
	int plain = dbos_host_uffd_open_door(DBOS_HOST_UFFD_SYSCALL);
	int user_only = dbos_host_uffd_open_door(DBOS_HOST_UFFD_USER_MODE_ONLY);
	int device = dbos_host_uffd_open_door(DBOS_HOST_UFFD_DEVICE);
	uffd->via_syscall = plain >= 0;
	uffd->via_device = device >= 0;
	/* The fd the packages would get: dbos_host_uffd_open() tries the doors in this order. */
	int fd = plain >= 0 ? plain : user_only >= 0 ? user_only : device;
	uffd->user_mode_only = plain < 0 && user_only >= 0;
	/* Unprivileged: fully with the sysctl at 1, user-mode faults only since Linux 5.11. */
	uffd->unprivileged = uffd->unprivileged_sysctl == 1 || user_only >= 0;

	int error = fd >= 0 ? dbos_host_uffd_api(fd, 0, &uffd->features) : plain;
	uffd->available = error == 0;
	uffd->error = uffd->available ? 0 : -error;
	if (plain >= 0)
		close(plain);
	if (user_only >= 0)
		close(user_only);
	if (device >= 0)
		close(device);
}
