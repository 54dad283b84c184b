/* probe.c - dbos_probe_run: every probe_*.c in turn; the per-process copy; names. */
#include <pthread.h>
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

static dbos_probe probe_once;
static pthread_once_t probe_once_control = PTHREAD_ONCE_INIT;

static void probe_once_run(void)
{
	dbos_probe_run(&probe_once);
}

const dbos_probe *dbos_probe_cached(void)
{
	pthread_once(&probe_once_control, probe_once_run);
	return &probe_once;
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
