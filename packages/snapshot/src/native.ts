// The @dbos/snapshot addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from '@dbos/hypercall';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SnapshotAddon {}

export const addon = loadAddon<SnapshotAddon>(import.meta.url);
