// The numbers the TypeScript takes from the addon (src/classes.ts, the pool flags) are the ones
// dbos/alloc.h and dbos/platform.h define: compiled here with cConstants and compared.
import { fileURLToPath } from 'node:url';
import { cConstants } from '@dbos/native-build/ctest';
import { expect, test } from 'vitest';
import { ALIGNMENT, ARENA_ALIGNMENT_MAX, CLASS_SIZES, LIMIT_BYTES_MIN, OBJECT_SIZE_MAX, PAGE_SIZE } from '../src/index.js';
import { cacheCapacityOf } from '../src/classes.js';
import { addon } from '../src/native.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

const c = cConstants(packageDir, ['dbos/alloc.h', 'dbos/platform.h'], {
  CLASS_COUNT: 'DBOS_ALLOC_CLASS_COUNT',
  OBJECT_SIZE_MIN: 'DBOS_ALLOC_OBJECT_SIZE_MIN',
  OBJECT_SIZE_MAX: 'DBOS_ALLOC_OBJECT_SIZE_MAX',
  ALIGNMENT: 'DBOS_ALLOC_ALIGNMENT',
  PAGE_SIZE: 'DBOS_PAGE_SIZE',
  LIMIT_BYTES_MIN: 'DBOS_ALLOC_LIMIT_BYTES_MIN',
  ARENA_ALIGNMENT_MAX: 'DBOS_ALLOC_ARENA_ALIGNMENT_MAX',
  POOL_HUGEPAGES: 'DBOS_ALLOC_POOL_HUGEPAGES',
  POOL_POPULATE: 'DBOS_ALLOC_POOL_POPULATE',
  POOL_JUNK: 'DBOS_ALLOC_POOL_JUNK',
  POOL_RETAIN_ADDRESS_SPACE: 'DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE',
});

const n = (value: number) => BigInt(value);

test('sizes and limits match dbos/alloc.h', () => {
  expect(n(OBJECT_SIZE_MAX)).toBe(c.OBJECT_SIZE_MAX);
  expect(n(ALIGNMENT)).toBe(c.ALIGNMENT);
  expect(n(PAGE_SIZE)).toBe(c.PAGE_SIZE);
  expect(n(LIMIT_BYTES_MIN)).toBe(c.LIMIT_BYTES_MIN);
  expect(n(ARENA_ALIGNMENT_MAX)).toBe(c.ARENA_ALIGNMENT_MAX);
});

test('the class table has DBOS_ALLOC_CLASS_COUNT aligned, increasing classes from the minimum to the maximum', () => {
  expect(n(CLASS_SIZES.length)).toBe(c.CLASS_COUNT);
  expect(n(CLASS_SIZES[0] ?? 0)).toBe(c.OBJECT_SIZE_MIN);
  expect(n(CLASS_SIZES.at(-1) ?? 0)).toBe(c.OBJECT_SIZE_MAX);
  CLASS_SIZES.forEach((size, index) => {
    expect(size % ALIGNMENT).toBe(0);
    if (index > 0) expect(size).toBeGreaterThan(CLASS_SIZES[index - 1] ?? 0);
    // The JavaScript cache keeps the C thread cache's cap: 256 KiB worth, 4 .. 128 objects.
    expect(cacheCapacityOf(index)).toBe(Math.max(4, Math.min(128, Math.floor((256 * 1024) / size))));
  });
  expect(n(addon.classCacheCapacities.length)).toBe(c.CLASS_COUNT);
});

test('pool flags match dbos/alloc.h', () => {
  expect([addon.flagHugePages, addon.flagPopulate, addon.flagJunk, addon.flagRetainAddressSpace].map(n)).toEqual([
    c.POOL_HUGEPAGES,
    c.POOL_POPULATE,
    c.POOL_JUNK,
    c.POOL_RETAIN_ADDRESS_SPACE,
  ]);
});
