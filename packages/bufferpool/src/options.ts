// The options of BufferPool.open(), checked once and turned into what the binding takes.
import { fileURLToPath } from 'node:url';
import { describeValue, rangeError, typeError } from '@dbos/platform';
import { addon } from './native.js';

/** Options of `BufferPool.open()`. */
export interface BufferPoolOptions {
  /** Bytes per page: a power of two from 4 KiB to 64 KiB. Default 4096. Must match an existing file's. */
  pageSize?: number;
  /** The memory budget: resident pages never take more. At least 8 pages, at most 2^32 pages. Default 64 MiB. */
  poolBytes?: number;
  /** Create the file when it does not exist (a new file gets a header and no data pages). Default false. */
  create?: boolean;
  /** Buffered file I/O instead of O_DIRECT (the page cache then holds a second copy). Default false. */
  buffered?: boolean;
  /** Open for reading only: exclusive fixes, allocate() and free() are refused. Default false. */
  readOnly?: boolean;
  /** Pages evicted together when the pool is full: 1 to 1024 (more than half the pool's pages counts as half). Default 64. */
  evictBatch?: number;
}

/** What the binding's constructor takes. */
export interface OpenArguments {
  path: string;
  pageSize: number;
  poolBytes: number;
  flags: number;
  evictBatch: number;
}

const MiB = 2 ** 20;
export const POOL_BYTES_DEFAULT = 64 * MiB;

function pathOf(path: unknown): string {
  let text: unknown = path;
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw typeError(`path must be a file: URL (got ${path.protocol} URL)`);
    text = fileURLToPath(path);
  }
  if (typeof text !== 'string') throw typeError(`path must be a string or a file: URL (got ${describeValue(path)})`);
  if (text.length === 0) throw typeError('path must not be empty');
  if (text.includes('\0')) throw typeError('path must not contain NUL characters');
  return text;
}

function booleanOption(options: Record<string, unknown>, name: string): boolean {
  const value = options[name];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw typeError(`options.${name} must be a boolean (got ${describeValue(value)})`);
  return value;
}

function integerOption(options: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw typeError(`options.${name} must be an integer (got ${describeValue(value)})`);
  }
  if (value < min || value > max) throw rangeError(`options.${name} must be from ${min} to ${max} (got ${value})`);
  return value;
}

/** Check `open()`'s arguments; TypeError for a wrong type, RangeError for a value out of range. */
export function openArguments(path: unknown, options: unknown): OpenArguments {
  const file = pathOf(path);
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw typeError(`options must be an object (got ${describeValue(options)})`);
  }
  const given = (options ?? {}) as Record<string, unknown>;
  const pageSize = integerOption(given, 'pageSize', addon.pageSizeDefault, addon.pageSizeMin, addon.pageSizeMax);
  if ((pageSize & (pageSize - 1)) !== 0) throw rangeError(`options.pageSize must be a power of two (got ${pageSize})`);
  const poolBytes = integerOption(given, 'poolBytes', POOL_BYTES_DEFAULT, addon.poolPagesMin * pageSize, Number.MAX_SAFE_INTEGER);
  // 0: the C default (64, or less for a small pool).
  const evictBatch = integerOption(given, 'evictBatch', 0, 1, addon.evictBatchMax);
  let flags = 0;
  if (booleanOption(given, 'create')) flags |= addon.flagCreate;
  if (booleanOption(given, 'buffered')) flags |= addon.flagBuffered;
  if (booleanOption(given, 'readOnly')) flags |= addon.flagReadOnly;
  return { path: file, pageSize, poolBytes, flags, evictBatch };
}
