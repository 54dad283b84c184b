/*
 * dbos/host/userfaultfd.h - opening a userfaultfd the way this process may
 * (host runtime only).
 *
 * Three doors, tried in this order by dbos_host_uffd_open():
 *   1. userfaultfd(2): works for root, or for anyone with
 *      vm.unprivileged_userfaultfd = 1;
 *   2. userfaultfd(2) with UFFD_USER_MODE_ONLY (Linux 5.11): works for anyone,
 *      but faults raised by the kernel itself (read(2) into a missing page)
 *      fail with EFAULT instead of waiting for the handler;
 *   3. /dev/userfaultfd (Linux 6.1), whose file mode replaces the sysctl.
 * The probe, @dbos/pagetable and @dbos/snapshot all open theirs here, so they
 * agree on what this process can have.
 */
#ifndef DBOS_HOST_USERFAULTFD_H
#define DBOS_HOST_USERFAULTFD_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Feature bits newer than some build machines' <linux/userfaultfd.h>. */
#define DBOS_UFFD_USER_MODE_ONLY 1
#define DBOS_UFFD_FEATURE_WP_UNPOPULATED ((uint64_t)1 << 13)
#define DBOS_UFFD_FEATURE_WP_ASYNC_BIT ((uint64_t)1 << 15)

/* How an open succeeded. */
enum dbos_host_uffd_door {
	DBOS_HOST_UFFD_SYSCALL = 1,
	DBOS_HOST_UFFD_USER_MODE_ONLY = 2,
	DBOS_HOST_UFFD_DEVICE = 3,
};

/*
 * A new userfaultfd (O_CLOEXEC | O_NONBLOCK), through the first door that
 * opens.  Returns the fd, or -errno of the first door when none opens.
 * `door_out` (may be NULL) says which door opened.
 */
int dbos_host_uffd_open(enum dbos_host_uffd_door *door_out);

/* One specific door; the fd or -errno.  The probe tries each one. */
int dbos_host_uffd_open_door(enum dbos_host_uffd_door door);

/*
 * The UFFDIO_API handshake asking for `features`; `offered_out` (may be NULL)
 * gets what the kernel answered.  With features = 0 the kernel lists every
 * feature it has.  0, or -errno.
 */
int dbos_host_uffd_api(int fd, uint64_t features, uint64_t *offered_out);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_HOST_USERFAULTFD_H */
