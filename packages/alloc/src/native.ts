// The @dbos/alloc addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from '@dbos/platform';
import type { AllocStats } from './stats.js';

/**
 * Raw counters of `dbos_alloc_stats_get` (binding/alloc_pool.cc): the public
 * statistics before the JavaScript cache is folded in and fragmentation is
 * derived (stats.ts).
 */
export type NativeStats = Omit<AllocStats, 'fragmentationInternal' | 'fragmentationExternal' | 'fragmentationPages'>;

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
  NativePool: new (limitBytes: number, prefaultBytes: number, retainBytes: number, flags: number, cacheSlotCount: number) => NativePool;
  NativeArena: new (pool: NativePool, chunkBytes: number) => NativeArena;
  classSizes: number[];
  /** dbos_alloc_class_cache_capacity of each class. */
  classCacheCapacities: number[];
  objectSizeMax: number;
  alignment: number;
  pageSize: number;
  limitBytesMin: number;
  arenaAlignmentMax: number;
  /** binding/alloc_probe.cc: dbos_alloc_host_mechanism_format(), the host line of probe().mechanisms. */
  hostMechanism(): string;
  flagHugePages: number;
  flagPopulate: number;
  flagJunk: number;
  flagRetainAddressSpace: number;
}

export const addon = loadAddon<AllocAddon>(import.meta.url);
