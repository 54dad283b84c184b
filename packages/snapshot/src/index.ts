// @dbos/snapshot: point-in-time copy-on-write snapshots of memory while writers keep writing.
import { registerMechanism } from '@dbos/platform';
import { mechanismReport } from './mechanisms.js';

export { IMAGE_FORMAT, PAGE_SIZE, SNAPSHOT_COUNT_MAX, SPACE_SIZE_MAX, WRITER_COUNT_MAX } from './constants.js';
export { createSpace, Snapshot, SnapshotSpace } from './space.js';
export type {
  DirtyPages,
  PageIterationOptions,
  SpaceNativeHandle,
  SpaceOptions,
  SpaceStats,
  WriteToOptions,
  WriteToResult,
} from './space.js';
export { mechanisms } from './mechanisms.js';
export type { MechanismAvailability, SnapshotMechanism, SnapshotRuntime } from './mechanisms.js';
export { crc32c, imageSize, verifyImage } from './image.js';
export type { ImageInfo } from './image.js';

// probe().mechanisms.snapshot asks this package's C code what createSpace selects here.
registerMechanism('snapshot', mechanismReport);
