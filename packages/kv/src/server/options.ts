// startServer's options, checked before anything opens: a wrong type is a TypeError and a value
// out of range a RangeError (DBOS_EINVAL / DBOS_ERANGE), with the option's name, so a bad call
// never leaves a store open or a socket half bound. Ranges are the ones CONFIG SET applies.
import { describeValue, rangeError, typeError } from '@dbos/platform';
import { type Appendfsync, DEFAULT_SETTINGS, type OutputBufferLimit, type ServerSettings } from './config.js';

export interface ServerOptions {
  /** TCP port; 0 picks a free one (see KvServer.port). Default 6379. */
  port?: number;
  /** The address to listen on. Default 127.0.0.1. */
  bind?: string;
  /** The server's directory (created when missing): the store in `store/`, dump.rdb beside it. */
  dir: string;
  /** Clients must AUTH with this password first. Default: none. */
  requirepass?: string;
  /** Default everysec. */
  appendfsync?: Appendfsync;
  /** Refuse a non-loopback bind without requirepass. Default true. */
  protectedMode?: boolean;
  /** Seconds before an idle client is closed; 0 never (default). */
  timeout?: number;
  /** Default 10000. */
  maxclients?: number;
  /** The largest bulk argument in bytes, at least 1 MiB. Default 512 MiB. */
  protoMaxBulkLen?: number;
  /** Unsent reply bytes that close a client; zeros (default): no limit. */
  clientOutputBufferLimit?: OutputBufferLimit;
  /** The clock of expiry, in milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** The store's buffer pool in bytes (the store's default when absent). */
  cacheBytes?: number;
}

const INT32_MAX = 2147483647;
const UINT32_MAX = 4294967295;

function integerOption(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer (got ${describeValue(value)})`);
  if (value < min || value > max) throw rangeError(`${name} must be ${min} .. ${max} (got ${value})`);
  return value;
}

function stringOption(value: unknown, name: string, allowEmpty: boolean): string {
  if (typeof value !== 'string') throw typeError(`${name} must be a string (got ${describeValue(value)})`);
  if (!allowEmpty && value.length === 0) throw typeError(`${name} must not be empty`);
  if (value.includes('\0')) throw typeError(`${name} must not contain NUL characters`);
  return value;
}

function outputLimitOption(value: unknown): OutputBufferLimit {
  if (typeof value !== 'object' || value === null) {
    throw typeError(`clientOutputBufferLimit must be an object { hardBytes, softBytes, softSeconds } (got ${describeValue(value)})`);
  }
  const { hardBytes, softBytes, softSeconds } = value as Record<string, unknown>;
  return {
    hardBytes: integerOption(hardBytes ?? 0, 'clientOutputBufferLimit.hardBytes', 0, Number.MAX_SAFE_INTEGER),
    softBytes: integerOption(softBytes ?? 0, 'clientOutputBufferLimit.softBytes', 0, Number.MAX_SAFE_INTEGER),
    softSeconds: integerOption(softSeconds ?? 0, 'clientOutputBufferLimit.softSeconds', 0, INT32_MAX),
  };
}

/** The settings `options` ask for, every field checked; the store's own options are checked by open(). */
export function serverSettings(options: unknown): ServerSettings {
  if (typeof options !== 'object' || options === null)
    throw typeError(`startServer takes an options object (got ${describeValue(options)})`);
  const given = options as Record<string, unknown>;
  const optional = <T>(name: string, check: (value: unknown) => T, fallback: T): T =>
    given[name] === undefined ? fallback : check(given[name]);
  const appendfsync = optional<Appendfsync>(
    'appendfsync',
    (value) => {
      if (value !== 'always' && value !== 'everysec' && value !== 'no') {
        throw typeError(`appendfsync must be 'always', 'everysec' or 'no' (got ${describeValue(value)})`);
      }
      return value;
    },
    DEFAULT_SETTINGS.appendfsync,
  );
  const protectedMode = optional(
    'protectedMode',
    (value) => {
      if (typeof value !== 'boolean') throw typeError(`protectedMode must be a boolean (got ${describeValue(value)})`);
      return value;
    },
    DEFAULT_SETTINGS.protectedMode,
  );
  if (given.now !== undefined && typeof given.now !== 'function') {
    throw typeError(`now must be a function returning milliseconds (got ${describeValue(given.now)})`);
  }
  return {
    ...DEFAULT_SETTINGS,
    dir: stringOption(given.dir, 'dir', false),
    port: optional('port', (value) => integerOption(value, 'port', 0, 65535), DEFAULT_SETTINGS.port),
    bind: optional('bind', (value) => stringOption(value, 'bind', false), DEFAULT_SETTINGS.bind),
    protectedMode,
    requirepass: optional('requirepass', (value) => stringOption(value, 'requirepass', true), ''),
    timeoutSeconds: optional('timeout', (value) => integerOption(value, 'timeout', 0, INT32_MAX), 0),
    appendfsync,
    maxclients: optional('maxclients', (value) => integerOption(value, 'maxclients', 1, UINT32_MAX), DEFAULT_SETTINGS.maxclients),
    protoMaxBulkLen: optional(
      'protoMaxBulkLen',
      (value) => integerOption(value, 'protoMaxBulkLen', 1024 * 1024, Number.MAX_SAFE_INTEGER),
      DEFAULT_SETTINGS.protoMaxBulkLen,
    ),
    clientOutputBufferLimit: optional('clientOutputBufferLimit', outputLimitOption, { ...DEFAULT_SETTINGS.clientOutputBufferLimit }),
  };
}
