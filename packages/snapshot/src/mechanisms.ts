// Which snapshot mechanisms this machine offers, and names for them.
import { DbosError, typeError } from '@dbos/platform';
import { addon } from './native.js';

/** How a snapshot is taken. See the README's Design section for when each is used. */
export type SnapshotMechanism = 'epoch' | 'uffd-wp' | 'fork';

/** The runtime a space runs in: `host` emulates with Linux mechanisms; `guest` (KVM) is not implemented yet. */
export type SnapshotRuntime = 'host' | 'guest';

/** The C enum dbos_snap_mechanism, in order. @internal */
export const MECHANISM_CODES: Record<SnapshotMechanism | 'auto', number> = {
  auto: 0,
  epoch: 1,
  'uffd-wp': 2,
  fork: 3,
};

/** @internal */
export function mechanismName(code: number): SnapshotMechanism {
  if (code === 1) return 'epoch';
  if (code === 2) return 'uffd-wp';
  if (code === 3) return 'fork';
  throw new DbosError('DBOS_EINVAL', `unknown mechanism code ${code}`);
}

/** One mechanism and whether it works here. */
export interface MechanismAvailability {
  mechanism: SnapshotMechanism;
  runtime: SnapshotRuntime;
  /** True when a space can use it now. */
  available: boolean;
  /** Why not, when unavailable (e.g. "userfaultfd is not permitted (vm.unprivileged_userfaultfd=0)"). */
  reason: string | null;
  /** Writers must go through the write barrier (`write`, `beginWrite`) for this mechanism. */
  needsBarrier: boolean;
}

/**
 * The snapshot mechanisms of a runtime and whether each works on this machine (found by trying,
 * consistent with `probe()` of `@dbos/hypercall`). Cheap after the first call; does not block.
 * The guest runtime has none yet: every entry is unavailable with the reason.
 */
export function mechanisms(options: { runtime?: SnapshotRuntime } = {}): MechanismAvailability[] {
  const runtime = options.runtime ?? 'host';
  if (runtime !== 'host' && runtime !== 'guest') throw typeError(`runtime must be 'host' or 'guest'`);
  return addon.mechanisms().map((entry) => ({
    mechanism: entry.mechanism as SnapshotMechanism,
    runtime,
    available: runtime === 'host' && entry.available,
    reason: runtime === 'guest' ? 'the guest runtime has no snapshot backend yet' : entry.reason,
    needsBarrier: entry.mechanism === 'epoch',
  }));
}
