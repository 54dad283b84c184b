// What `dbos probe` (probe().mechanisms.alloc of @dbos/platform) says about this package:
// registered when the package loads, computed when asked, from what a pool really gets here.
import { type MechanismFacts, type MechanismReport, registerMechanism } from '@dbos/platform';
import { addon } from './native.js';

/**
 * The guest runtime as it stands: the C core builds for guest images (one cache slot per vCPU,
 * memory from the guest kernel), but an Allocator from JavaScript cannot run there yet.
 */
function guestLine(kvm: { kind: string; reason: string }): string {
  if (kvm.kind === 'none') return `unavailable: ${kvm.reason}`;
  return (
    "unavailable from JavaScript (Allocator runtime 'guest': DBOS_ENOTSUP); " +
    `the C core builds into guest images with one cache slot per vCPU (KVM ${kvm.kind})`
  );
}

/** The report: the host line comes from C, from a pool created with the default flags. */
export function mechanismReport(facts: MechanismFacts): MechanismReport {
  return { host: addon.hostMechanism(), guest: guestLine(facts.kvm) };
}

registerMechanism('alloc', mechanismReport);
