// Keys and values cross to the store as bytes; an encoding says how JavaScript values become
// bytes and back. One table, so keys, values and range bounds all convert the same way.
import { describeValue, rangeError, typeError } from '@dbos/platform';
import { addon } from './native.js';

/**
 * How keys or values are converted:
 * - `'utf8'` (the default for both): strings, stored as UTF-8, read back as strings. A
 *   `Uint8Array` is also accepted and stored as its bytes.
 * - `'binary'`: `Uint8Array` / `Buffer` stored as is, read back as `Buffer`. A string is accepted
 *   and stored as UTF-8.
 * - `'json'`: any value `JSON.stringify` accepts, read back with `JSON.parse`. Keys sort by their
 *   JSON text, bytewise.
 */
export type EncodingName = 'utf8' | 'binary' | 'json';

/** What `get` returns for each encoding. */
export interface Decoded {
  utf8: string;
  binary: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: JSON values are whatever was stored
  json: any;
}

/** What `put` accepts for each encoding. */
export interface Encodable {
  utf8: string | Uint8Array;
  binary: Uint8Array | string;
  json: unknown;
}

export const ENCODINGS: readonly EncodingName[] = ['utf8', 'binary', 'json'];

export interface Codec {
  readonly name: EncodingName;
  /** The native read returns a string (utf8 and json) rather than a Buffer. */
  readonly asString: boolean;
  /** Bytes for a key or value; TypeError DBOS_EINVAL for a value this encoding cannot take. */
  encode(value: unknown, what: string): Uint8Array;
  /** The JavaScript value of what the native read returned. */
  decode(raw: Buffer | string): unknown;
  /** The same from bytes sliced out of a cursor chunk. */
  decodeBytes(bytes: Buffer): unknown;
}

function bytesOrString(value: unknown, what: string, expected: string): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  throw typeError(`${what} must be ${expected} (got ${describeValue(value)})`);
}

const utf8: Codec = {
  name: 'utf8',
  asString: true,
  encode: (value, what) => bytesOrString(value, what, 'a string or a Uint8Array'),
  decode: (raw) => (typeof raw === 'string' ? raw : raw.toString('utf8')),
  decodeBytes: (bytes) => bytes.toString('utf8'),
};

const binary: Codec = {
  name: 'binary',
  asString: false,
  encode: (value, what) => bytesOrString(value, what, 'a Uint8Array or a string'),
  decode: (raw) => (typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw),
  decodeBytes: (bytes) => bytes,
};

const json: Codec = {
  name: 'json',
  asString: true,
  encode(value, what) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw Object.assign(typeError(`${what} cannot be encoded as JSON: ${(error as Error)?.message ?? describeValue(error)}`), {
        cause: error,
      });
    }
    if (typeof text !== 'string') throw typeError(`${what} cannot be encoded as JSON (got ${describeValue(value)})`);
    return Buffer.from(text, 'utf8');
  },
  decode: (raw) => JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')),
  decodeBytes: (bytes) => JSON.parse(bytes.toString('utf8')),
};

const CODECS: Readonly<Record<EncodingName, Codec>> = { utf8, binary, json };

export function codecOf(name: EncodingName): Codec {
  return CODECS[name];
}

/** A key's bytes: 1 to 1024 (DBOS_KV_KEY_MAX). Empty: TypeError DBOS_EINVAL; longer: RangeError DBOS_ERANGE. */
export function keyBytes(codec: Codec, key: unknown, what = 'key'): Uint8Array {
  const bytes = codec.encode(key, what);
  if (bytes.byteLength === 0) throw typeError(`${what} must not be empty`);
  if (bytes.byteLength > addon.keyMax) throw rangeError(`${what} is ${bytes.byteLength} bytes, more than ${addon.keyMax}`);
  return bytes;
}

/** A value's bytes: at most 512 MiB (DBOS_KV_VALUE_MAX), else RangeError DBOS_ERANGE. */
export function valueBytes(codec: Codec, value: unknown): Uint8Array {
  const bytes = codec.encode(value, 'value');
  if (bytes.byteLength > addon.valueMax) throw rangeError(`value is ${bytes.byteLength} bytes, more than ${addon.valueMax}`);
  return bytes;
}
