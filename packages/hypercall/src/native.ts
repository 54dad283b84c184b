// The @dbos/hypercall addon, typed. Each binding file (binding/*.cc) adds its part here.
import type { NativeGatewayClass } from './gateway.js';
import type { NativeGuestClass, NativeGuestProbe } from './guest.js';
import { loadAddon } from '@dbos/platform';

export interface HypercallAddon {
  Gateway: NativeGatewayClass;
  /** What DBOS_GATEWAY_AUTO picks in this process, and why (dbos_gateway_mechanism). */
  gatewayMechanism(): string;
  NativeGuest: NativeGuestClass;
  guestProbe(): NativeGuestProbe;
  /** What the VMM does here, or "unavailable: <reason>" (dbos_guest_mechanism). */
  guestMechanism(): string;
}

export const addon = loadAddon<HypercallAddon>(import.meta.url);
