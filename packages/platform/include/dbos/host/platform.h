/*
 * dbos/host/platform.h - helpers for the host runtime (Linux user space) of
 * any package: the csrc/host/ files of @dbos/platform and of the packages
 * built on it include this; a freestanding core never does.
 */
#ifndef DBOS_HOST_PLATFORM_H
#define DBOS_HOST_PLATFORM_H

#include "dbos/platform.h"

/* Map an errno value to the closest dbos_status. */
dbos_status dbos_host_status_from_errno(int error_number);

/* The PROT_* bits for a dbos_prot. */
int dbos_host_prot(enum dbos_prot prot);

#endif
