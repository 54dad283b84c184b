// Every number the TypeScript shares with the C (src/constants.ts) equals what the compiler sees in
// dbos/pagetable.h and dbos/platform.h: one source per fact, pinned here.
import buffer from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { cConstants } from '@dbos/native-build/ctest';
import { DIRTY, FRAME_COUNT_MAX, PAGE_SIZE, PROT, REGION_FLAG, REGION_SIZE_MAX, STATE, VIEW_LENGTH_MAX } from '../src/constants.js';
import { addon } from '../src/native.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

const c = cConstants(packageDir, ['dbos/pagetable.h'], {
  PAGE_SIZE: 'DBOS_PAGE_SIZE',
  REGION_SIZE_MAX: 'DBOS_PT_REGION_SIZE_MAX',
  FRAME_COUNT_MAX: 'DBOS_PT_FRAME_COUNT_MAX',
  PROT_NONE: 'DBOS_PROT_NONE',
  PROT_READ: 'DBOS_PROT_READ',
  PROT_WRITE: 'DBOS_PROT_WRITE',
  PROT_READ_WRITE: 'DBOS_PROT_READ_WRITE',
  STATE_UNMAPPED: 'DBOS_PT_UNMAPPED',
  STATE_ANON: 'DBOS_PT_ANON',
  STATE_FRAME: 'DBOS_PT_FRAME',
  DIRTY_NONE: 'DBOS_PT_DIRTY_NONE',
  DIRTY_UFFD_WP_ASYNC: 'DBOS_PT_DIRTY_UFFD_WP_ASYNC',
  DIRTY_SHADOW_COMPARE: 'DBOS_PT_DIRTY_SHADOW_COMPARE',
  DIRTY_PTE_BITS: 'DBOS_PT_DIRTY_PTE_BITS',
  FLAG_HUGE_PAGES: 'DBOS_PT_REGION_HUGE_PAGES',
  FLAG_MAP_ALL: 'DBOS_PT_REGION_MAP_ALL',
});

const n = (value: number) => BigInt(value);

test('sizes and limits match dbos/pagetable.h', () => {
  expect(n(PAGE_SIZE)).toBe(c.PAGE_SIZE);
  expect(n(REGION_SIZE_MAX)).toBe(c.REGION_SIZE_MAX);
  expect(n(FRAME_COUNT_MAX)).toBe(c.FRAME_COUNT_MAX);
});

test('protection, page state, dirty mechanism and region flag codes match the C enums', () => {
  expect([PROT.none, PROT.read, PROT.write, PROT.readWrite].map(n)).toEqual([c.PROT_NONE, c.PROT_READ, c.PROT_WRITE, c.PROT_READ_WRITE]);
  expect([STATE.unmapped, STATE.anonymous, STATE.frame].map(n)).toEqual([c.STATE_UNMAPPED, c.STATE_ANON, c.STATE_FRAME]);
  expect([DIRTY.none, DIRTY.uffdWpAsync, DIRTY.shadowCompare, DIRTY.pteDirtyBits].map(n)).toEqual([
    c.DIRTY_NONE,
    c.DIRTY_UFFD_WP_ASYNC,
    c.DIRTY_SHADOW_COMPARE,
    c.DIRTY_PTE_BITS,
  ]);
  expect([REGION_FLAG.hugePages, REGION_FLAG.mapAll].map(n)).toEqual([c.FLAG_HUGE_PAGES, c.FLAG_MAP_ALL]);
});

test('the longest view is the binding’s, fits every Node’s ArrayBuffer, and the binding refuses longer', () => {
  expect(VIEW_LENGTH_MAX).toBe(addon.viewLengthMax);
  expect(VIEW_LENGTH_MAX).toBeLessThanOrEqual(buffer.constants.MAX_LENGTH);
  const region = new addon.NativeRegion(2 * VIEW_LENGTH_MAX, 0);
  try {
    // Refused before any page is pinned: the region has none mapped.
    expect(() => region.view(0, VIEW_LENGTH_MAX + PAGE_SIZE)).toThrow(expect.objectContaining({ code: 'DBOS_ERANGE' }));
    expect(() => region.view(0, VIEW_LENGTH_MAX)).toThrow(expect.objectContaining({ code: 'DBOS_EFAULT' }));
  } finally {
    region.close();
  }
});
