// @dbos/pagetable: virtual-memory regions the engine controls.
import './mechanism.js';

export { FRAME_COUNT_MAX, PAGE_SIZE, REGION_SIZE_MAX, VIEW_LENGTH_MAX } from './constants.js';
export { FramePool } from './frames.js';
export type { PageSet } from './pages.js';
export { probe } from './probe.js';
export type { PagetableProbe } from './probe.js';
export { Region } from './region.js';
export type {
  DirtyMechanism,
  PageInfo,
  PageRange,
  PageState,
  Protection,
  RegionOptions,
  RegionStats,
} from './region.js';
