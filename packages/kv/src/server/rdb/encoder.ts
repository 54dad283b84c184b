// Turns records into RDB bytes, chunk by chunk: the encoder fills a buffer and hands each full one
// to `emit` (which owns it from then on), keeping the running CRC64 of everything emitted. It
// never holds more than one chunk, so an image of any size streams through a fixed amount of
// memory; the caller decides between chunks whether to wait for the disk or yield to clients.
import { Crc64 } from './crc64.js';
import {
  ENCODING_INT8,
  ENCODING_INT16,
  ENCODING_INT32,
  ENCODING_LZF,
  LENGTH_32BIT_BYTE,
  LENGTH_64BIT_BYTE,
  OPCODE,
  RDB_MAGIC,
  RDB_VERSION_WRITTEN,
  TYPE_STRING,
} from './format.js';
import { lzfCompress } from './lzf.js';

/**
 * One key as the writer sees it; `expireAt` is a Unix time in milliseconds, or null. `type`, when
 * given, must be 'string' (the keyspace's entries carry it; a new value type must not reach this
 * writer unnoticed, so widening the keyspace's type breaks the build here).
 */
export interface RdbEntry {
  readonly type?: 'string';
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly expireAt: number | null;
}

/** AUX fields in the order they are written; numbers are written as Redis writes them (integer-encoded). */
export type RdbAux = readonly (readonly [string, string | number])[];

export interface RdbEncoderOptions {
  /** LZF-compress strings longer than 20 bytes when that saves space, as Redis's rdbcompression. Default false: a save is bound by CPU here, not by disk. */
  readonly compress?: boolean;
  /** Bytes per emitted chunk. Default 1 MiB. */
  readonly chunkBytes?: number;
}

const CHUNK_BYTES_DEFAULT = 1 << 20;
/** Redis compresses only strings longer than this. */
const COMPRESS_BYTES_MIN = 20;
/** Widest record header: type, a 9-byte length and an expiry opcode with 8 bytes. */
const HEADER_BYTES_MAX = 32;
/** Decimal digits of the longest 32-bit integer with its sign ("-2147483648"). */
const INTEGER_TEXT_BYTES_MAX = 11;
const TEXT = new TextEncoder();

export class RdbEncoder {
  readonly #emit: (chunk: Buffer) => void;
  readonly #compress: boolean;
  readonly #chunkBytes: number;
  readonly #crc = new Crc64();
  #chunk: Buffer;
  #used = 0;
  #emittedBytes = 0;
  #ended = false;

  constructor(emit: (chunk: Buffer) => void, options: RdbEncoderOptions = {}) {
    this.#emit = emit;
    this.#compress = options.compress ?? false;
    this.#chunkBytes = Math.max(4096, options.chunkBytes ?? CHUNK_BYTES_DEFAULT);
    this.#chunk = Buffer.allocUnsafe(this.#chunkBytes);
  }

  /** Bytes handed to `emit` so far (the file's size once `end` returned). */
  get emittedBytes(): number {
    return this.#emittedBytes;
  }

  /** "REDIS0010" and the AUX fields. */
  header(aux: RdbAux): void {
    this.#raw(TEXT.encode(`${RDB_MAGIC}${String(RDB_VERSION_WRITTEN).padStart(4, '0')}`));
    for (const [name, value] of aux) {
      this.#byte(OPCODE.AUX);
      this.#string(TEXT.encode(name));
      this.#string(TEXT.encode(String(value)));
    }
  }

  /** SELECTDB and RESIZEDB: the counts only size the loader's hash tables, so an estimate is fine. */
  database(index: number, keyCount: number, expiringCount: number): void {
    this.#byte(OPCODE.SELECTDB);
    this.#length(index);
    this.#byte(OPCODE.RESIZEDB);
    this.#length(keyCount);
    this.#length(expiringCount);
  }

  entry(entry: RdbEntry): void {
    this.#room(HEADER_BYTES_MAX);
    if (entry.expireAt !== null) {
      this.#byte(OPCODE.EXPIRETIME_MS);
      this.#chunk.writeBigInt64LE(BigInt(entry.expireAt), this.#used);
      this.#used += 8;
    }
    this.#byte(TYPE_STRING);
    this.#string(entry.key);
    this.#string(entry.value);
  }

  /** EOF and the checksum, then the last chunk goes out. No call is allowed after this. */
  end(): void {
    this.#byte(OPCODE.EOF);
    this.#flush();
    const checksum = Buffer.allocUnsafe(8);
    this.#crc.writeLE(checksum, 0);
    this.#ended = true;
    this.#emitChunk(checksum, false);
  }

