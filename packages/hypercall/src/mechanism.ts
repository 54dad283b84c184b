// probe().mechanisms.hypercall: what this package's C code selects on this machine, reported to
// @dbos/platform when the package loads. Both lines come from the native code that acts on them
// (csrc/host/gateway_mechanism.c, csrc/vmm/vmm_mechanism.c), never from a table kept here.
import { registerMechanism, type MechanismReport } from '@dbos/platform';
import { addon } from './native.js';

let hostLine: string | undefined;

/**
 * The hypercall capability's mechanisms here. `host`: the backend the gateway's 'auto' picks
 * ("io_uring via raw system calls …" or "thread pool of plain system calls: <why>"); found once
 * by opening and closing a small gateway, then cached. `guest`: what the VMM does, or
 * "unavailable: <reason>" (asked each time: it opens /dev/kvm, which DBOS_KVM_DEVICE may move).
 */
export function hypercallMechanisms(): MechanismReport {
  hostLine ??= addon.gatewayMechanism();
  return { host: hostLine, guest: addon.guestMechanism() };
}

registerMechanism('hypercall', hypercallMechanisms);
