// Hostile arguments shaped like @dbos/pagetable's: page sets, ranges, protections, options, views.
import fc from 'fast-check';
import { type BufferState, hostileBuffer, hostileNumber, hostileOptions, hostileValue, makeBuffer } from '@dbos/hostile';
import { PAGE_SIZE } from '../../src/index.js';

/** Pages of the region every call case works on, and frames of its pool. */
export const PAGES = 64;
export const FRAMES = 16;

/** A page index: mostly inside (or just past) the region, sometimes any hostile number or value. */
export const pageIndex = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: PAGES + 2 }), weight: 6 },
  { arbitrary: hostileNumber(), weight: 2 },
  { arbitrary: hostileValue(), weight: 1 },
);

/** A Uint32Array of page indexes over a backing store in one of the hostile states. */
function pageList(state: BufferState, indexes: number[]): Uint32Array {
  const bytes = makeBuffer(state, indexes.length * 4);
  let list: Uint32Array;
  try {
    list = new Uint32Array(bytes.buffer, bytes.byteOffset - (bytes.byteOffset % 4), Math.floor(bytes.byteLength / 4));
  } catch {
    return new Uint32Array(0);
  }
  for (let i = 0; i < list.length; i++) list[i] = indexes[i] ?? 0;
  return list;
}

/** Page sets that break naive code: lists too long for their memory, holes, proxies, getters. */
const oddSets = fc
  .constantFrom<() => unknown>(
    () => Uint32Array.of(0xffff_ffff),
    () => Uint32Array.of(PAGES - 1, PAGES),
    () => new Uint32Array(0),
    () => new Int32Array([1, 2]),
    () => new Float64Array([1, 2]),
    () => ({ first: 0, count: 2 ** 32 }),
    () => ({ first: 2 ** 32 - 1, count: 2 }),
    () => ({ first: 2 ** 53, count: 2 ** 53 }),
    () => ({ first: 1n, count: 1n }),
    () => ({ first: '1', count: '1' }),
    () => Object.assign(new Array(2), { 1: 1 }), // index 0 is a hole
    () => Object.assign([1, 2], { length: 2 ** 32 - 1 }), // sparse, 4 Gi entries long
    // long: 16 Mi entries of one page, printed by name (fast-check would print every entry)
    () => Object.defineProperty(new Array(2 ** 24).fill(1), fc.toStringMethod, { value: () => 'Array(2 ** 24).fill(1)' }),
    () => new Proxy([1, 2], { get: (target, key) => (key === 'length' ? 3 : Reflect.get(target, key)) }),
    () => Object.defineProperty({ count: 1 }, 'first', { get: () => 0.5 }),
    () => ({ first: { valueOf: () => 1 }, count: 1 }),
    () => [0, -0, 1],
    () => [2 ** 32],
    () => [Number.NaN],
  )
  .map((make) => make());

/** A page set argument: valid ranges and lists, lists over hostile buffers, or anything hostile. */
export const pageSet = fc.oneof(
  { arbitrary: fc.record({ first: pageIndex, count: pageIndex }), weight: 4 },
  { arbitrary: fc.array(pageIndex, { maxLength: 12 }), weight: 3 },
  { arbitrary: fc.array(fc.integer({ min: 0, max: PAGES - 1 }), { maxLength: 12 }).map((list) => Uint32Array.from(list)), weight: 3 },
  {
    arbitrary: fc
      .tuple(
        fc.constantFrom<BufferState>('detached', 'transferred', 'resizable', 'shrunk', 'shared', 'empty', 'offset-view'),
        fc.array(fc.integer({ min: 0, max: PAGES + 2 }), { minLength: 1, maxLength: 8 }),
      )
      .map(([state, indexes]) => pageList(state, indexes)),
    weight: 2,
  },
  { arbitrary: oddSets, weight: 2 },
  { arbitrary: hostileValue(), weight: 1 },
  { arbitrary: hostileBuffer(64), weight: 1 },
);

/** A protection: the three names, or anything else. */
export const protection = fc.oneof(
  { arbitrary: fc.constantFrom('none', 'read', 'read-write'), weight: 3 },
  { arbitrary: fc.constantFrom('write', 'READ', 'rw', 'read-write '), weight: 1 },
  { arbitrary: hostileValue(), weight: 1 },
);

/** `{ protection }` options, or hostile options objects. */
export const protectionOptions = fc.oneof(
  { arbitrary: fc.record({ protection }, { requiredKeys: [] }), weight: 3 },
  { arbitrary: hostileOptions(['protection']), weight: 2 },
);

/** A byte offset or length: page-sized values, the region's edges, or hostile numbers. */
export const byteCount = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: PAGES * PAGE_SIZE + PAGE_SIZE }), weight: 4 },
  {
    arbitrary: fc.constantFrom(
      0,
      1,
      PAGE_SIZE - 1,
      PAGE_SIZE,
      PAGES * PAGE_SIZE - 1,
      PAGES * PAGE_SIZE,
      2 ** 32,
      2 ** 32 + 1,
      2 ** 44,
      2 ** 53,
    ),
    weight: 2,
  },
  { arbitrary: hostileNumber(), weight: 2 },
  { arbitrary: hostileValue(), weight: 1 },
);

/** A `{ first, count }` report range (either may be missing), or hostile options. */
export const pageRange = fc.oneof(
  { arbitrary: fc.record({ first: pageIndex, count: pageIndex }, { requiredKeys: [] }), weight: 3 },
  { arbitrary: hostileOptions(['first', 'count']), weight: 2 },
);
