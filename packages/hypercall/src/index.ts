// @dbos/hypercall: the system-call gateway (batched host I/O) and the guest runtime (a VMM
// and guest kernel on /dev/kvm). Errors, probe() and loadAddon live in @dbos/platform; loading
// this module registers the hypercall capability's mechanisms with probe().
import './mechanism.js';

export { Gateway } from './gateway.js';
export type {
  CloseOp,
  FallocateOp,
  FdatasyncOp,
  FsyncOp,
  FtruncateOp,
  GatewayBackend,
  GatewayOptions,
  Op,
  OpResult,
  OpenatOp,
  PreadOp,
  PreadvOp,
  PwriteOp,
  PwritevOp,
  Statx,
  StatxOp,
} from './gateway.js';
export { Guest, GuestError, HYPERCALL_OPS, HYPERCALL_REQUEST_SIZE, encodeHypercall } from './guest.js';
export type { GrantOptions, GuestAvailability, GuestFailure, GuestInfo, GuestKvm, GuestOptions, RunOptions } from './guest.js';
