// Reads an RDB file record by record. Only string values are understood (the server holds
// strings only); any other value type is refused with an error naming the type and the key.
// Every declared length is checked against the bytes left before anything is allocated, so a
// corrupt or hostile file ends in a DBOS_ECORRUPT error, never in a crash, a hang or a huge
// allocation. The CRC64 is checked at the end: a caller that must not act on a damaged file
// reads it through once (see `verifyRdb`) before acting on its records.
import { DbosError } from '@dbos/platform';
import { Crc64 } from './crc64.js';
import {
  ENCODING_INT8,
  ENCODING_INT16,
  ENCODING_INT32,
  ENCODING_LZF,
  LENGTH_32BIT_BYTE,
  LENGTH_64BIT_BYTE,
  LENGTH_6BIT,
  LENGTH_14BIT,
  LENGTH_WIDE,
  OPCODE,
  OTHER_VALUE_TYPES,
  RDB_MAGIC,
  RDB_VERSION_FIRST_CHECKSUM,
  RDB_VERSION_MAX_READ,
  STRING_BYTES_MAX,
  TYPE_STRING,
} from './format.js';
import type { RdbInput } from './input.js';
import { lzfDecompress } from './lzf.js';

export type RdbRecord =
  | { readonly kind: 'aux'; readonly name: string; readonly value: Buffer }
  | { readonly kind: 'database'; readonly index: number }
  | { readonly kind: 'resize'; readonly keyCount: number; readonly expiringCount: number }
  | {
      readonly kind: 'string';
      readonly database: number;
      readonly key: Buffer;
      readonly value: Buffer;
      readonly expireAt: number | null;
    };

export interface RdbSummary {
  readonly version: number;
  /** The checksum the file carries and that was verified; null when it has none (version < 5, or written with rdbchecksum no). */
  readonly checksum: bigint | null;
  readonly bytes: number;
}

const WINDOW_BYTES = 1 << 20;
/** One LZF back reference of 3 bytes makes at most 264: a larger plain length than 88 × the block is a lie. */
const LZF_EXPANSION_MAX = 88;
const TEXT = new TextDecoder();

/** Read every record of `input` (named `name` in errors). The generator's return value says what was verified. */
export function* readRdb(input: RdbInput, name: string): Generator<RdbRecord, RdbSummary> {
  const bytes = new ByteReader(input, name);
  const version = readPreamble(bytes);
  let database = 0;
  let expireAt: number | null = null;
  for (;;) {
    const opcodeAt = bytes.offset;
    const opcode = bytes.byte();
    if (opcode === TYPE_STRING) {
      const key = bytes.string();
      const value = bytes.string();
      yield { kind: 'string', database, key, value, expireAt };
      expireAt = null;
      continue;
    }
    if (opcode === OPCODE.IDLE) {
      bytes.length(); // LRU idle time: eviction metadata the server does not keep.
      continue;
    }
    if (opcode === OPCODE.FREQ) {
      bytes.byte(); // LFU counter, likewise.
      continue;
    }
    if (opcode === OPCODE.EXPIRETIME_MS || opcode === OPCODE.EXPIRETIME) {
      if (expireAt !== null) throw bytes.corrupt('two expiry times in a row', opcodeAt);
      expireAt = opcode === OPCODE.EXPIRETIME_MS ? bytes.int64LE() : bytes.int32LE() * 1000;
      continue;
    }
    if (OTHER_VALUE_TYPES.has(opcode)) throw unsupportedType(bytes, opcode, name);
    if (expireAt !== null) throw bytes.corrupt('an expiry time is not followed by a key', opcodeAt);
    switch (opcode) {
      case OPCODE.AUX: {
        const auxName = TEXT.decode(bytes.string());
        yield { kind: 'aux', name: auxName, value: bytes.string() };
        break;
      }
      case OPCODE.SELECTDB:
        database = bytes.length();
        yield { kind: 'database', index: database };
        break;
      case OPCODE.RESIZEDB: {
        const keyCount = bytes.length();
        yield { kind: 'resize', keyCount, expiringCount: bytes.length() };
        break;
      }
      case OPCODE.MODULE_AUX:
        throw new DbosError('DBOS_ENOTSUP', `${name} holds module data (RDB opcode 0xf7); the server loads no Redis modules`);
      case OPCODE.FUNCTION2:
      case OPCODE.FUNCTION_PRE_GA:
        throw new DbosError('DBOS_ENOTSUP', `${name} holds Redis functions (FUNCTION LOAD libraries); the server runs no functions`);
      case OPCODE.EOF:
        return finish(bytes, version);
      default:
        throw bytes.corrupt(`unknown record type 0x${opcode.toString(16).padStart(2, '0')}`, opcodeAt);
    }
  }
}

