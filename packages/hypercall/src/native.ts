// The @dbos/hypercall addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from './load-addon.js';

export interface HypercallAddon {
  statusNames(): string[];
}

export const addon = loadAddon<HypercallAddon>(import.meta.url);
