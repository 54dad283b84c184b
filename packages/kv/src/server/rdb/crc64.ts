// CRC-64/Jones, the checksum Redis puts after an RDB file's EOF opcode (and after DUMP payloads):
// polynomial 0xad93d23594c935a9, bits reflected in and out, initial value 0, no final xor.
// The check value of the ASCII bytes "123456789" is 0xe9c6d914c4b8d9ca.
//
// JavaScript has no fast 64-bit integer, so the register is two 32-bit halves, and the loop eats
// eight bytes a step through eight tables (slice-by-8): a save checksums every byte it writes, and
// a byte-at-a-time loop would cost more than the write itself.

const POLYNOMIAL = 0xad93d23594c935a9n;

/** The polynomial with its 64 bits in reverse order: the reflected algorithm shifts right. */
function reversed64(value: bigint): bigint {
  let result = 0n;
  for (let bit = 0n; bit < 64n; bit++) if ((value >> bit) & 1n) result |= 1n << (63n - bit);
  return result;
}

const SLICES = 8;
/** TABLE_LO[k * 256 + b], TABLE_HI[…]: the register after feeding byte b followed by k zero bytes. */
const TABLE_LO = new Uint32Array(SLICES * 256);
const TABLE_HI = new Uint32Array(SLICES * 256);

(function buildTables(): void {
  const reflected = reversed64(POLYNOMIAL);
  const polyLo = Number(reflected & 0xffffffffn) >>> 0;
  const polyHi = Number(reflected >> 32n) >>> 0;
  for (let byte = 0; byte < 256; byte++) {
    let lo = byte;
    let hi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | (hi << 31)) >>> 0;
      hi >>>= 1;
      if (carry) {
        lo = (lo ^ polyLo) >>> 0;
        hi = (hi ^ polyHi) >>> 0;
      }
    }
    TABLE_LO[byte] = lo;
    TABLE_HI[byte] = hi;
  }
  for (let slice = 1; slice < SLICES; slice++) {
    for (let byte = 0; byte < 256; byte++) {
      const lo = TABLE_LO[(slice - 1) * 256 + byte] as number;
      const hi = TABLE_HI[(slice - 1) * 256 + byte] as number;
      const index = lo & 0xff;
      TABLE_LO[slice * 256 + byte] = (((lo >>> 8) | (hi << 24)) ^ (TABLE_LO[index] as number)) >>> 0;
      TABLE_HI[slice * 256 + byte] = ((hi >>> 8) ^ (TABLE_HI[index] as number)) >>> 0;
    }
  }
})();

/** A running CRC-64/Jones. `update` as often as needed, then `value` or `writeLE`. */
export class Crc64 {
  #lo = 0;
  #hi = 0;

  update(bytes: Uint8Array, start = 0, end = bytes.length): this {
    let lo = this.#lo;
    let hi = this.#hi;
    let at = start;
    const lo8 = TABLE_LO;
    const hi8 = TABLE_HI;
    for (; at + 8 <= end; at += 8) {
      lo ^=
        (bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 24);
      hi ^=
        (bytes[at + 4] as number) |
        ((bytes[at + 5] as number) << 8) |
        ((bytes[at + 6] as number) << 16) |
        ((bytes[at + 7] as number) << 24);
      const i7 = 7 * 256 + (lo & 0xff);
      const i6 = 6 * 256 + ((lo >>> 8) & 0xff);
      const i5 = 5 * 256 + ((lo >>> 16) & 0xff);
      const i4 = 4 * 256 + (lo >>> 24);
      const i3 = 3 * 256 + (hi & 0xff);
      const i2 = 2 * 256 + ((hi >>> 8) & 0xff);
      const i1 = 256 + ((hi >>> 16) & 0xff);
      const i0 = hi >>> 24;
      lo =
        (lo8[i7] as number) ^
        (lo8[i6] as number) ^
        (lo8[i5] as number) ^
        (lo8[i4] as number) ^
        (lo8[i3] as number) ^
        (lo8[i2] as number) ^
        (lo8[i1] as number) ^
        (lo8[i0] as number);
      hi =
        (hi8[i7] as number) ^
        (hi8[i6] as number) ^
        (hi8[i5] as number) ^
        (hi8[i4] as number) ^
        (hi8[i3] as number) ^
        (hi8[i2] as number) ^
        (hi8[i1] as number) ^
        (hi8[i0] as number);
    }
    for (; at < end; at++) {
      const index = (lo ^ (bytes[at] as number)) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ (lo8[index] as number);
      hi = (hi >>> 8) ^ (hi8[index] as number);
    }
    this.#lo = lo >>> 0;
    this.#hi = hi >>> 0;
    return this;
  }

  /** The checksum so far, as an unsigned 64-bit integer. */
  value(): bigint {
    return (BigInt(this.#hi) << 32n) | BigInt(this.#lo);
  }

  /** The checksum as RDB stores it: eight bytes, least significant first. */
  writeLE(target: Uint8Array, offset: number): void {
    for (let i = 0; i < 4; i++) target[offset + i] = (this.#lo >>> (8 * i)) & 0xff;
    for (let i = 0; i < 4; i++) target[offset + 4 + i] = (this.#hi >>> (8 * i)) & 0xff;
  }
}

/** The CRC-64/Jones of `bytes`. */
export function crc64(bytes: Uint8Array): bigint {
  return new Crc64().update(bytes).value();
}