/** Read `input` to the end, checking its structure and checksum; returns the summary and the string key count. */
export function verifyRdb(input: RdbInput, name: string): RdbSummary & { readonly stringCount: number } {
  const records = readRdb(input, name);
  let stringCount = 0;
  for (;;) {
    const step = records.next();
    if (step.done === true) return { ...step.value, stringCount };
    if (step.value.kind === 'string') stringCount++;
  }
}

function readPreamble(bytes: ByteReader): number {
  const preamble = bytes.take(9);
  if (preamble.toString('latin1', 0, 5) !== RDB_MAGIC) throw bytes.corrupt('not an RDB file (it does not start with "REDIS")', 0);
  const digits = preamble.toString('latin1', 5, 9);
  if (!/^[0-9]{4}$/.test(digits)) throw bytes.corrupt(`the version "${digits}" is not four digits`, 5);
  const version = Number(digits);
  if (version < 1 || version > RDB_VERSION_MAX_READ) {
    throw new DbosError(
      'DBOS_ENOTSUP',
      `${bytes.name} is RDB version ${version}; this reader understands versions 1 to ${RDB_VERSION_MAX_READ}`,
    );
  }
  return version;
}

function finish(bytes: ByteReader, version: number): RdbSummary {
  let checksum: bigint | null = null;
  if (version >= RDB_VERSION_FIRST_CHECKSUM) {
    const computed = bytes.checksum();
    const storedAt = bytes.offset;
    const stored = bytes.take(8).readBigUInt64LE(0);
    // Zero means the writer had rdbchecksum off.
    if (stored !== 0n) {
      if (stored !== computed) {
        throw bytes.corrupt(`the checksum is ${hex(stored)} but the content's CRC64 is ${hex(computed)}`, storedAt);
      }
      checksum = stored;
    }
  }
  if (bytes.offset !== bytes.size) throw bytes.corrupt(`${bytes.size - bytes.offset} bytes follow the end of the RDB data`, bytes.offset);
  return { version, checksum, bytes: bytes.size };
}

function unsupportedType(bytes: ByteReader, type: number, name: string): DbosError {
  let key = '';
  try {
    key = ` at key ${describeKey(bytes.string())}`;
  } catch {
    // The type is the news; a key we cannot read adds nothing.
  }
  const what = OTHER_VALUE_TYPES.get(type);
  return new DbosError('DBOS_ENOTSUP', `${name} holds a ${what} (RDB value type ${type})${key}; the server stores strings only`);
}

