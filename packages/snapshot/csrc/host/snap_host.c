/* snap_host.c - the host runtime's mechanism table. */
#include "snap_host.h"

const snap_mechanism_ops *snap_runtime_ops(enum dbos_snap_mechanism mechanism)
{
	switch (mechanism) {
	case DBOS_SNAP_UFFD_WP: return &snap_uffd_ops;
	case DBOS_SNAP_FORK: return &snap_fork_ops;
	default: return NULL;
	}
}

bool snap_runtime_available(enum dbos_snap_mechanism mechanism, const char **reason_out)
{
	if (mechanism == DBOS_SNAP_UFFD_WP)
		return snap_uffd_available(reason_out);
	if (mechanism == DBOS_SNAP_FORK) {
		*reason_out = NULL; /* fork() is always there on the host */
		return true;
	}
	*reason_out = "not a runtime mechanism";
	return false;
}
