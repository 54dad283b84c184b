// Errors with stable codes. Messages may improve between versions; codes never change.
//
// Every @dbos package turns native errors into JavaScript errors here, in fromNative(): the
// bindings (dbos/binding.h) throw plain errors carrying a `code`, and this is the one place that
// decides which class a user catches.

/** Codes of the C status enum (dbos/status.h), in enum order. */
export const STATUS_CODES = [
  'DBOS_OK',
  'DBOS_EINVAL',
  'DBOS_ERANGE',
  'DBOS_ENOMEM',
  'DBOS_ENOTSUP',
  'DBOS_EBUSY',
  'DBOS_ECLOSED',
  'DBOS_EIO',
  'DBOS_ETIMEDOUT',
  'DBOS_EAGAIN',
  'DBOS_ECORRUPT',
  'DBOS_ENOENT',
  'DBOS_EEXIST',
  'DBOS_EPERM',
  'DBOS_EFAULT',
  'DBOS_ELIMIT',
  'DBOS_EGUEST',
  'DBOS_ENOSPC',
  'DBOS_ELOCKED',
  'DBOS_ECANCELED',
] as const;

export type DbosStatusCode = (typeof STATUS_CODES)[number];

/** An operating error from dbos: `code` is stable (`DBOS_E…` or an errno name such as `ENOENT`). */
export class DbosError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DbosError';
    this.code = code;
  }
}

const CODE = /^(DBOS_E[A-Z]+|E[A-Z0-9]+)$/;

/**
 * A short description of any value for an error message. Never throws: hostile values (a
 * detached typed array, a Proxy whose traps throw, a Symbol) are described by their type.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 64 ? `'${value.slice(0, 61)}...'` : `'${value}'`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean' || value === undefined || value === null) {
    return typeof value === 'bigint' ? `${value}n` : String(value);
  }
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'function') return 'a function';
  try {
    if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${value.byteLength} bytes`;
    return Array.isArray(value) ? 'an array' : 'an object';
  } catch {
    return 'an object';
  }
}

function messageText(message: unknown): string {
  return typeof message === 'string' ? message : describeValue(message);
}

/** A misuse of the API (wrong type): a `TypeError` carrying `code`. */
export function typeError(message: string, code: DbosStatusCode = 'DBOS_EINVAL'): TypeError {
  return Object.assign(new TypeError(messageText(message)), { code: typeof code === 'string' && CODE.test(code) ? code : 'DBOS_EINVAL' });
}

/** An argument outside its allowed range: a `RangeError` carrying `code`. */
export function rangeError(message: string, code: DbosStatusCode = 'DBOS_ERANGE'): RangeError {
  return Object.assign(new RangeError(messageText(message)), { code: typeof code === 'string' && CODE.test(code) ? code : 'DBOS_ERANGE' });
}

/** True for errors thrown by dbos (native or TypeScript) that carry a `code`. */
export function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/** Builds the error a package throws for one native code instead of a plain DbosError. */
export type NativeErrorUpgrade = (error: DbosError, native: Error) => DbosError;

const upgrades = new Map<string, NativeErrorUpgrade>();

/**
 * Let errors with `code` become a subclass of DbosError (e.g. `GuestError` for DBOS_EGUEST,
 * which carries the failed guest's registers). One upgrade per code: a later registration
 * replaces an earlier one (a second copy of a package loaded in the same process registers too).
 */
export function registerNativeError(code: string, upgrade: NativeErrorUpgrade): void {
  if (typeof code !== 'string' || !CODE.test(code)) throw typeError(`code must be a DBOS_E… or errno name, not ${describeValue(code)}`);
  if (typeof upgrade !== 'function') throw typeError('upgrade must be a function');
  upgrades.set(code, upgrade);
}

/**
 * The JavaScript error for an error thrown by a dbos addon:
 * - `TypeError` and `RangeError` (argument misuse) stay as they are, with their code;
 * - code `DBOS_ERANGE` becomes a `RangeError` with that code;
 * - any other `DBOS_E…` or errno code becomes a `DbosError` (or its registered subclass);
 * - an error without a code (a bug, not an operating error) passes through unchanged.
 * `context` is prefixed to the message ("snapshot: …"). The native error is kept as `cause`.
 */
export function fromNative(error: unknown, context?: string): unknown {
  if (!(error instanceof Error) || error instanceof DbosError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  if (error instanceof TypeError || error instanceof RangeError) return error;
  const message = context ? `${messageText(context)}: ${error.message}` : error.message;
  if (code === 'DBOS_ERANGE') return Object.assign(new RangeError(message, { cause: error }), { code });
  const converted = new DbosError(code, message, { cause: error });
  const upgrade = upgrades.get(code);
  return upgrade ? upgrade(converted, error) : converted;
}

/** Run one native call and convert what it throws with {@link fromNative}. */
export function callNative<T>(call: () => T, context?: string): T {
  if (typeof call !== 'function') throw typeError('callNative needs a function');
  try {
    return call();
  } catch (error) {
    throw fromNative(error, context);
  }
}

/** A native promise whose rejection is converted with {@link fromNative}. */
export function settleNative<T>(promise: Promise<T>, context?: string): Promise<T> {
  if (!(promise instanceof Promise)) throw typeError('settleNative needs a Promise');
  return promise.catch((error: unknown) => {
    throw fromNative(error, context);
  });
}
