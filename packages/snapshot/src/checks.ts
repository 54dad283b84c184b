// Argument checks shared by every public function: each refuses a wrong type with a TypeError
// (DBOS_EINVAL) and a value out of range with a RangeError (DBOS_ERANGE), before any native call,
// so the binding only ever sees the exact shape it expects (and checks it again).
import os from 'node:os';
import { DbosError, describeValue, rangeError, typeError } from '@dbos/platform';

/** A non-negative integer up to `max` (a safe integer by default). */
export function checkInteger(value: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer, not ${describeValue(value)}`);
  if (value < 0 || value > max) throw rangeError(`${name} must be between 0 and ${max}, not ${value}`);
  return value;
}

/** `fallback` when omitted, else a real boolean (a truthy string is a mistake, not `true`). */
export function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(`${name} must be a boolean, not ${describeValue(value)}`);
  return value;
}

/** An options argument: omitted (`{}`), or an object whose fields are read once each. */
export function checkOptions<T extends object>(value: unknown, name = 'options'): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw typeError(`${name} must be an object, not ${describeValue(value)}`);
  return value as Partial<T>;
}

/**
 * A file path for open(2): a string without NUL bytes (Node's own open refuses one with a code that
 * is not ours).
 */
export function checkPath(value: unknown, name = 'path'): string {
  if (typeof value !== 'string') throw typeError(`${name} must be a string, not ${describeValue(value)}`);
  if (value.includes('\0')) throw typeError(`${name} must not contain NUL bytes`);
  return value;
}

/** A Uint8Array (or Buffer) caller memory is read from or written to. */
export function checkBytes(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw typeError(`${name} must be a Uint8Array, not ${describeValue(value)}`);
  return value;
}

/**
 * A new buffer of `length` bytes: DBOS_ENOMEM when it is more than this machine's memory (the
 * allocation could succeed lazily and the read then fault in more than there is) or when one
 * buffer cannot hold that much (the engine's own RangeError). The caller can pass a target of its
 * own, or read in parts.
 */
export function allocateBytes(length: number, context: string): Uint8Array {
  if (length > os.totalmem()) {
    throw new DbosError('DBOS_ENOMEM', `${context}: ${length} bytes is more than this machine's memory (pass a target, or read in parts)`);
  }
  try {
    return new Uint8Array(length);
  } catch (error) {
    throw new DbosError('DBOS_ENOMEM', `${context}: cannot allocate ${length} bytes (pass a target, or read in parts)`, { cause: error });
  }
}
