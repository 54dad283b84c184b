// Dirty-page tracking through the JS API: exactness against a random write set, both mechanisms.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
import { describe, expect, test } from 'vitest';
import { PAGE_SIZE, Region, probe } from '../src/index.js';

const PAGES = 2048;

function randomPages(seed: number, count: number): Set<number> {
  let state = seed | 1;
  const pages = new Set<number>();
  for (let draws = 0; pages.size < count && draws < 100 * count; draws++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    pages.add((state >>> 0) % PAGES);
  }
  expect(pages.size).toBe(count);
  return pages;
}

// Both mechanisms are listed always: where the kernel lacks WP_ASYNC or PAGEMAP_SCAN, the
// 'uffd-wp-async' suites report as skipped instead of vanishing.
const mechanisms = ['shadow-compare', 'uffd-wp-async'] as const;
const unavailable = (mechanism: (typeof mechanisms)[number]) => mechanism !== 'shadow-compare' && probe().dirty !== mechanism;

describe.each(mechanisms)('%s', (mechanism) => {
  if (unavailable(mechanism)) {
    test.skip(`${mechanism} is not available here (probe().dirty is '${probe().dirty}')`, () => {});
    return;
  }
  test('collect equals the written set exactly, then resets', () => {
    const region = Region.reserve(PAGES * PAGE_SIZE, { mapped: true });
    const bytes = region.view(0, PAGES * PAGE_SIZE);
    for (let page = 0; page < PAGES; page += 7) bytes[page * PAGE_SIZE] = 1; // data before tracking
    expect(region.startDirtyTracking({ mechanism })).toBe(mechanism);
    expect(region.dirtyMechanism).toBe(mechanism);
    expect(() => region.startDirtyTracking()).toThrow(expect.objectContaining({ code: 'DBOS_EBUSY' }));
    for (let round = 1; round <= 3; round++) {
      const written = randomPages(round * 977, 100 + round * 50);
      for (const page of written) bytes[page * PAGE_SIZE + ((page * 13) % PAGE_SIZE)] = round + 1;
      const expected = Uint32Array.from([...written].sort((a, b) => a - b));
      expect(region.collectDirty()).toEqual(expected); // peek
      expect(region.collectDirty({ first: 100, count: 200 })).toEqual(expected.filter((p) => p >= 100 && p < 300));
      expect(region.collectDirty({ reset: true })).toEqual(expected);
      expect(region.collectDirty()).toEqual(new Uint32Array(0));
    }
    bytes[5 * PAGE_SIZE] = 9;
    bytes[900 * PAGE_SIZE] = 9;
    region.resetDirty({ first: 0, count: 100 });
    expect(region.collectDirty()).toEqual(Uint32Array.of(900));
    region.stopDirtyTracking();
    expect(region.dirtyMechanism).toBe('none');
    expect(() => region.collectDirty()).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
    expect(() => region.collectDirty({ first: PAGES, count: 1 })).toThrow(RangeError);
    region.close();
  });
});

test('unknown mechanisms are refused', () => {
  const region = Region.reserve(PAGE_SIZE, { mapped: true });
  expect(() => region.startDirtyTracking({ mechanism: 'magic' as 'shadow-compare' })).toThrow(TypeError);
  if (probe().dirty !== 'pte-dirty-bits')
    expect(() => region.startDirtyTracking({ mechanism: 'pte-dirty-bits' })).toThrow(expect.objectContaining({ code: 'DBOS_ENOTSUP' }));
  region.close();
});

function pageTableKiB(): number {
  const match = /^VmPTE:\s+(\d+) kB/m.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : 0;
}

describe.each(mechanisms)('%s over a sparse terabyte region', (mechanism) => {
  if (unavailable(mechanism)) {
    test.skip(`${mechanism} is not available here (probe().dirty is '${probe().dirty}')`, () => {});
    return;
  }
  test('tracking follows the pages used, not the reservation: exact sets, bounded page tables', () => {
    const region = Region.reserve(2 ** 40);
    const far = 2 ** 27; // 512 GiB into the region
    region.map({ first: far, count: 64 });
    const before = pageTableKiB();
    expect(region.startDirtyTracking({ mechanism })).toBe(mechanism);
    // Pages mapped after tracking began, below and above the first extent, are tracked too.
    region.map([3, far + 5000]);
    for (const page of [far + 1, far + 63, 3, far + 5000]) region.view(page * PAGE_SIZE, 1)[0] = 9;
    expect([...region.collectDirty({ reset: true })]).toEqual([3, far + 1, far + 63, far + 5000]);
    expect([...region.collectDirty()]).toEqual([]);
    // Write-protecting the whole terabyte took ~2 GiB of page tables (and ~10 s); the pages used
    // and the walks between them need a few MiB.
    expect(pageTableKiB() - before).toBeLessThan(64 * 1024);
    region.close();
  });
});
