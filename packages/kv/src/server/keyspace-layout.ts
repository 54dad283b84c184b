// Where the keyspace keeps things in the store, byte by byte, and how a stored value begins.
//
//   server metadata   [0x00][name, ASCII]                              -> record (see Keyspace)
//   data              [0x01][generation u32][hash(key) u32][key]       -> header + payload
//   expiry index      [0x02][generation u32][expireAt ms u64][key]      -> empty
//
// All integers are big-endian, so the store's bytewise order is numeric order:
// - data entries of one generation sort by the key's 32-bit hash. SCAN's cursor is a position in
//   that order (hash + 1; 0 = start/end), an integer that needs no table and survives writes, and
//   RANDOMKEY can seek to a random hash.
// - expiry entries of one generation sort by expiry time, so the keys due now are a prefix.
// - FLUSHDB/FLUSHALL start a new generation: the old one is invisible at once and is deleted
//   afterwards (see Keyspace.flush).
//
// The value header: [format version = 1][type code][flags][expireAt ms u64, when flag 1 is set].
import { DbosError } from '@dbos/platform';

export const PREFIX_META = 0x00;
export const PREFIX_DATA = 0x01;
export const PREFIX_EXPIRY = 0x02;

/** The store's key limit (DBOS_KV_KEY_MAX). */
const STORE_KEY_BYTES_MAX = 1024;
const DATA_KEY_OVERHEAD = 1 + 4 + 4;
const EXPIRY_KEY_OVERHEAD = 1 + 4 + 8;
/** The longest Redis key this server stores: the expiry entry must fit the store's limit too. */
export const KEY_BYTES_MAX = STORE_KEY_BYTES_MAX - Math.max(DATA_KEY_OVERHEAD, EXPIRY_KEY_OVERHEAD);

/** The store's value limit (DBOS_KV_VALUE_MAX) less the longest header. */
const HEADER_BYTES_MAX = 3 + 8;
export const VALUE_BYTES_MAX = 512 * 1024 * 1024 - HEADER_BYTES_MAX;

const FORMAT_VERSION = 1;
const FLAG_EXPIRES = 1;

/** The kinds of value. Only strings today; the header's type byte leaves room for lists, sets, hashes… */
export type ValueType = 'string';
const TYPE_CODES: Readonly<Record<ValueType, number>> = { string: 0 };
const TYPE_NAMES: readonly ValueType[] = ['string'];

/** A value as the keyspace stores it. `expireAt`: absolute milliseconds since the epoch, or null (persistent). */
export interface StoredValue {
  readonly type: ValueType;
  readonly value: Buffer;
  readonly expireAt: number | null;
}

const TWO_32 = 2 ** 32;

/**
 * A 32-bit hash of a key: FNV-1a over the bytes, then MurmurHash3's finalizer so that nearby keys
 * ("key:1", "key:2") spread over the whole range (RANDOMKEY seeks to a random hash).
 */
