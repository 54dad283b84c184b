// The benchmarks' shared workload generators: one seedable PRNG and the few sequences the benches
// draw from it (keys, values, uniform indices, page-aligned file positions).
//
// Determinism: everything here is a pure function of its arguments. The PRNG is plain 32-bit integer
// arithmetic (Math.imul, shifts, no floating point in the state, no Math.random, no time, no
// process state), so the same seed gives the same sequence in every process, on every machine, in
// every run. That is what lets a bench hand the identical work to every system it compares (each
// system in its own child process regenerates the same keys from the same seed) and lets two runs
// of a bench be compared at all. Changing a generator here changes every bench's workload: do it
// knowingly, and say so in the results' notes.
//
// Skewed (Zipf) and open-loop (Poisson arrival) workloads are generated where they are used: the
// buffer pool's zipf keys in C (packages/bufferpool/bench/workload.c), the scheduler's arrivals
// from Random.unit() in its bench.

/**
 * xoshiro128** (Blackman and Vigna): four 32-bit lanes, so no BigInt on the hot path, period
 * 2^128 - 1, and output that passes BigCrush, far more than choosing keys needs. Seeded through a
 * splitmix32-style mixer, so nearby seeds (1, 2, 3) give unrelated streams and seed 0 is fine.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
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

  /** A uniform integer in [0, bound), for bound <= 2^32 (multiply-shift: no modulo bias to speak of). */
  below(bound: number): number {
    return Math.floor((this.u32() / 2 ** 32) * bound);
  }

  /** A uniform float in the open interval (0, 1): never 0, so -Math.log(unit()) is finite. */
  unit(): number {
    return (this.u32() + 1) / (2 ** 32 + 1);
  }

  /** Fill `target` with random bytes (little-endian words). */
  fill(target: Uint8Array): void {
    for (let i = 0; i < target.length; i += 4) {
      const word = this.u32();
      for (let j = 0; j < 4 && i + j < target.length; j++) target[i + j] = (word >>> (8 * j)) & 0xff;
    }
  }

  /** Fill `target` with bytes drawn uniformly from `alphabet` (text-like, a little compressible). */
  fillFrom(target: Uint8Array, alphabet: Uint8Array): void {
    for (let i = 0; i < target.length; i++) target[i] = alphabet[this.below(alphabet.length)] as number;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Letters and digits, for text-like values (fillFrom). */
export const ALPHANUMERIC: Uint8Array = Buffer.from('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');

/**
 * `count` distinct keys of `width` bytes (at least 4), each its own Buffer (stores keep or copy what
 * they are given; one shared slab would let a store that keeps references see later keys change).
 * The first `width - 4` bytes are random, the last 4 are the index big-endian: distinct by
 * construction, and uniform over the key space in their leading bytes, so inserting them in
 * generation order is a random-order load for an ordered store.
 */
export function makeKeys(count: number, width: number, seed: number): Buffer[] {
  if (width < 4) throw new RangeError(`makeKeys: width ${width} < 4 (the index takes 4 bytes)`);
  const random = new Random(seed);
  const keys: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const key = Buffer.allocUnsafe(width);
    random.fill(key.subarray(0, width - 4));
    key.writeUInt32BE(i, width - 4);
    keys[i] = key;
  }
  return keys;
}

/**
 * The value of key `index` at `version`: `bytes` (at least 8) pseudo-random, incompressible bytes,
 * different for every (index, version), so an overwrite writes new bytes and no store can skip an
 * identical update or gain from compression it would not gain on real payloads. The first 8 bytes
 * are index and version (little-endian), so a reader can check what it got.
 */
export function makeValue(index: number, version: number, bytes: number): Buffer {
  if (bytes < 8) throw new RangeError(`makeValue: ${bytes} bytes < 8`);
  const value = Buffer.allocUnsafe(bytes);
  new Random((index * 2654435761 + version * 40503) >>> 0).fill(value);
  value.writeUInt32LE(index >>> 0, 0);
  value.writeUInt32LE(version >>> 0, 4);
  return value;
}

/** `count` indices in [0, bound), uniform and independent (repeats allowed), from `seed`. */
export function randomIndices(count: number, bound: number, seed: number): Uint32Array {
  const random = new Random(seed);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = random.below(bound);
  return out;
}

/**
 * `count` byte offsets of whole pages in a file of `fileBytes`: page-aligned (multiples of
 * `pageBytes`), uniform over the file's pages, from `seed`. Float64Array because files pass 4 GiB.
 */
export function pagePositions(count: number, fileBytes: number, pageBytes: number, seed: number): Float64Array {
  const pages = Math.floor(fileBytes / pageBytes);
  const random = new Random(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = random.below(pages) * pageBytes;
  return out;
}
