// @dbos/alloc: page, slab and arena allocation from a pre-faulted pool, off the garbage-collected heap.
import './mechanism.js';

export { Allocator } from './allocator.js';
export type { AllocatorOptions, AllocOptions, ViewMode } from './allocator.js';
export { Allocation } from './allocation.js';
export type { TypedArrayConstructor } from './allocation.js';
export { Arena } from './arena.js';
export type { ArenaOptions, ArenaAllocOptions } from './arena.js';
export type { AllocStats, ClassStats } from './stats.js';
export { ALIGNMENT, ARENA_ALIGNMENT_MAX, CLASS_SIZES, LIMIT_BYTES_MIN, OBJECT_SIZE_MAX, PAGE_SIZE, classIndexOf } from './classes.js';
