// Page sets: the shapes the public API accepts, normalized to what the binding takes.
import { types } from 'node:util';
import { describeValue, rangeError, typeError } from '@dbos/platform';
import type { NativePages } from './native.js';

/**
 * Pages of a region, by index (page `i` starts at byte `i * 4096`):
 * a range `{ first, count }`, an array of indexes, or a `Uint32Array` of
 * indexes (the fastest: passed to native code without a copy, unless it lives
 * in a SharedArrayBuffer, which another thread could rewrite during the call).
 * Lists may be in any order and repeat pages; entries that follow each other in
 * the list and name adjacent pages share one system call, so sorted lists cost least.
 */
export type PageSet = { readonly first: number; readonly count: number } | readonly number[] | Uint32Array;

const INDEX_MAX = 0xffff_ffff;

function checkInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer (got ${describeValue(value)})`);
  if (value < 0) throw rangeError(`${name} must not be negative (got ${value})`);
  return value;
}

/** The options object of a call: undefined means none; anything but an object is a TypeError. */
export function optionsOf<T extends object>(options: T | undefined, name = 'options'): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw typeError(`${name} must be an object (got ${describeValue(options)})`);
  return options;
}

/** An array of page indexes, each checked once (a Proxy or getter cannot change it between check and use). */
function fromArray(pages: readonly unknown[], name: string): Uint32Array {
  const checked: number[] = [];
  const length = pages.length;
  for (let i = 0; i < length; i++) {
    const index = checkInteger(pages[i], `${name}[${i}]`);
    if (index > INDEX_MAX) throw rangeError(`${name}[${i}] = ${index} is not a page index`);
    checked.push(index);
  }
  return Uint32Array.from(checked);
}

/** Normalize a PageSet; throws TypeError for a wrong shape, RangeError for a negative or too large index. */
export function toNativePages(pages: PageSet, name = 'pages'): NativePages {
  // An internal-slot check: a Proxy of a Uint32Array is not one.
  if (types.isUint32Array(pages)) {
    // Shared memory could change under the C code between its checks and its use: copy it.
    const list = types.isSharedArrayBuffer(pages.buffer) ? pages.slice() : pages;
    return [list, 0, list.length];
  }
  if (Array.isArray(pages)) {
    const list = fromArray(pages, name);
    return [list, 0, list.length];
  }
  if (typeof pages === 'object' && pages !== null && !ArrayBuffer.isView(pages) && 'first' in pages && 'count' in pages) {
    const range = pages as { first: unknown; count: unknown };
    const first = checkInteger(range.first, `${name}.first`);
    const count = checkInteger(range.count, `${name}.count`);
    if (first > Number.MAX_SAFE_INTEGER || count > Number.MAX_SAFE_INTEGER) throw rangeError(`${name} is outside every region`);
    return [null, first, count];
  }
  throw typeError(`${name} must be { first, count }, an array of page indexes or a Uint32Array (got ${describeValue(pages)})`);
}

/** Number of pages in a set. */
export function pageSetCount(pages: NativePages): number {
  return pages[0] ? pages[0].length : pages[2];
}
