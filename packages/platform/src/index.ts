// @dbos/platform: what every @dbos package stands on — errors with stable codes, loading an
// addon, probe() of the machine with each package's mechanism report, errno names.
export {
  DbosError,
  STATUS_CODES,
  callNative,
  describeValue,
  fromNative,
  hasCode,
  rangeError,
  registerNativeError,
  settleNative,
  typeError,
} from './errors.js';
export type { DbosStatusCode, NativeErrorUpgrade } from './errors.js';
export { errnoName } from './errno.js';
export { loadAddon } from './load-addon.js';
export { CAPABILITIES, CAPABILITY_PACKAGES, registerMechanism } from './mechanisms.js';
export type { Capability, CapabilityMechanism, MechanismFacts, MechanismReport, MechanismReporter } from './mechanisms.js';
export { probe } from './probe.js';
export type { IoUringProbe, KvmKind, KvmProbe, ProbeOptions, ProbeResult, UserfaultfdProbe } from './probe.js';
