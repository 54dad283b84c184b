// @dbos/hypercall: the boundary to the host kernel.
export { DbosError, STATUS_CODES, hasCode, rangeError, typeError } from './errors.js';
export type { DbosStatusCode } from './errors.js';
export { loadAddon } from './load-addon.js';
export { probe, CAPABILITIES } from './probe.js';
export type { Capability, IoUringProbe, KvmKind, KvmProbe, ProbeOptions, ProbeResult, UserfaultfdProbe } from './probe.js';
export { Gateway } from './gateway.js';
export type {
  CloseOp, FallocateOp, FdatasyncOp, FsyncOp, FtruncateOp, GatewayBackend, GatewayOptions, Op, OpResult, OpenatOp,
  PreadOp, PreadvOp, PwriteOp, PwritevOp, Statx, StatxOp,
} from './gateway.js';
export { errnoName } from './errno.js';
export { Guest, GuestError, HYPERCALL_OPS, HYPERCALL_REQUEST_SIZE, encodeHypercall } from './guest.js';
export type { GuestAvailability, GuestFailure, GuestInfo, GuestKvm, GuestOptions, RunOptions } from './guest.js';
