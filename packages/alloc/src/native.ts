// The @dbos/alloc addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from '@dbos/hypercall';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AllocAddon {}

export const addon = loadAddon<AllocAddon>(import.meta.url);
