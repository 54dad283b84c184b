// The @dbos/bufferpool addon, typed: binding/bp_pool.cc makes NativeBufferPool, binding/bp_constants.cc
// the constants of dbos/bufferpool.h.
import { loadAddon } from '@dbos/platform';

/** Counters of one pool as the binding reports them (struct dbos_bp_stats, field by field). */
export interface NativeStats {
  /** Fixes (and optimistic reads) served from memory. */
  hits: number;
  /** Page reads started. */
  misses: number;
  /** Pages dropped from memory. */
  evictions: number;
  /** Page writes completed (eviction and flush). */
  pagesWritten: number;
  /** Page reads submitted and not yet completed, now. */
  readsInFlight: number;
  /** Page writes submitted and not yet completed, now. */
  writesInFlight: number;
  /** Pages holding memory (reads in flight included). */
  residentPages: number;
  /** residentPages × pageSize. */
  residentBytes: number;
  /** poolBytes / pageSize: residentPages never exceeds it. */
  budgetPages: number;
  /** Resident pages changed since last written. */
  dirtyPages: number;
  /** Optimistic reads that had to start again. */
  optimisticRestarts: number;
  /** Dirty pages the write-ahead-log hook kept from being written. */
  heldBack: number;
  /** Pages in the file, header page included. */
  pageCount: number;
  /** Pages on the file's free list. */
  freePages: number;
  /** Page views handed out and not yet detached. */
  liveViews: number;
  /** Views JavaScript moved out of the pool's reach (their pages stay fixed). */
  escapedViews: number;
}

/** binding/bp_pool.cc: one open page file and its pool. Every call that returns a view fixes on the calling (JavaScript) thread. */
export interface NativeBufferPool {
  readonly pageSize: number;
  readonly payloadSize: number;
  /** Pages the file holds now, header page included (valid ids: 1 .. pageCount - 1). */
  pageCount(): number;
  /** Fix one page; the ArrayBuffer covers its payload in pool memory (no copy). */
  fix(pid: number, exclusive: boolean): ArrayBuffer;
  /** Fix every page of `pids` (one native batch: all misses submitted together); all or none. */
  fixMany(pids: Float64Array, exclusive: boolean): ArrayBuffer[];
  /** Read the pages in on a worker thread (fix_many + unfix_many there), so fixes here find them resident. */
  loadAsync(pids: Float64Array): Promise<void>;
  /** Detach `view` (made by a fix of `pid`), then unfix the page; false when the view escaped (the page stays fixed). */
  unfix(view: ArrayBuffer, pid: number, exclusive: boolean, dirty: boolean): boolean;
  /** An optimistic read's start: a view of the page (no latch) and its version. */
  optimisticBegin(pid: number): [ArrayBuffer, number | bigint];
  /** Detach the optimistic view; true when the page still has `version` (the read saw one state). */
  optimisticEnd(view: ArrayBuffer, pid: number, version: number | bigint): boolean;
  /** Start reads of the missing pages of `pids` and return. */
  prefetch(pids: Float64Array): void;
  /** A new page (reused from the free list, or the file grows), fixed exclusively: [pid, payload]. */
  allocate(): [number, ArrayBuffer];
  /** Put a page on the file's free list. */
  free(pid: number): void;
  /** Write every dirty page back and sync the file, on a worker thread. */
  flushAsync(): Promise<void>;
  stats(): NativeStats;
  /** dbos_bp_mechanism(): what this pool uses (I/O backend, direct or buffered, discard). */
  mechanism(): string;
  /** Views not yet detached (fixes whose unfix has not run). */
  liveViews(): number;
  /** Close on a worker thread (flush, unmap, close the file). Refused while views live or calls run. */
  closeAsync(): Promise<void>;
  /** Close on this thread (the mechanism probe's empty pool only: a flush here would block). */
  closeSync(): void;
}

export interface BufferPoolAddon {
  NativeBufferPool: new (path: string, pageSize: number, poolBytes: number, flags: number, evictBatch: number) => NativeBufferPool;
  /** dbos_bp_open flags. */
  flagCreate: number;
  flagBuffered: number;
  flagReadOnly: number;
  pageSizeDefault: number;
  pageSizeMin: number;
  pageSizeMax: number;
  evictBatchDefault: number;
  evictBatchMax: number;
  /** Bytes of the page header (checksum, pid, flags, LSN) before each payload. */
  pageHeaderSize: number;
  /** Fewest pages a pool may hold. */
  poolPagesMin: number;
  /** Page ids one native batch takes at most. */
  batchMax: number;
}

export const addon = loadAddon<BufferPoolAddon>(import.meta.url);