  #room(bytes: number): void {
    if (this.#ended) throw new Error('RdbEncoder: write after end()');
    if (this.#used + bytes > this.#chunk.length) this.#flush();
  }

  #flush(): void {
    if (this.#used === 0) return;
    const full = this.#chunk.subarray(0, this.#used);
    this.#chunk = Buffer.allocUnsafe(this.#chunkBytes);
    this.#used = 0;
    this.#emitChunk(full, true);
  }

  #emitChunk(bytes: Buffer, checksummed: boolean): void {
    if (checksummed) this.#crc.update(bytes);
    this.#emittedBytes += bytes.length;
    this.#emit(bytes);
  }

  #byte(value: number): void {
    this.#room(1);
    this.#chunk[this.#used++] = value;
  }

  #raw(bytes: Uint8Array): void {
    // A string of half a chunk or more goes out as its own chunk instead of being copied.
    if (bytes.length >= this.#chunkBytes >> 1) {
      this.#flush();
      this.#emitChunk(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), true);
      return;
    }
    this.#room(bytes.length);
    this.#chunk.set(bytes, this.#used);
    this.#used += bytes.length;
  }

  /** A length in the 1, 2, 5 or 9 byte form (see format.ts). */
  #length(value: number): void {
    this.#room(9);
    const chunk = this.#chunk;
    if (value < 1 << 6) {
      chunk[this.#used++] = value;
    } else if (value < 1 << 14) {
      chunk[this.#used++] = 0x40 | (value >> 8);
      chunk[this.#used++] = value & 0xff;
    } else if (value <= 0xffffffff) {
      chunk[this.#used++] = LENGTH_32BIT_BYTE;
      chunk.writeUInt32BE(value, this.#used);
      this.#used += 4;
    } else {
      chunk[this.#used++] = LENGTH_64BIT_BYTE;
      chunk.writeBigUInt64BE(BigInt(value), this.#used);
      this.#used += 8;
    }
  }

  /** A string: integer-encoded when it is the canonical text of a 32-bit integer, else LZF (if enabled and smaller), else raw. */
  #string(bytes: Uint8Array): void {
    const integer = canonicalInt32(bytes);
    if (integer !== null) {
      this.#room(5);
      const chunk = this.#chunk;
      if (integer >= -128 && integer <= 127) {
        chunk[this.#used++] = 0xc0 | ENCODING_INT8;
        chunk.writeInt8(integer, this.#used);
        this.#used += 1;
      } else if (integer >= -32768 && integer <= 32767) {
        chunk[this.#used++] = 0xc0 | ENCODING_INT16;
        chunk.writeInt16LE(integer, this.#used);
        this.#used += 2;
      } else {
        chunk[this.#used++] = 0xc0 | ENCODING_INT32;
        chunk.writeInt32LE(integer, this.#used);
        this.#used += 4;
      }
      return;
    }
    if (this.#compress && bytes.length > COMPRESS_BYTES_MIN) {
      // Worth it only if the block and its two lengths take fewer bytes than the raw string would.
      const packed = lzfCompress(bytes, bytes.length - 4);
      if (packed !== null) {
        this.#byte(0xc0 | ENCODING_LZF);
        this.#length(packed.length);
        this.#length(bytes.length);
        this.#raw(packed);
        return;
      }
    }
    this.#length(bytes.length);
    this.#raw(bytes);
  }
}

/**
 * The value of `bytes` if they are exactly how a 32-bit integer prints ("-12", not "012", "+1"
 * or "-0"), else null: only then does the integer encoding give the same bytes back.
 */
export function canonicalInt32(bytes: Uint8Array): number | null {
  const length = bytes.length;
  if (length === 0 || length > INTEGER_TEXT_BYTES_MAX) return null;
  const negative = bytes[0] === 0x2d;
  let at = negative ? 1 : 0;
  if (at === length) return null;
  // A leading zero is canonical only as the whole number "0".
  if (bytes[at] === 0x30 && (length > at + 1 || negative)) return null;
  let value = 0;
  for (; at < length; at++) {
    const digit = (bytes[at] as number) - 0x30;
    if (digit < 0 || digit > 9) return null;
    value = value * 10 + digit;
  }
  if (negative) value = -value;
  return value >= -2147483648 && value <= 2147483647 ? value : null;
}
