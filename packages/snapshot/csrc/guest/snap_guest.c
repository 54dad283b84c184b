/*
 * snap_guest.c - the guest runtime's mechanism table.
 *
 * EPOCH is pure core (memory, atomics and dbos/platform.h) and runs in the guest kernel as it
 * is.  The raw-memory mechanisms of the guest are the page-table ones libdbos uses: write-protect
 * the snapshot's PTEs directly (no userfaultfd), copy the pre-image in the guest's own #PF
 * handler, and pre-copy page tables instead of forking.  They plug in here through
 * snap_mechanism_ops (freeze = write-protect PTEs + one TLB flush, release = restore) once
 * @dbos/pagetable's guest runtime exposes write-protect faults; until then they report why not.
 */
#include "../snap_internal.h"

const snap_mechanism_ops *snap_runtime_ops(enum dbos_snap_mechanism mechanism)
{
	(void)mechanism;
	return NULL;
}

bool snap_runtime_available(enum dbos_snap_mechanism mechanism, const char **reason_out)
{
	(void)mechanism;
	*reason_out = "the guest runtime has no page-table write-protect snapshots yet (epoch works)";
	return false;
}
