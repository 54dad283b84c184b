/*
 * snap_handle.h - the owner's side of dbos/snapshot_handle.h: what the binding calls to hand a
 * space to C engines in other addons (C and C++).
 *
 * The binding makes one snap_handle per space, gives JavaScript Externals whose data is
 * snap_handle_public(), closes it before destroying the space, and destroys it when the last
 * External and the space are gone.  All calls on the JavaScript thread.
 */
#ifndef DBOS_SNAP_HANDLE_OWNER_H
#define DBOS_SNAP_HANDLE_OWNER_H

#include "dbos/snapshot_handle.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct snap_handle snap_handle;

/* A handle for `space` (its current base, size and mechanism); NULL when out of memory. */
snap_handle *snap_handle_create(dbos_snap_space *space);

/* The part engines see: the data of every External for this space. */
dbos_snap_handle *snap_handle_public(snap_handle *handle);

/*
 * The space is about to be destroyed: the attached engine's detach callback runs (it stops its
 * threads), its quiesce hook is removed, and attach returns DBOS_ECLOSED from now on.
 * Idempotent.
 */
void snap_handle_close(snap_handle *handle);

/* Free the handle (closed first).  No External may point at it any more. */
void snap_handle_destroy(snap_handle *handle);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_SNAP_HANDLE_OWNER_H */
