// Page sets: the shapes the public API accepts, normalized to what the binding takes.
import { rangeError, typeError } from '@dbos/platform';
import type { NativePages } from './native.js';

/**
 * Pages of a region, by index (page `i` starts at byte `i * 4096`):
 * a range `{ first, count }`, an array of indexes, or a `Uint32Array` of
 * indexes (the fastest: passed to native code without a copy).  Lists may be
 * in any order and repeat pages; entries that follow each other in the list
 * and name adjacent pages share one system call, so sorted lists cost least.
 */
export type PageSet = { readonly first: number; readonly count: number } | readonly number[] | Uint32Array;

const INDEX_MAX = 0xffff_ffff;

function checkInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer`);
  if (value < 0) throw rangeError(`${name} must not be negative (got ${value})`);
  return value;
}

/** Normalize a PageSet; throws TypeError for a wrong shape, RangeError for a negative or too large index. */
export function toNativePages(pages: PageSet, name = 'pages'): NativePages {
  if (pages instanceof Uint32Array) return [pages, 0, pages.length];
  if (Array.isArray(pages)) {
    const list = new Uint32Array(pages.length);
    for (let i = 0; i < pages.length; i++) {
      const index = checkInteger(pages[i], `${name}[${i}]`);
      if (index > INDEX_MAX) throw rangeError(`${name}[${i}] = ${index} is not a page index`);
      list[i] = index;
    }
    return [list, 0, list.length];
  }
  if (typeof pages === 'object' && pages !== null && 'first' in pages && 'count' in pages) {
    const range = pages as { first: unknown; count: unknown };
    return [null, checkInteger(range.first, `${name}.first`), checkInteger(range.count, `${name}.count`)];
  }
  throw typeError(`${name} must be { first, count }, an array of page indexes or a Uint32Array`);
}

/** Number of pages in a set. */
export function pageSetCount(pages: NativePages): number {
  return pages[0] ? pages[0].length : pages[2];
}
