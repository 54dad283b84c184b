// The @dbos/hypercall addon, typed. Each binding file (binding/*.cc) adds its part here.
import type { NativeGatewayClass } from './gateway.js';
import type { NativeGuestClass, NativeGuestProbe } from './guest.js';
import { loadAddon } from '@dbos/platform';

export interface HypercallAddon {
  Gateway: NativeGatewayClass;
  NativeGuest: NativeGuestClass;
  guestProbe(): NativeGuestProbe;
  guestBenchHost(what: number, a: number, b: number): number;
}

export const addon = loadAddon<HypercallAddon>(import.meta.url);
