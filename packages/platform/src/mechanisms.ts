// Which mechanism each capability uses on this machine, as reported by the package that
// implements it. A package registers a report function when it is loaded; the function asks the
// package's own native code what it selected, so probe() can only say what the code really does.
import { describeValue } from './errors.js';
import type { ProbeResult } from './probe.js';

/** The capabilities dbos provides; each has a host and a guest runtime. */
export type Capability = 'hypercall' | 'pagetable' | 'snapshot' | 'alloc' | 'scheduler' | 'bufferpool';

/** The capabilities in display order, with the package that provides each. */
export const CAPABILITY_PACKAGES: Readonly<Record<Capability, string>> = Object.freeze({
  hypercall: '@dbos/hypercall',
  pagetable: '@dbos/pagetable',
  snapshot: '@dbos/snapshot',
  alloc: '@dbos/alloc',
  scheduler: '@dbos/scheduler',
  bufferpool: '@dbos/bufferpool',
});

/** The capabilities in display order. */
export const CAPABILITIES = Object.freeze(Object.keys(CAPABILITY_PACKAGES)) as readonly Capability[];

/** What a package says it uses, per runtime (one line of text each). */
export interface MechanismReport {
  /** The host runtime's mechanism on this machine, e.g. "io_uring via raw system calls, batched". */
  host: string;
  /** The guest runtime's mechanism, or "unavailable: <why>". */
  guest: string;
}

/** One capability's entry in `probe().mechanisms`. */
export interface CapabilityMechanism extends MechanismReport {
  /** The npm package that provides the capability. */
  package: string;
  /** False when that package is not loaded in this process: then nothing is claimed. */
  loaded: boolean;
}

/** What a report is told: the probe's facts (everything in probe() but the mechanisms). */
export type MechanismFacts = Readonly<Omit<ProbeResult, 'mechanisms'>>;

/** A package's report: asks its own native code, given the machine facts probe() found. */
export type MechanismReporter = (facts: MechanismFacts) => MechanismReport;

type Registry = { version: number; reports: Map<Capability, MechanismReporter> };

// One registry per process, even if two copies of @dbos/platform are installed side by side.
const REGISTRY = Symbol.for('@dbos/platform:mechanisms');
const scope = globalThis as typeof globalThis & { [REGISTRY]?: Registry };
scope[REGISTRY] ??= { version: 0, reports: new Map() };
const registry: Registry = scope[REGISTRY];

function isCapability(value: unknown): value is Capability {
  return typeof value === 'string' && Object.hasOwn(CAPABILITY_PACKAGES, value);
}

/**
 * Register the function that reports a capability's mechanisms (called by the package that
 * provides it, when it loads). A later registration replaces an earlier one.
 */
export function registerMechanism(capability: Capability, report: MechanismReporter): void {
  if (!isCapability(capability))
    throw Object.assign(new TypeError(`unknown capability ${describeValue(capability)}`), { code: 'DBOS_EINVAL' });
  if (typeof report !== 'function') throw Object.assign(new TypeError('report must be a function'), { code: 'DBOS_EINVAL' });
  registry.reports.set(capability, report);
  registry.version++;
}

/** @internal Changes whenever a registration changes what {@link mechanismReports} returns. */
export function mechanismsVersion(): number {
  return registry.version;
}

/** What a package's report says, or why it said nothing usable (a report never breaks probe()). */
function askReport(name: string, report: MechanismReporter, facts: MechanismFacts): MechanismReport {
  try {
    const answer = report(facts) as Partial<MechanismReport> | null;
    if (answer && typeof answer.host === 'string' && typeof answer.guest === 'string') return { host: answer.host, guest: answer.guest };
    const broken = `not reported: ${name}'s report returned no { host, guest } strings`;
    return { host: broken, guest: broken };
  } catch (error) {
    const broken = `not reported: ${name}'s report failed (${error instanceof Error ? error.message : describeValue(error)})`;
    return { host: broken, guest: broken };
  }
}

/** Every capability's mechanisms, from the packages loaded in this process. */
export function mechanismReports(facts: MechanismFacts): Record<Capability, CapabilityMechanism> {
  const out = {} as Record<Capability, CapabilityMechanism>;
  for (const capability of CAPABILITIES) {
    const name = CAPABILITY_PACKAGES[capability];
    const report = registry.reports.get(capability);
    if (!report) {
      const absent = `not reported: ${name} is not loaded in this process`;
      out[capability] = { package: name, loaded: false, host: absent, guest: absent };
      continue;
    }
    out[capability] = { package: name, loaded: true, ...askReport(name, report, facts) };
  }
  return out;
}
