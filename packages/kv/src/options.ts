// The options of open() and of each call, checked once and turned into what the binding takes.
import { fileURLToPath } from 'node:url';
import { describeValue, rangeError, typeError } from '@dbos/platform';
import { ENCODINGS, type EncodingName } from './encoding.js';
import { addon } from './native.js';

/** Options of {@link open}. Unknown keys are refused (TypeError DBOS_EINVAL), so a typo is never ignored. */
export interface KvOptions<K extends EncodingName = EncodingName, V extends EncodingName = EncodingName> {
  /** Create the store when the directory holds none (the directory too). Default `true`. */
  create?: boolean;
  /** No writes; other read-only openers may share the store. Default `false`. */
  readOnly?: boolean;
  /** The buffer pool's memory budget in bytes. Default 256 MiB. */
  cacheBytes?: number;
  /** Bytes per page of a new store: a power of two from 4096 to 65536. Default 4096 (an existing store keeps its own). */
  pageSize?: number;
  /**
   * Checkpoint in the background once the log grows this many bytes past the last one, or sooner
   * once it outgrows the page file (never below 4 MiB); `Infinity`: only when asked. Default 4 GiB: a
   * checkpoint writes the whole page file, so a smaller cap on a larger store writes it more often
   * than once per page file of log; a smaller cap only shortens recovery (less log to replay).
   */
  checkpointWalBytes?: number;
  /** Milliseconds to wait when another process has the store open, before DBOS_ELOCKED. Default 0. */
  waitForLock?: number;
  /** Page file through the operating system's page cache instead of O_DIRECT. Default `false`. */
  buffered?: boolean;
  /** How keys are converted. Default `'utf8'`. */
  keyEncoding?: K;
  /** How values are converted. Default `'utf8'`. */
  valueEncoding?: V;
  /** The default of every write's `sync` option. Default `true`. */
  sync?: boolean;
}

/** Options of one write (`put`, `del`, `batch`). */
export interface WriteOptions {
  /**
   * `true`: the promise resolves once the write is on the device (fdatasync: it survives power
   * loss). `false`: once it is in the operating system (it survives the process being killed).
   * Default: the store's `sync` option.
   */
  sync?: boolean;
}

/** What the binding's constructor takes, and the TypeScript side's settings. */
export interface OpenArguments {
  dir: string;
  flags: number;
  pageSize: number;
  cacheBytes: number;
  checkpointWalBytes: number | bigint;
  waitForLockMs: number;
  keyEncoding: EncodingName;
  valueEncoding: EncodingName;
  sync: boolean;
}

const OPEN_KEYS = new Set([
  'create',
  'readOnly',
  'cacheBytes',
  'pageSize',
  'checkpointWalBytes',
  'waitForLock',
  'buffered',
  'keyEncoding',
  'valueEncoding',
  'sync',
]);

const UINT64_MAX = 2n ** 64n - 1n;
const PAGE_SIZE_MIN = 4096;
const PAGE_SIZE_MAX = 65536;
/** Fewest bytes of cache a store may have: a few dozen pages of the largest size. */
const CACHE_BYTES_MIN = 64 * PAGE_SIZE_MAX;
const WAIT_FOR_LOCK_MAX = 2 ** 32 - 1;

/** A directory path: a non-empty string or a file: URL. */
export function pathOf(path: unknown, name = 'path'): string {
  let text: unknown = path;
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw typeError(`${name} must be a file: URL (got ${path.protocol} URL)`);
    text = fileURLToPath(path);
  }
  if (typeof text !== 'string') throw typeError(`${name} must be a string or a file: URL (got ${describeValue(path)})`);
  if (text.length === 0) throw typeError(`${name} must not be empty`);
  if (text.includes('\0')) throw typeError(`${name} must not contain NUL characters`);
  return text;
}

/** An options argument: undefined or a plain object whose keys are all in `known`. */
export function optionsObject(options: unknown, known: ReadonlySet<string>, what: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw typeError(`${what} must be an object (got ${describeValue(options)})`);
  }
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw typeError(`${what} has an unknown option '${key}' (known: ${[...known].join(', ')})`);
  }
  return options as Record<string, unknown>;
}

export function booleanOption(options: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(`options.${name} must be a boolean (got ${describeValue(value)})`);
  return value;
}

export function integerOption(options: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw typeError(`options.${name} must be an integer (got ${describeValue(value)})`);
  }
  if (value < min || value > max) throw rangeError(`options.${name} must be from ${min} to ${max} (got ${value})`);
  return value;
}

function encodingOption(options: Record<string, unknown>, name: string): EncodingName {
  const value = options[name];
  if (value === undefined) return 'utf8';
  if (typeof value !== 'string' || !(ENCODINGS as readonly string[]).includes(value)) {
    throw typeError(`options.${name} must be one of ${ENCODINGS.join(', ')} (got ${describeValue(value)})`);
  }
  return value as EncodingName;
}

/** Check `open()`'s arguments: TypeError for a wrong type or an unknown option, RangeError for a value out of range. */
export function openArguments(path: unknown, options: unknown): OpenArguments {
  const dir = pathOf(path);
  const given = optionsObject(options, OPEN_KEYS, 'options');
  // 0 asks the C side for its default (4096, or an existing store's page size).
  const pageSize = integerOption(given, 'pageSize', 0, PAGE_SIZE_MIN, PAGE_SIZE_MAX);
  if ((pageSize & (pageSize - 1)) !== 0) throw rangeError(`options.pageSize must be a power of two (got ${pageSize})`);
  const cacheBytes = integerOption(given, 'cacheBytes', addon.cacheBytesDefault, CACHE_BYTES_MIN, Number.MAX_SAFE_INTEGER);
  let checkpointWalBytes: number | bigint = addon.checkpointWalBytesDefault;
  if (given.checkpointWalBytes === Number.POSITIVE_INFINITY) checkpointWalBytes = UINT64_MAX;
  else checkpointWalBytes = integerOption(given, 'checkpointWalBytes', addon.checkpointWalBytesDefault, 1, Number.MAX_SAFE_INTEGER);
  const waitForLockMs = integerOption(given, 'waitForLock', 0, 0, WAIT_FOR_LOCK_MAX);
  const readOnly = booleanOption(given, 'readOnly', false);
  let flags = 0;
  if (booleanOption(given, 'create', true) && !readOnly) flags |= addon.flagCreate;
  if (readOnly) flags |= addon.flagReadOnly;
  if (booleanOption(given, 'buffered', false)) flags |= addon.flagBuffered;
  return {
    dir,
    flags,
    pageSize,
    cacheBytes,
    checkpointWalBytes,
    waitForLockMs,
    keyEncoding: encodingOption(given, 'keyEncoding'),
    valueEncoding: encodingOption(given, 'valueEncoding'),
    sync: booleanOption(given, 'sync', true),
  };
}

const WRITE_KEYS = new Set(['sync']);

/** A write's `sync`: its option, else the store's default. */
export function writeSync(options: unknown, fallback: boolean): boolean {
  return booleanOption(optionsObject(options, WRITE_KEYS, 'options'), 'sync', fallback);
}
