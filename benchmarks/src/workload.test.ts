import { describe, expect, it } from 'vitest';
import { ALPHANUMERIC, Random, keyAt, makeKeys, makeValue, pagePositions, randomIndices } from './workload.ts';

const draw = (seed: number, count: number) => {
  const random = new Random(seed);
  return Array.from({ length: count }, () => random.u32());
};

describe('Random', () => {
  it('gives the same sequence for the same seed, in separate instances', () => {
    expect(draw(42, 1000)).toEqual(draw(42, 1000));
    expect(draw(0, 10)).toEqual(draw(0, 10));
  });

  it('pins the xoshiro128** stream (a change here changes every bench workload)', () => {
    expect(draw(1, 4)).toEqual([2442144158, 3238099751, 3819917871, 2104621829]);
  });

  it('gives unrelated streams for nearby seeds', () => {
    const a = draw(1, 64);
    const b = draw(2, 64);
    expect(a.filter((value, i) => value === b[i]).length).toBe(0);
  });

  it('keeps below() in [0, bound) and unit() in (0, 1)', () => {
    const random = new Random(7);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const n = random.below(17);
      if (!Number.isInteger(n) || n < 0 || n >= 17) outside++;
      const u = random.unit();
      if (!(u > 0 && u < 1)) outside++;
    }
    expect(outside).toBe(0);
    expect(new Random(3).below(1)).toBe(0);
  });

  it('spreads below() evenly: chi-square over 64 buckets within the 99.9 % bound', () => {
    const buckets = 64;
    const draws = 640_000;
    const counts = new Array<number>(buckets).fill(0);
    const random = new Random(12345);
    for (let i = 0; i < draws; i++) counts[random.below(buckets)]!++;
    const expected = draws / buckets;
    const chi2 = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    // 63 degrees of freedom: P(chi2 > 103.4) = 0.001.
    expect(chi2).toBeLessThan(103.4);
    // And each bit of u32() is set about half the time.
    const bits = new Array<number>(32).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const word = random.u32();
      for (let bit = 0; bit < 32; bit++) bits[bit]! += (word >>> bit) & 1;
    }
    for (const count of bits) expect(Math.abs(count / 100_000 - 0.5)).toBeLessThan(0.01);
  });

  it('has exponential gaps of the right mean from -log(unit())', () => {
    const random = new Random(9);
    let sum = 0;
    for (let i = 0; i < 200_000; i++) sum += -Math.log(random.unit());
    expect(Math.abs(sum / 200_000 - 1)).toBeLessThan(0.01);
  });

  it('fills text from an alphabet only', () => {
    const text = Buffer.alloc(1000);
    new Random(5).fillFrom(text, ALPHANUMERIC);
    expect(text.toString('latin1')).toMatch(/^[a-zA-Z0-9]{1000}$/);
  });
});

describe('generators', () => {
  it('makes distinct keys of the given width, the same for the same seed', () => {
    const keys = makeKeys(10_000, 16, 1);
    expect(keys.every((key) => key.length === 16)).toBe(true);
    expect(new Set(keys.map((key) => key.toString('hex'))).size).toBe(10_000);
    expect(makeKeys(100, 16, 1)).toEqual(keys.slice(0, 100));
    expect(makeKeys(100, 16, 2)).not.toEqual(keys.slice(0, 100));
    expect(makeKeys(3, 4, 1).map((key) => key.readUInt32BE(0))).toEqual([0, 1, 2]);
    expect(() => makeKeys(1, 3, 1)).toThrow(RangeError);
  });

  it('makes any key of a large set on its own: distinct, uniform in its leading bytes, the same for the same seed', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => keyAt(i, 16, 9));
    expect(keys.every((key, i) => key.length === 16 && key.readUInt32BE(12) === i)).toBe(true);
    expect(new Set(keys.map((key) => key.subarray(0, 12).toString('hex'))).size).toBe(10_000);
    expect(keyAt(4321, 16, 9)).toEqual(keys[4321]);
    expect(keyAt(4321, 16, 10)).not.toEqual(keys[4321]);
    const into = Buffer.alloc(16);
    expect(keyAt(17, 16, 9, into)).toBe(into);
    expect(into).toEqual(keys[17]);
    // The first byte spreads over the key space: a random-order load for an ordered store.
    const firstBytes = new Set(keys.map((key) => key[0]));
    expect(firstBytes.size).toBe(256);
    expect(() => keyAt(1, 3, 1)).toThrow(RangeError);
  });

  it('makes values that depend on (index, version) and carry both', () => {
    const value = makeValue(7, 3, 100);
    expect(value.length).toBe(100);
    expect(value.readUInt32LE(0)).toBe(7);
    expect(value.readUInt32LE(4)).toBe(3);
    expect(makeValue(7, 3, 100)).toEqual(value);
    expect(makeValue(7, 4, 100).subarray(8)).not.toEqual(value.subarray(8));
  });

  it('draws uniform indices in range, deterministically', () => {
    const indices = randomIndices(50_000, 1000, 3);
    expect(indices).toEqual(randomIndices(50_000, 1000, 3));
    expect(Math.max(...indices)).toBeLessThan(1000);
    expect(Math.min(...indices)).toBeGreaterThanOrEqual(0);
    const mean = indices.reduce((sum, n) => sum + n, 0) / indices.length;
    expect(Math.abs(mean - 499.5)).toBeLessThan(5); // sd of the mean: 289 / sqrt(50 000) = 1.3
  });

  it('draws page-aligned positions inside the file, past 4 GiB too', () => {
    const page = 4096;
    const file = 8 * 2 ** 30;
    const positions = pagePositions(20_000, file, page, 0x9e3779b9);
    expect(positions).toEqual(pagePositions(20_000, file, page, 0x9e3779b9));
    expect(positions.every((at) => at % page === 0 && at >= 0 && at + page <= file)).toBe(true);
    expect(positions.some((at) => at >= 2 ** 32)).toBe(true);
  });
});
