/* snap_host.h - what the host runtime files of the snapshot package share. */
#ifndef DBOS_SNAP_HOST_H
#define DBOS_SNAP_HOST_H

#include "../snap_internal.h"

/* From @dbos/hypercall's host platform: errno to status. */
dbos_status dbos_host_status_from_errno(int error_number);

/* snap_uffd.c */
extern const snap_mechanism_ops snap_uffd_ops;
bool snap_uffd_available(const char **reason_out);
bool snap_uffd_failed(dbos_snap_space *space);

/* snap_fork.c */
extern const snap_mechanism_ops snap_fork_ops;
/* Have the snapshot's child write the image to `fd` (regular file or stream). */
dbos_status snap_fork_image_write(dbos_snap_space *space, snap_slot *slot, int fd, bool seekable,
				  const dbos_snap_write_options *options, uint64_t *bytes_out);

#endif
