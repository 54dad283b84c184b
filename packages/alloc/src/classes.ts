// Size classes, mirrored from the C core (csrc/alloc_slab.c) so the JavaScript cache can index them.
import { addon } from './native.js';

/** Object sizes of the 44 size classes, bytes (16 B .. 64 KiB), as the addon reports them. */
export const CLASS_SIZES: readonly number[] = Object.freeze([...addon.classSizes]);

/** Largest request served from a slab, bytes; larger ones are page runs. */
export const OBJECT_SIZE_MAX: number = addon.objectSizeMax;

/** Alignment of every allocation, bytes. */
export const ALIGNMENT: number = addon.alignment;

/** The size class of `size` (1 .. OBJECT_SIZE_MAX): the same arithmetic as alloc_class_index(). */
export function classIndexOf(size: number): number {
  if (size <= 128) return ((size + 15) >> 4) - 1;
  const log = 31 - Math.clz32(size - 1);
  return 8 + (log - 7) * 4 + (((size - 1) >> (log - 2)) - 4);
}

/** Objects of a class a JavaScript cache holds at most (the C per-thread cache rule). */
export function cacheCapacityOf(classIndex: number): number {
  const size = CLASS_SIZES[classIndex]!;
  return Math.max(4, Math.min(128, Math.floor((256 * 1024) / size)));
}
