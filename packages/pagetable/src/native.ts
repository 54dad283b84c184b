// The @dbos/pagetable addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from '@dbos/hypercall';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PagetableAddon {}

export const addon = loadAddon<PagetableAddon>(import.meta.url);
