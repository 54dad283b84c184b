// Size classes and limits as the addon reports them: the numbers live in C only (dbos/alloc.h and
// the class table of csrc/alloc_slab.c); test/constants.test.ts pins what the addon hands over to
// the header, so the TypeScript cannot drift from the C.
import { describeValue, typeError } from '@dbos/platform';
import { addon } from './native.js';

/** Object sizes of the 44 size classes, bytes (16 B .. 64 KiB), as the addon reports them. */
export const CLASS_SIZES: readonly number[] = Object.freeze([...addon.classSizes]);

/** Largest request served from a slab, bytes; larger ones are page runs. */
export const OBJECT_SIZE_MAX: number = addon.objectSizeMax;

/** Alignment of every allocation, bytes. */
export const ALIGNMENT: number = addon.alignment;

/** Bytes per page (DBOS_PAGE_SIZE): page runs and the pool's size are whole pages. */
export const PAGE_SIZE: number = addon.pageSize;

/** The smallest pool, bytes (DBOS_ALLOC_LIMIT_BYTES_MIN: one huge page). */
export const LIMIT_BYTES_MIN: number = addon.limitBytesMin;

/** The largest alignment an arena allocation may ask for, bytes (DBOS_ALLOC_ARENA_ALIGNMENT_MAX). */
export const ARENA_ALIGNMENT_MAX: number = addon.arenaAlignmentMax;

/** Objects of a class a cache holds at most: the JavaScript cache keeps the C thread cache's cap. */
const CACHE_CAPACITIES: readonly number[] = Object.freeze([...addon.classCacheCapacities]);

/**
 * Every class size is a multiple of ALIGNMENT, so all sizes in one ALIGNMENT-wide granule share a
 * class: the class of `size` is one lookup in a table built from CLASS_SIZES (4 KiB), never a
 * second copy of the C's arithmetic.
 */
const ALIGNMENT_SHIFT = Math.log2(ALIGNMENT);
const CLASS_OF_GRANULE = (() => {
  const table = new Uint8Array(OBJECT_SIZE_MAX / ALIGNMENT + 1);
  let classIndex = 0;
  for (let granule = 1; granule < table.length; granule++) {
    while ((CLASS_SIZES[classIndex] ?? Number.POSITIVE_INFINITY) < granule * ALIGNMENT) classIndex++;
    table[granule] = classIndex;
  }
  return table;
})();

/** The class of a size the caller checked (an integer in 1 .. OBJECT_SIZE_MAX): the allocator's hot path. */
export function classOfCheckedSize(size: number): number {
  return CLASS_OF_GRANULE[(size + ALIGNMENT - 1) >>> ALIGNMENT_SHIFT] ?? -1;
}

/**
 * The size class of `size`: the smallest class that holds it, or -1 for an integer outside
 * 1 .. OBJECT_SIZE_MAX (a page run) and for any other number. TypeError for a non-number.
 */
export function classIndexOf(size: number): number {
  if (typeof size !== 'number') throw typeError(`size must be a number (got ${describeValue(size)})`);
  if (!Number.isInteger(size) || size < 1 || size > OBJECT_SIZE_MAX) return -1;
  return classOfCheckedSize(size);
}

/** Objects of a class the JavaScript cache holds at most (dbos_alloc_class_cache_capacity). */
export function cacheCapacityOf(classIndex: number): number {
  return CACHE_CAPACITIES[classIndex] ?? 0;
}
