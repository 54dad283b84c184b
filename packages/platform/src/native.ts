// The @dbos/platform addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from './load-addon.js';
import type { NativeProbe } from './probe.js';

export interface PlatformAddon {
  statusNames(): string[];
  probeRun(): NativeProbe;
}

export const addon = loadAddon<PlatformAddon>(import.meta.url);
