// Page ids as the public API takes them (a safe integer or a bigint) and as the binding takes
// them (a number, one at a time or in a Float64Array).
import { types } from 'node:util';
import { describeValue, rangeError, typeError } from '@dbos/platform';

/** A page id: a non-negative safe integer, or a bigint in the same range. Page 0 is the file header's. */
export type PageId = number | bigint;

/** A list of page ids: an array, or a typed array of ids (Float64Array, Uint32Array, BigUint64Array …). */
export type PageIdList = readonly PageId[] | ArrayLike<number> | ArrayLike<bigint>;

/** Check one page id; throws TypeError (not an integer) or RangeError (negative, beyond 2^53 - 1). */
export function toPageId(value: unknown, name = 'pid'): number {
  if (typeof value === 'bigint') {
    if (value < 0n) throw rangeError(`${name} must not be negative (got ${value}n)`);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw rangeError(`${name} ${value}n is beyond every page file`);
    return Number(value);
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw typeError(`${name} must be an integer or a bigint (got ${describeValue(value)})`);
  }
  if (value < 0) throw rangeError(`${name} must not be negative (got ${value})`);
  if (value > Number.MAX_SAFE_INTEGER) throw rangeError(`${name} ${value} is beyond every page file`);
  return value;
}

/**
 * A list of page ids, each read and checked once, copied into a Float64Array that native code
 * reads (a Proxy, a getter or another thread cannot change an id between the check and the use).
 * `max`: how many ids a list may hold.
 */
export function toPageIdList(value: unknown, max: number, name = 'pids'): Float64Array {
  const isList = Array.isArray(value) || types.isTypedArray(value);
  if (!isList) throw typeError(`${name} must be an array or a typed array of page ids (got ${describeValue(value)})`);
  const list = value as ArrayLike<unknown>;
  const length = list.length;
  if (!Number.isSafeInteger(length) || length < 0) throw typeError(`${name} has no valid length`);
  if (length > max) throw rangeError(`${name} holds ${length} page ids; at most ${max} per call`);
  const ids = new Float64Array(length);
  for (let i = 0; i < length; i++) ids[i] = toPageId(list[i], `${name}[${i}]`);
  return ids;
}
