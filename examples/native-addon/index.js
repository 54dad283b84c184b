// The interner's JavaScript API: argument checks and encodings here, one native call per method.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
// node-gyp-build loads prebuilds/<platform>/… (pnpm build:native) or build/Release (node-gyp).
const addon = require('node-gyp-build')(fileURLToPath(new URL('.', import.meta.url)));

const DEFAULT_LIMIT_BYTES = 64 << 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function invalid(message) {
  return Object.assign(new TypeError(message), { code: 'DBOS_EINVAL' });
}

/** A string as UTF-8 bytes, a Uint8Array as is; anything else is a TypeError (DBOS_EINVAL). */
function toBytes(value) {
  if (typeof value === 'string') return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  throw invalid(`expected a string or a Uint8Array, got ${value === null ? 'null' : typeof value}`);
}

/** The longest string one entry holds, bytes (from the C header). */
export const LENGTH_MAX = addon.lengthMax;

export class Interner {
  #native;

  /** `limitBytes`: the pool's hard limit (≥ 2 MiB; default 64 MiB). Every byte the interner holds is in it. */
  constructor({ limitBytes = DEFAULT_LIMIT_BYTES } = {}) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes < 0) throw invalid('limitBytes must be a non-negative integer');
    this.#native = new addon.NativeInterner(limitBytes);
  }

  /** The id of `value` (a string or bytes), adding it when new. DBOS_ENOMEM when the pool is full (nothing added). */
  intern(value) {
    return this.#native.intern(toBytes(value))[0];
  }

  /** The id of `value` if it was interned, else undefined. */
  find(value) {
    const id = this.#native.find(toBytes(value));
    return id < 0 ? undefined : id;
  }

  /** The bytes of `id` (a copy), or undefined for an id never handed out. */
  bytes(id) {
    if (!Number.isSafeInteger(id) || id < 0) throw invalid('an id is a non-negative integer');
    return this.#native.get(id);
  }

  /** The string of `id` (its bytes as UTF-8), or undefined. */
  string(id) {
    const bytes = this.bytes(id);
    return bytes === undefined ? undefined : decoder.decode(bytes);
  }

  /** Distinct values interned. */
  get size() {
    return this.#native.count();
  }

  /** The pool's limit, the bytes the interner holds in it, and the pool's resident memory. */
  stats() {
    return this.#native.poolStats();
  }

  /** Free the interner and its pool (idempotent); any later call throws DBOS_ECLOSED. */
  close() {
    this.#native.close();
  }
}
