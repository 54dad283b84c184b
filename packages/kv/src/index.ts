// @dbos/kv: an ordered key-value store on a B+tree of @dbos/bufferpool pages, with a redo
// write-ahead log, group commit and checkpoints from copy-on-write page epochs.
//
// The mechanism report: @dbos/platform's capability list (Capability) has no 'kv' entry, so this
// package does not register one; `store.mechanism` gives the line instead.
export type { Decoded, Encodable, EncodingName } from './encoding.js';
export type { KvOptions, WriteOptions } from './options.js';
export type { Entry, RangeIterable, RangeOptions } from './range.js';
export { Snapshot } from './snapshot.js';
export { KvStore, open } from './store.js';
export type { BatchOperation, KvStats, ProgressListener, ProgressOptions } from './store.js';