/** A key for an error message: printable ASCII as is, other bytes escaped, long keys cut. */
export function describeKey(key: Uint8Array): string {
  let text = '';
  for (const byte of key.subarray(0, 64)) {
    text +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x27
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `'${text}'${key.length > 64 ? `… (${key.length} bytes)` : ''}`;
}

function hex(value: bigint): string {
  return `0x${value.toString(16).padStart(16, '0')}`;
}

/** Sequential reads through a window over the input, checksumming every byte consumed. */
class ByteReader {
  readonly name: string;
  readonly size: number;
  readonly #input: RdbInput;
  readonly #crc = new Crc64();
  #window: Buffer;
  /** Input position of window[0]; the window holds [0, #filled), consumed up to #at, checksummed up to #crcAt. */
  #base = 0;
  #filled = 0;
  #at = 0;
  #crcAt = 0;

  constructor(input: RdbInput, name: string) {
    this.#input = input;
    this.name = name;
    this.size = input.size;
    // No bigger than the input: every read fits the window after compaction (reads are bounded by what is left).
    this.#window = Buffer.allocUnsafe(Math.min(WINDOW_BYTES, input.size));
  }

  get offset(): number {
    return this.#base + this.#at;
  }

  corrupt(detail: string, at: number = this.offset): DbosError {
    return new DbosError('DBOS_ECORRUPT', `${this.name} is corrupt: ${detail} (at byte ${at} of ${this.size})`);
  }

  #truncated(needed: number): DbosError {
    return new DbosError(
      'DBOS_ECORRUPT',
      `${this.name} is truncated: a record at byte ${this.offset} needs ${needed} more bytes but the file has ${this.size - this.offset} left`,
    );
  }

  /** Make `count` bytes (at most half the window) available from #at. */
  #fill(count: number): void {
    if (this.#at + count <= this.#filled) return;
    if (this.offset + count > this.size) throw this.#truncated(count);
    this.#crc.update(this.#window, this.#crcAt, this.#at);
    this.#window.copyWithin(0, this.#at, this.#filled);
    this.#base += this.#at;
    this.#filled -= this.#at;
    this.#at = 0;
    this.#crcAt = 0;
    const wanted = Math.min(this.#window.length, this.size - this.#base) - this.#filled;
    const got = this.#input.readAt(this.#window, this.#filled, wanted, this.#base + this.#filled);
    this.#filled += got;
    if (this.#filled < count) throw this.#truncated(count);
  }

  byte(): number {
    this.#fill(1);
    return this.#window[this.#at++] as number;
  }

  /** `count` bytes, copied out of the window (the caller may keep them). */
  take(count: number): Buffer {
    if (this.offset + count > this.size) throw this.#truncated(count);
    if (count <= WINDOW_BYTES >> 1) {
      this.#fill(count);
      const copy = Buffer.from(this.#window.subarray(this.#at, this.#at + count));
      this.#at += count;
      return copy;
    }
    // Large: what the window holds, then the rest read straight into the result.
    this.#crc.update(this.#window, this.#crcAt, this.#at);
    const result = Buffer.allocUnsafe(count);
    const buffered = Math.min(count, this.#filled - this.#at);
    this.#window.copy(result, 0, this.#at, this.#at + buffered);
    this.#crc.update(result, 0, buffered);
    this.#at += buffered;
    this.#crcAt = this.#at;
    if (buffered === count) return result;
    const position = this.#base + this.#filled;
    const got = this.#input.readAt(result, buffered, count - buffered, position);
    if (got !== count - buffered) throw this.#truncated(count);
    this.#crc.update(result, buffered, count);
    this.#base = position + got;
    this.#filled = 0;
    this.#at = 0;
    this.#crcAt = 0;
    return result;
  }

  int32LE(): number {
    this.#fill(4);
    const value = this.#window.readInt32LE(this.#at);
    this.#at += 4;
    return value;
  }

  int64LE(): number {
    const at = this.offset;
    this.#fill(8);
    const value = this.#window.readBigInt64LE(this.#at);
    this.#at += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER))
      throw this.corrupt(`the expiry time ${value} ms is out of range`, at);
    return Number(value);
  }

  /** The CRC64 of every byte consumed so far. */
  checksum(): bigint {
    this.#crc.update(this.#window, this.#crcAt, this.#at);
    this.#crcAt = this.#at;
    return this.#crc.value();
  }

  /** A length, or `{ special }` when the first byte announces a string encoding instead. */
  #lengthOrSpecial(): number | { readonly special: number } {
    const at = this.offset;
    const first = this.byte();
    switch (first >> 6) {
      case LENGTH_6BIT:
        return first & 0x3f;
      case LENGTH_14BIT:
        return ((first & 0x3f) << 8) | this.byte();
      case LENGTH_WIDE: {
        if (first === LENGTH_32BIT_BYTE) {
          this.#fill(4);
          const value = this.#window.readUInt32BE(this.#at);
          this.#at += 4;
          return value;
        }
        if (first === LENGTH_64BIT_BYTE) {
          this.#fill(8);
          const value = this.#window.readBigUInt64BE(this.#at);
          this.#at += 8;
          if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`a length of ${value} is out of range`, at);
          return Number(value);
        }
        throw this.corrupt(`0x${first.toString(16)} is not a length`, at);
      }
      default:
        // LENGTH_SPECIAL, the only two-bit value left.
        return { special: first & 0x3f };
    }
  }

  length(): number {
    const at = this.offset;
    const value = this.#lengthOrSpecial();
    if (typeof value !== 'number') throw this.corrupt('a string encoding where a length belongs', at);
    return value;
  }

  /** A string in any of its encodings: raw, 8/16/32-bit integer (returned as its decimal text) or LZF. */
  string(): Buffer {
    const at = this.offset;
    const header = this.#lengthOrSpecial();
    if (typeof header === 'number') {
      if (header > STRING_BYTES_MAX) throw this.corrupt(`a string of ${header} bytes is longer than 512 MiB`, at);
      return this.take(header);
    }
    switch (header.special) {
      case ENCODING_INT8:
        this.#fill(1);
        return Buffer.from(String(this.#window.readInt8(this.#at++)));
      case ENCODING_INT16: {
        this.#fill(2);
        const value = this.#window.readInt16LE(this.#at);
        this.#at += 2;
        return Buffer.from(String(value));
      }
      case ENCODING_INT32:
        return Buffer.from(String(this.int32LE()));
      case ENCODING_LZF:
        return this.#lzfString(at);
      default:
        throw this.corrupt(`unknown string encoding ${header.special}`, at);
    }
  }

  #lzfString(at: number): Buffer {
    const packedLength = this.length();
    const plainLength = this.length();
    if (plainLength > STRING_BYTES_MAX) throw this.corrupt(`a compressed string of ${plainLength} bytes is longer than 512 MiB`, at);
    if (packedLength === 0 || plainLength > packedLength * LZF_EXPANSION_MAX) {
      throw this.corrupt(`an LZF block of ${packedLength} bytes cannot hold ${plainLength} bytes`, at);
    }
    const packed = this.take(packedLength);
    try {
      return lzfDecompress(packed, plainLength);
    } catch (error) {
      throw this.corrupt(`${(error as Error).message} in the string`, at);
    }
  }
}
