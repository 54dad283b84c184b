// What `dbos probe` (probe().mechanisms.pagetable of @dbos/platform) says about this package:
// registered when the package loads, computed when asked, from the package's own C selection.
import { type MechanismFacts, type MechanismReport, registerMechanism } from '@dbos/platform';
import { addon } from './native.js';

/**
 * The guest runtime as it stands: the C backend (PTE writes, local INVLPG, the guest kernel's
 * #PF handler, hardware A/D bits) runs where engine code runs inside a guest image; a Region
 * from JavaScript cannot be served by it yet. Without KVM there is no guest at all.
 */
function guestLine(kvm: { kind: string; reason: string }): string {
  if (kvm.kind === 'none') return `unavailable: ${kvm.reason}`;
  return (
    `PTE writes + INVLPG, guest #PF handler, dirty/accessed from PTE A/D bits (KVM ${kvm.kind}), ` +
    "for C engine code in guest images; Region runtime 'guest' from JavaScript: DBOS_ENOTSUP"
  );
}

/** The report: the host line is formatted in C from the capabilities the region code uses. */
export function mechanismReport(facts: MechanismFacts): MechanismReport {
  return { host: addon.hostMechanism(), guest: guestLine(facts.kvm) };
}

registerMechanism('pagetable', mechanismReport);
