/*
 * vmm_mechanism.c - what the guest runtime's host side does on this machine,
 * in one line, for probe().mechanisms (src/mechanism.ts).
 *
 * The line is assembled from the same facts the VMM acts on: the probe that
 * dbos_guest_start runs, the ring the engine would run in, the doorbells
 * vmm_vcpu.c and vmm_doorbell.c serve, and the plain system calls
 * vmm_hypercall.c makes (it does not use io_uring).  Change it with them.
 */
#include <stdio.h>

#include "vmm.h"

/* How requests reach the host and how the host does them: vmm_vcpu.c, vmm_doorbell.c, vmm_hypercall.c. */
static const char vmm_path_text[] =
	"a hypercall ring per vCPU; sync doorbell = MMIO exit served on the vCPU's thread, "
	"async doorbell = ioeventfd served by one service thread, completion interrupt by irqfd; "
	"host I/O by plain pread/pwrite/preadv/pwritev/openat2/statx/fsync system calls on the serving thread";

void dbos_guest_mechanism(char *text, size_t text_size)
{
	char reason[256] = "";
	enum dbos_guest_kvm kvm = DBOS_GUEST_KVM_NONE;
	if (!text || text_size == 0)
		return;
	if (dbos_guest_probe(&kvm, reason, sizeof(reason)) != DBOS_OK) {
		snprintf(text, text_size, "unavailable: %s", reason);
		return;
	}
	snprintf(text, text_size, "in-process KVM VMM on %s, engine in guest ring %u; %s",
		 kvm == DBOS_GUEST_KVM_PVM ? "PVM (kvm_pvm)" : "hardware virtualization", vmm_engine_ring_default(kvm),
		 vmm_path_text);
}
