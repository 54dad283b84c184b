/*
 * snap_host.h - what the host runtime files of the snapshot package share, by file.
 *
 *   snap_host.c     the mechanism table and CPU feature set-up
 *   snap_uffd.c     UFFD_WP: userfaultfd write protection and its handler thread
 *   snap_fork.c     FORK: the child that holds the frozen image
 *   snap_file.c     image files: write (gateway or pwrite), verify, load
 *   snap_handle.c   the handle C engines in other addons attach through (snap_handle.h)
 *   snap_report.c   the line probe() shows (dbos_snap_host_mechanism_format)
 */
#ifndef DBOS_SNAP_HOST_H
#define DBOS_SNAP_HOST_H

#include "dbos/host/platform.h"
#include "../snap_internal.h"

/* snap_uffd.c */
extern const snap_mechanism_ops snap_uffd_ops;
bool snap_uffd_available(const char **reason_out);
/* UFFD_WP protects pages never touched (WP_UNPOPULATED); else attach populates the range. */
bool snap_uffd_unpopulated(void);
bool snap_uffd_failed(dbos_snap_space *space);

/* snap_fork.c */
extern const snap_mechanism_ops snap_fork_ops;
/* Have the snapshot's child write the image to `fd` (regular file or stream). */
dbos_status snap_fork_image_write(dbos_snap_space *space, snap_slot *slot, int fd, bool seekable,
				  const dbos_snap_write_options *options, uint64_t *bytes_out);

#endif
