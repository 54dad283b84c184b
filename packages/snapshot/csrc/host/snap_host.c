/* snap_host.c - the host runtime's mechanism table and CPU feature set-up. */
#include "snap_host.h"

__attribute__((constructor)) static void snap_host_init(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	snap_crc32c_hardware_set(__builtin_cpu_supports("sse4.2"));
#endif
}

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
