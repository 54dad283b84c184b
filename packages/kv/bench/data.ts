// The benchmark's data: the same keys, values and access sequences for every store, generated from
// fixed seeds so two runs (and two stores in one run) see identical work.
//
// Keys are 16 random bytes (uniform over the key space, so inserting them in generation order is a
// random-order load for every ordered store); values are 100 bytes of pseudo-random data, so a store
// that compresses (LevelDB and RocksDB use Snappy by default) gains nothing it would not gain on
// encrypted or already-compressed payloads. Value bytes depend on (key index, version): an overwrite
// writes different bytes, so no store can skip an identical update.

export const KEY_BYTES = 16;
export const VALUE_BYTES = 100;

/** xoshiro128**: 32-bit lanes (no BigInt on the hot path), seedable, uniform enough for key choice. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // Seeded through a splitmix32-style mixer so nearby seeds give unrelated streams.
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** A uniform uint32. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A uniform integer in [0, bound). */
  below(bound: number): number {
    return Math.floor((this.u32() / 2 ** 32) * bound);
  }

  fill(target: Uint8Array): void {
    for (let i = 0; i < target.length; i += 4) {
      const word = this.u32();
      for (let j = 0; j < 4 && i + j < target.length; j++) target[i + j] = (word >>> (8 * j)) & 0xff;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * `count` distinct 16-byte keys, each its own Buffer (stores keep or copy what they are given; one
 * shared slab would let a store that keeps references see later keys change). Distinct because the
 * first 4 bytes are random and the last 4 are the index.
 */
export function makeKeys(count: number, seed = 1): Buffer[] {
  const random = new Random(seed);
  const keys: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const key = Buffer.allocUnsafe(KEY_BYTES);
    random.fill(key.subarray(0, KEY_BYTES - 4));
    key.writeUInt32BE(i, KEY_BYTES - 4);
    keys[i] = key;
  }
  return keys;
}

/** The value of key `index` at `version`: 100 bytes, different for every (index, version). */
export function makeValue(index: number, version: number): Buffer {
  const value = Buffer.allocUnsafe(VALUE_BYTES);
  new Random((index * 2654435761 + version * 40503) >>> 0).fill(value);
  value.writeUInt32LE(index >>> 0, 0);
  value.writeUInt32LE(version >>> 0, 4);
  return value;
}

/** `count` indices in [0, bound), uniform, from `seed`. */
export function randomIndices(count: number, bound: number, seed: number): Uint32Array {
  const random = new Random(seed);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = random.below(bound);
  return out;
}
