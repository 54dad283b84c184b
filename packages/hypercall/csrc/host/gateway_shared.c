/* gateway_shared.c - the process-wide gateway of dbos_gateway_shared() (host). */
#include <pthread.h>

#include "dbos/hypercall.h"
#include "dbos/host/platform.h"

static pthread_once_t gateway_once = PTHREAD_ONCE_INIT;
static dbos_gateway *gateway_shared;
static dbos_status gateway_status;

static void gateway_open_shared(void)
{
	dbos_gateway_config config = { .backend = DBOS_GATEWAY_AUTO };
	gateway_status = dbos_gateway_open(&config, &gateway_shared);
}

dbos_status dbos_gateway_shared(struct dbos_gateway **gateway_out)
{
	if (!gateway_out)
		return DBOS_EINVAL;
	pthread_once(&gateway_once, gateway_open_shared);
	*gateway_out = gateway_status == DBOS_OK ? gateway_shared : NULL;
	return gateway_status;
}
