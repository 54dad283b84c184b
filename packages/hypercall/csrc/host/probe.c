/* probe.c - dbos_probe_run: every probe_*.c in turn, plus the names of what it found. */
#include <string.h>

#include "probe_host.h"

dbos_status dbos_probe_run(dbos_probe *probe)
{
	if (!probe)
		return DBOS_EINVAL;
	memset(probe, 0, sizeof(*probe));
	probe_system(probe);
	probe_kvm(&probe->kvm);
	probe_uffd(&probe->uffd);
	probe_pagemap(probe);
	probe_uring(&probe->io_uring);
	return DBOS_OK;
}

const char *dbos_kvm_kind_name(enum dbos_kvm_kind kind)
{
	switch (kind) {
	case DBOS_KVM_HARDWARE: return "hardware";
	case DBOS_KVM_PVM: return "pvm";
	case DBOS_KVM_NONE: return "none";
	}
	return "none";
}

const char *dbos_capability_name(enum dbos_capability capability)
{
	static const char *const names[DBOS_CAPABILITY_COUNT] = {
		[DBOS_CAPABILITY_HYPERCALL] = "hypercall", [DBOS_CAPABILITY_PAGETABLE] = "pagetable",
		[DBOS_CAPABILITY_SNAPSHOT] = "snapshot",   [DBOS_CAPABILITY_ALLOC] = "alloc",
		[DBOS_CAPABILITY_SCHEDULER] = "scheduler", [DBOS_CAPABILITY_BUFFERPOOL] = "bufferpool",
	};
	return (unsigned)capability < DBOS_CAPABILITY_COUNT ? names[capability] : "unknown";
}
