// Every number @dbos/pagetable's TypeScript shares with its C: sizes, limits and the codes the
// binding takes. Each has one source, dbos/pagetable.h (or dbos/platform.h), and
// test/constants.test.ts compiles those headers and compares, so the two cannot drift.
import { addon } from './native.js';

/** Bytes per page (DBOS_PAGE_SIZE). */
export const PAGE_SIZE = 4096;
/** Largest region: 2^32 pages, 16 TiB (DBOS_PT_REGION_SIZE_MAX). */
export const REGION_SIZE_MAX = 2 ** 44;
/** Largest frame pool: 2^31 frames, 8 TiB (DBOS_PT_FRAME_COUNT_MAX). */
export const FRAME_COUNT_MAX = 2 ** 31;
/**
 * Longest single view, bytes: the largest ArrayBuffer every supported Node holds (4 GiB). The
 * binding enforces it and reports it, so this is the binding's own number.
 */
export const VIEW_LENGTH_MAX: number = addon.viewLengthMax;

/** enum dbos_prot: what the binding takes for a protection. */
export const PROT = { none: 0, read: 1, write: 2, readWrite: 3 } as const;
/** enum dbos_pt_state: what the binding's pageQuery() reports. */
export const STATE = { unmapped: 0, anonymous: 1, frame: 2 } as const;
/** enum dbos_pt_dirty_mechanism: what the binding's dirtyStart() takes (none = pick the best). */
export const DIRTY = { none: 0, uffdWpAsync: 1, shadowCompare: 2, pteDirtyBits: 3 } as const;
/** enum dbos_pt_region_flags: the binding's region constructor flags. */
export const REGION_FLAG = { hugePages: 1, mapAll: 2 } as const;
