/* platform_host.h - helpers shared by the host implementation files of dbos/platform.h. */
#ifndef DBOS_PLATFORM_HOST_H
#define DBOS_PLATFORM_HOST_H

#include "dbos/platform.h"

/* Map an errno value to the closest dbos_status. */
dbos_status dbos_host_status_from_errno(int error_number);

/* The PROT_* bits for a dbos_prot. */
int dbos_host_prot(enum dbos_prot prot);

#endif
