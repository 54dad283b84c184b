// Allocator statistics: the C core's counters plus derived fragmentation.
import type { NativeStats } from './native.js';

export interface ClassStats {
  /** Bytes per object. */
  objectSize: number;
  /** Bytes per slab and objects per slab. */
  slabBytes: number;
  slabObjects: number;
  /** Slabs of this class. */
  slabCount: number;
  /** Objects handed out and not freed. */
  objectsInUse: number;
  /** Free objects parked in per-thread (and the JavaScript) caches. */
  objectsCached: number;
  /** Free objects in their slabs. */
  objectsFree: number;
}

export interface AllocStats {
  /** The pool's size = its hard memory limit, bytes. */
  limitBytes: number;
  /** Pool pages backed by memory, bytes (the pool's own accounting; RSS of the pool is at most limitBytes). */
  residentBytes: number;
  pagesTotal: number;
  /** Free pages in the shared pool / in thread caches / in slabs, runs and arenas. */
  pagesFree: number;
  pagesCached: number;
  pagesUsed: number;
  /** Free pages still backed by memory (released in batches beyond retainBytes). */
  pagesFreeResident: number;
  /** Largest free run, pages. */
  freeRunPagesMax: number;
  /** Live bytes as requested / as allocated (class size or whole pages). */
  bytesRequested: number;
  bytesInUse: number;
  bytesSlabs: number;
  bytesRuns: number;
  bytesArenas: number;
  allocCount: number;
  freeCount: number;
  invalidFreeCount: number;
  /** Discard calls made to return memory, and the bytes they returned. */
  releaseCount: number;
  releasedBytes: number;
  /** Mechanisms in use: THP advice accepted, MADV_POPULATE_WRITE available. */
  hugePages: boolean;
  populate: boolean;
  /** 1 - requested / allocated, over live objects and runs (0 when nothing is live). */
  fragmentationInternal: number;
  /** Share of slab bytes not holding a live object (free or cached slots, slab tails). */
  fragmentationExternal: number;
  /** 1 - largest free run / free pages: how scattered the free pages are. */
  fragmentationPages: number;
  classes: ClassStats[];
}

/**
 * Fold the JavaScript cache into the native counters: objects it holds are
 * "in use" for the addon (they were handed over in batches at their class
 * size) but free for the user.
 */
export function statsFromNative(
  native: NativeStats,
  jsCached: number[] | undefined,
  js: { slackBytes: number; allocDelta: number; freeDelta: number },
): AllocStats {
  const classes = native.classes.map((entry) => ({ ...entry }));
  let bytesInUse = native.bytesInUse;
  let bytesRequested = native.bytesRequested - js.slackBytes;
  if (jsCached !== undefined) {
    jsCached.forEach((count, index) => {
      const entry = classes[index];
      if (entry === undefined) return; // one count per class: never beyond the table
      entry.objectsInUse -= count;
      entry.objectsCached += count;
      bytesInUse -= count * entry.objectSize;
      bytesRequested -= count * entry.objectSize;
    });
  }
  let slabBytesLive = 0;
  for (const entry of classes) slabBytesLive += entry.objectsInUse * entry.objectSize;
  const pagesFreeAll = native.pagesFree + native.pagesCached;
  const { classes: _ignored, ...counters } = native;
  return {
    ...counters,
    allocCount: native.allocCount + js.allocDelta,
    freeCount: native.freeCount + js.freeDelta,
    bytesInUse,
    bytesRequested,
    fragmentationInternal: bytesInUse > 0 ? 1 - bytesRequested / bytesInUse : 0,
    fragmentationExternal: native.bytesSlabs > 0 ? 1 - slabBytesLive / native.bytesSlabs : 0,
    fragmentationPages: pagesFreeAll > 0 ? 1 - native.freeRunPagesMax / pagesFreeAll : 0,
    classes,
  };
}
