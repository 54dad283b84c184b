// Which snapshot mechanisms this machine offers, names for them, and what probe() shows.
import { callNative, DbosError, typeError } from '@dbos/platform';
import type { MechanismReport } from '@dbos/platform';
import { checkOptions } from './checks.js';
import { MECHANISM_CODES } from './constants.js';
import { addon } from './native.js';

/** How a snapshot is taken. See the README's Design section for when each is used. */
export type SnapshotMechanism = 'epoch' | 'uffd-wp' | 'fork';

/** The runtime a space runs in: `host` emulates with Linux mechanisms; `guest` (KVM) is not implemented yet. */
export type SnapshotRuntime = 'host' | 'guest';

/** Why `runtime: 'guest'` throws DBOS_ENOTSUP: said the same way by createSpace, mechanisms() and probe(). @internal */
export const GUEST_UNSUPPORTED = 'the guest runtime has no snapshot backend yet';

const NAMES = new Map<number, SnapshotMechanism>(
  (Object.entries(MECHANISM_CODES) as Array<[SnapshotMechanism | 'auto', number]>)
    .filter((entry): entry is [SnapshotMechanism, number] => entry[0] !== 'auto')
    .map(([name, code]) => [code, name]),
);

/** The name of a dbos_snap_mechanism the C code reports (never AUTO). @internal */
export function mechanismName(code: number): SnapshotMechanism {
  const name = NAMES.get(code);
  if (!name) throw new DbosError('DBOS_EINVAL', `unknown mechanism code ${code}`);
  return name;
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
 * The snapshot mechanisms of a runtime and whether each works on this machine. The host answers come
 * from `probe()` of `@dbos/platform` (userfaultfd and its write-protect feature) through the C code
 * that createSpace uses. Cheap after the first call; does not block. The guest runtime has none yet:
 * every entry is unavailable with the reason. Throws TypeError (DBOS_EINVAL) for another runtime or
 * options that are not an object.
 */
export function mechanisms(options?: { runtime?: SnapshotRuntime }): MechanismAvailability[] {
  const runtime = checkOptions<{ runtime: SnapshotRuntime }>(options).runtime ?? 'host';
  if (runtime !== 'host' && runtime !== 'guest') throw typeError(`runtime must be 'host' or 'guest'`);
  return callNative(() => addon.mechanisms(), 'mechanisms').map((entry) => ({
    mechanism: entry.mechanism as SnapshotMechanism,
    runtime,
    available: runtime === 'host' && entry.available,
    reason: runtime === 'guest' ? GUEST_UNSUPPORTED : entry.reason,
    needsBarrier: entry.mechanism === 'epoch',
  }));
}

/**
 * What `probe().mechanisms.snapshot` shows (registered with @dbos/platform when this package loads).
 * host: the C selection createSpace makes here — for latched pages (`writes: 'barrier'`) and for raw
 * regions (`writes: 'raw'`), with the reasons — from dbos_snap_host_mechanism_format. guest: none yet.
 * @internal
 */
export function mechanismReport(): MechanismReport {
  return {
    host: callNative(() => addon.mechanismLine(), 'snapshot mechanism report'),
    guest: `unavailable: DBOS_ENOTSUP, ${GUEST_UNSUPPORTED} (createSpace({ runtime: 'guest' }) throws it)`,
  };
}
