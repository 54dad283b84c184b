// @dbos/pagetable: virtual-memory regions the engine controls.
export { FRAME_COUNT_MAX, FramePool } from './frames.js';
export type { PageSet } from './pages.js';
export { probe } from './probe.js';
export type { PagetableProbe } from './probe.js';
export { PAGE_SIZE, REGION_SIZE_MAX, Region, VIEW_LENGTH_MAX } from './region.js';
export type {
  DirtyMechanism,
  PageInfo,
  PageRange,
  PageState,
  Protection,
  RegionOptions,
  RegionStats,
} from './region.js';
export { addon as nativeAddon } from './native.js';