export function hashKey(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ (key[i] as number), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function dataKey(generation: number, key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(DATA_KEY_OVERHEAD + key.length);
  out[0] = PREFIX_DATA;
  out.writeUInt32BE(generation, 1);
  out.writeUInt32BE(hashKey(key), 5);
  out.set(key, DATA_KEY_OVERHEAD);
  return out;
}

/** The first data key of `generation` whose hash is at least `hash` (0 ≤ hash ≤ 2^32; 2^32 = past the last). */
export function dataBound(generation: number, hash = 0): Buffer {
  if (hash >= TWO_32) return dataBound(generation + 1, 0);
  const out = Buffer.allocUnsafe(DATA_KEY_OVERHEAD);
  out[0] = PREFIX_DATA;
  out.writeUInt32BE(generation, 1);
  out.writeUInt32BE(hash, 5);
  return out;
}

/** The Redis key of a data key. */
export function keyOfData(stored: Buffer): Buffer {
  return stored.subarray(DATA_KEY_OVERHEAD);
}

/** The hash part of a data key. */
export function hashOfData(stored: Buffer): number {
  return stored.readUInt32BE(5);
}

function writeTime(out: Buffer, at: number, offset: number): void {
  // Times are whole milliseconds ≥ 0; above 2^53 a double is already rounded, and the split
  // below is deterministic, so the index entry always matches the header it was made from.
  const high = Math.floor(at / TWO_32);
  out.writeUInt32BE(high, offset);
  out.writeUInt32BE(at - high * TWO_32, offset + 4);
}

function readTime(from: Buffer, offset: number): number {
  return from.readUInt32BE(offset) * TWO_32 + from.readUInt32BE(offset + 4);
}

export function expiryKey(generation: number, at: number, key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(EXPIRY_KEY_OVERHEAD + key.length);
  out[0] = PREFIX_EXPIRY;
  out.writeUInt32BE(generation, 1);
  writeTime(out, at, 5);
  out.set(key, EXPIRY_KEY_OVERHEAD);
  return out;
}

/** The first expiry key of `generation` due at `at` or later. */
export function expiryBound(generation: number, at = 0): Buffer {
  const out = Buffer.allocUnsafe(EXPIRY_KEY_OVERHEAD);
  out[0] = PREFIX_EXPIRY;
  out.writeUInt32BE(generation, 1);
  writeTime(out, at, 5);
  return out;
}

/** The time and the Redis key of an expiry key. */
export function parseExpiryKey(stored: Buffer): { at: number; key: Buffer } {
  return { at: readTime(stored, 5), key: stored.subarray(EXPIRY_KEY_OVERHEAD) };
}

/** The start of a prefix's whole range for a generation (`generation` may be 2^32 for "past every generation"). */
export function prefixBound(prefix: number, generation: number): Buffer {
  const out = Buffer.alloc(5);
  out[0] = prefix;
  if (generation >= TWO_32) {
    out[0] = prefix + 1;
    return out;
  }
  out.writeUInt32BE(generation, 1);
  return out;
}

export function metaKey(name: string): Buffer {
  return Buffer.concat([Buffer.of(PREFIX_META), Buffer.from(name, 'latin1')]);
}

export function encodeValue(stored: StoredValue): Buffer {
  const headerBytes = stored.expireAt === null ? 3 : 11;
  const out = Buffer.allocUnsafe(headerBytes + stored.value.length);
  out[0] = FORMAT_VERSION;
  out[1] = TYPE_CODES[stored.type];
  out[2] = stored.expireAt === null ? 0 : FLAG_EXPIRES;
  if (stored.expireAt !== null) writeTime(out, stored.expireAt, 3);
  out.set(stored.value, headerBytes);
  return out;
}

/** The expiry time in a stored value's header, without looking at the rest. */
export function expiryOfEncoded(raw: Buffer): number | null {
  return (checkHeader(raw) & FLAG_EXPIRES) === 0 ? null : readTime(raw, 3);
}

export function decodeValue(raw: Buffer): StoredValue {
  const flags = checkHeader(raw);
  const code = raw[1] as number;
  const type = TYPE_NAMES[code];
  if (type === undefined) throw new DbosError('DBOS_ECORRUPT', `a stored value has the unknown type code ${code}`);
  if ((flags & FLAG_EXPIRES) === 0) return { type, value: raw.subarray(3), expireAt: null };
  return { type, value: raw.subarray(11), expireAt: readTime(raw, 3) };
}

/** Check the version and length of a header; returns its flags. */
function checkHeader(raw: Buffer): number {
  if (raw.length < 3 || raw[0] !== FORMAT_VERSION) {
    throw new DbosError('DBOS_ECORRUPT', `a stored value has an unknown format (version byte ${raw[0]}, ${raw.length} bytes)`);
  }
  const flags = raw[2] as number;
  if ((flags & FLAG_EXPIRES) !== 0 && raw.length < 11) {
    throw new DbosError('DBOS_ECORRUPT', `a stored value's header is cut short (${raw.length} bytes)`);
  }
  return flags;
}
