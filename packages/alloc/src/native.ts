// The @dbos/alloc addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from '@dbos/hypercall';

/** Raw counters of `dbos_alloc_stats_get` (binding/alloc_pool.cc). */
export interface NativeStats {
  limitBytes: number;
  residentBytes: number;
  pagesTotal: number;
  pagesFree: number;
  pagesCached: number;
  pagesUsed: number;
  pagesFreeResident: number;
  freeRunPagesMax: number;
  bytesRequested: number;
  bytesInUse: number;
  bytesSlabs: number;
  bytesRuns: number;
  bytesArenas: number;
  allocCount: number;
  freeCount: number;
  invalidFreeCount: number;
  releaseCount: number;
  releasedBytes: number;
  hugePages: boolean;
  populate: boolean;
  classes: NativeClassStats[];
}

export interface NativeClassStats {
  objectSize: number;
  slabBytes: number;
  slabObjects: number;
  slabCount: number;
  objectsInUse: number;
  objectsCached: number;
  objectsFree: number;
}

/** binding/alloc_pool.cc: one dbos_alloc_pool. Offsets are bytes from the pool's base. */
export interface NativePool {
  alloc(size: number, zero: boolean): number;
  free(offset: number, size: number): void;
  allocBatch(size: number, count: number, offsets: Float64Array): number;
  freeBatch(offsets: Float64Array, count: number, size: number): void;
  /** Writes the allocation's pool offset to offsetOut[0]. */
  allocBuffer(size: number, zero: boolean, offsetOut: Float64Array): ArrayBuffer;
  freeBuffer(buffer: ArrayBuffer, size: number): void;
  detachBuffers(buffers: ArrayBuffer[]): void;
  memory(maxLength: number): ArrayBuffer;
  stats(): NativeStats;
  trim(keepBytes: number): number;
  flush(): void;
  check(): void;
  close(memory?: ArrayBuffer): void;
}

/** binding/alloc_arena.cc: one dbos_alloc_arena. */
export interface NativeArena {
  alloc(size: number, alignment: number, zero: boolean): number;
  allocBuffer(size: number, alignment: number, zero: boolean, offsetOut: Float64Array): ArrayBuffer;
  reset(): void;
  bytes(): [number, number];
  close(): void;
}

export interface AllocAddon {
  NativePool: new (
    limitBytes: number,
    prefaultBytes: number,
    retainBytes: number,
    flags: number,
    cacheSlotCount: number,
  ) => NativePool;
  NativeArena: new (pool: NativePool, chunkBytes: number) => NativeArena;
  classSizes: number[];
  objectSizeMax: number;
  alignment: number;
  flagHugePages: number;
  flagPopulate: number;
  flagJunk: number;
}

export const addon = loadAddon<AllocAddon>(import.meta.url);
