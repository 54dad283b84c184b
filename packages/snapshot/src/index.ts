// @dbos/snapshot: point-in-time copy-on-write snapshots of memory while writers keep writing.
export { createSpace, Snapshot, SnapshotSpace, PAGE_SIZE, SNAPSHOT_COUNT_MAX, SPACE_SIZE_MAX } from './space.js';
export type { DirtyPages, PageIterationOptions, SpaceOptions, SpaceStats, WriteToOptions, WriteToResult } from './space.js';
export { mechanisms } from './mechanisms.js';
export type { MechanismAvailability, SnapshotMechanism, SnapshotRuntime } from './mechanisms.js';
export { crc32c, imageSize, verifyImage } from './image.js';
export type { ImageInfo } from './image.js';
export { testing } from './testing.js';
export type { WritersOptions } from './testing.js';
export { addon as nativeAddon } from './native.js';
