// Region: reservation, page operations, views and their safety rules.
import { describe, expect, test } from 'vitest';
import { FramePool, PAGE_SIZE, Region, probe } from '../src/index.js';

function expectCode(fn: () => unknown, code: string, type?: ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor) {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected ${code}`).toBeDefined();
  expect((thrown as { code?: string }).code).toBe(code);
  if (type) expect(thrown).toBeInstanceOf(type);
}

describe('reserve', () => {
  test('a terabyte costs nothing until pages are mapped', () => {
    const region = Region.reserve(2 ** 40);
    expect(region.pageCount).toBe(2 ** 28);
    const last = region.pageCount - 1;
    region.map({ first: last, count: 1 });
    const view = region.view(last * PAGE_SIZE, PAGE_SIZE);
    view[10] = 42;
    expect(region.view(last * PAGE_SIZE + 10, 1)[0]).toBe(42);
    expect(region.stats().pagesMapped).toBe(1);
    region.close();
  });

  test('bad sizes and options are refused with stable codes', () => {
    expectCode(() => Region.reserve(0), 'DBOS_ERANGE', RangeError);
    expectCode(() => Region.reserve(1000), 'DBOS_ERANGE', RangeError);
    expectCode(() => Region.reserve(2 ** 45), 'DBOS_ERANGE', RangeError);
    expectCode(() => Region.reserve(4096.5), 'DBOS_EINVAL', TypeError);
    expectCode(() => Region.reserve('4096' as unknown as number), 'DBOS_EINVAL', TypeError);
    expectCode(() => Region.reserve(4096, { runtime: 'guest' }), 'DBOS_ENOTSUP');
    expectCode(() => Region.reserve(4096, { runtime: 'vm' as 'host' }), 'DBOS_EINVAL', TypeError);
    expectCode(() => Region.reserve(4096, { fill: { byte: 300 } }), 'DBOS_ERANGE', RangeError);
  });

  test('the largest region (16 TiB) reserves and closes', () => {
    const region = Region.reserve(2 ** 44);
    expect(region.pageCount).toBe(2 ** 32);
    region.map({ first: 2 ** 32 - 1, count: 1 });
    region.view(2 ** 44 - 1, 1)[0] = 1;
    region.close();
  });

  test('mapped regions start read-write and read zeros', () => {
    const region = Region.reserve(16 * PAGE_SIZE, { mapped: true, hugePages: true });
    expect(region.pageInfo(3)).toEqual({ state: 'anonymous', protection: 'read-write', frame: null });
    expect(region.view(0, 16 * PAGE_SIZE).every((byte) => byte === 0)).toBe(true);
    region.close();
  });
});

describe('page operations', () => {
  test('reads of discarded pages return zeros (ranges, arrays, Uint32Array)', () => {
    const region = Region.reserve(64 * PAGE_SIZE);
    region.map({ first: 0, count: 64 });
    const bytes = region.view(0, 64 * PAGE_SIZE);
    bytes.fill(0xee);
    region.discard({ first: 0, count: 2 });
    region.discard([10, 11, 12]); // one run
    region.discard([12, 10, 11]); // two runs, (12) and (10, 11), in one process_madvise
    region.discard(Uint32Array.of(40, 63));
    for (let page = 0; page < 64; page++) {
      const expected = [0, 1, 10, 11, 12, 40, 63].includes(page) ? 0 : 0xee;
      expect(bytes[page * PAGE_SIZE + 123], `page ${page}`).toBe(expected);
    }
    // Adjacent list entries form one run; the anonymous runs of one call are discarded together.
    expect(region.stats().runtimeCalls).toBe(5);
    region.close();
  });

  test('out-of-range pages throw RangeError and change nothing', () => {
    const region = Region.reserve(8 * PAGE_SIZE);
    expectCode(() => region.map({ first: 7, count: 2 }), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.map([1, 8]), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.map(Uint32Array.of(2, 99)), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.map([-1]), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.map({ first: -1, count: 1 }), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.map([1.5]), 'DBOS_EINVAL', TypeError);
    expectCode(() => region.map('all' as unknown as number[]), 'DBOS_EINVAL', TypeError);
    expectCode(() => region.pageInfo(8), 'DBOS_ERANGE', RangeError);
    expect(region.pageInfo(1).state).toBe('unmapped');
    expectCode(() => region.map({ first: 0, count: 1 }, { protection: 'rw' as 'read' }), 'DBOS_EINVAL', TypeError);
    region.close();
  });

  test('protect and unmap change what a view may cover', () => {
    const region = Region.reserve(8 * PAGE_SIZE);
    region.map({ first: 0, count: 8 });
    region.protect([2], 'read');
    expect(region.pageInfo(2).protection).toBe('read');
    expectCode(() => region.view(2 * PAGE_SIZE, 1), 'DBOS_EFAULT'); // views need read-write pages
    region.unmap({ first: 4, count: 2 });
    expectCode(() => region.view(4 * PAGE_SIZE - 1, 2), 'DBOS_EFAULT');
    expectCode(() => region.protect({ first: 3, count: 2 }, 'read'), 'DBOS_EFAULT');
    expect(region.pageInfo(3).protection).toBe('read-write'); // nothing changed
    region.populate({ first: 6, count: 2 });
    expect(region.residentPages()).toEqual(Uint32Array.of(6, 7));
    expect(region.residentPages({ first: 7 })).toEqual(Uint32Array.of(7));
    expectCode(() => region.residentPages({ first: 9 }), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.populate([4]), 'DBOS_EFAULT');
    expectCode(() => region.resetDirty({ first: 0, count: 9 }), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.resetDirty(), 'DBOS_EINVAL'); // not tracking
    region.close();
  });

  test('anonymous pages move without copying', () => {
    const region = Region.reserve(64 * PAGE_SIZE);
    region.map({ first: 0, count: 4 });
    const source = region.view(0, 4 * PAGE_SIZE);
    for (let page = 0; page < 4; page++) source.fill(page + 1, page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    region.release(source);
    region.move({ first: 0, count: 4 }, [40, 41, 50, 51]);
    expect(region.pageInfo(0).state).toBe('unmapped');
    expect(region.view(50 * PAGE_SIZE, 1)[0]).toBe(3);
    expect(region.view(41 * PAGE_SIZE + 4095, 1)[0]).toBe(2);
    expectCode(() => region.move([40], [41, 42]), 'DBOS_EINVAL', TypeError);
    expectCode(() => region.move({ first: 0, count: 1 }, { first: 60, count: 1 }), 'DBOS_EFAULT');
    region.close();
  });
});

describe('frames', () => {
  test('a frame written through one slot reads back through another, and moves without copying', () => {
    const pool = FramePool.create(16);
    const region = Region.reserve(64 * PAGE_SIZE);
    region.mapFrames({ first: 0, count: 4 }, pool, { first: 8, count: 4 });
    region.mapFrames([20, 30], pool, [9, 8]);
    const slot1 = region.view(1 * PAGE_SIZE, PAGE_SIZE);
    new TextEncoder().encodeInto('via slot 1', slot1);
    expect(new TextDecoder().decode(region.view(20 * PAGE_SIZE, 10))).toBe('via slot 1');
    expect(region.pageInfo(20)).toEqual({ state: 'frame', protection: 'read-write', frame: 9 });
    region.release(slot1);
    region.move([1], [45]);
    expect(new TextDecoder().decode(region.view(45 * PAGE_SIZE, 10))).toBe('via slot 1');
    expect(region.pageInfo(1).state).toBe('unmapped');
    // Releasing the frame drops its bytes everywhere.
    pool.release([9]);
    expect(region.view(20 * PAGE_SIZE, 1)[0]).toBe(0);
    // The region keeps the pool's memory after the pool is closed.
    pool.close();
    region.view(0, 1)[0] = 5;
    expect(region.view(0, 1)[0]).toBe(5);
    expectCode(() => region.mapFrames([5], pool, [0]), 'DBOS_ECLOSED');
    region.close();
  });

  test('frame arguments are checked', () => {
    const pool = FramePool.create(4);
    const region = Region.reserve(8 * PAGE_SIZE);
    expectCode(() => region.mapFrames([0, 1], pool, [0]), 'DBOS_EINVAL', TypeError);
    expectCode(() => region.mapFrames([0], pool, [4]), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.mapFrames([0], {} as FramePool, [0]), 'DBOS_EINVAL', TypeError);
    expectCode(() => FramePool.create(0), 'DBOS_ERANGE', RangeError);
    expectCode(() => FramePool.create(1.5), 'DBOS_EINVAL', TypeError);
    expectCode(() => pool.release({ first: 3, count: 2 }), 'DBOS_ERANGE', RangeError);
    const other = FramePool.create(4);
    region.mapFrames([0], pool, [0]);
    expectCode(() => region.mapFrames([1], other, [0]), 'DBOS_EINVAL');
    other.close();
    pool.close();
    pool.close();
    expect(pool.closed).toBe(true);
    expectCode(() => pool.release([0]), 'DBOS_ECLOSED');
    region.close();
  });
});

describe('views', () => {
  test('out-of-range offsets throw RangeError', () => {
    const region = Region.reserve(4 * PAGE_SIZE, { mapped: true });
    expectCode(() => region.view(-1, 1), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.view(4 * PAGE_SIZE, 1), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.view(PAGE_SIZE, 3 * PAGE_SIZE + 1), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.dataView(0, -5), 'DBOS_ERANGE', RangeError);
    expectCode(() => region.view(0.5, 1), 'DBOS_EINVAL', TypeError);
    expect(region.view(4 * PAGE_SIZE, 0).length).toBe(0);
    const data = region.dataView(PAGE_SIZE - 2, 4); // straddles two pages
    data.setUint32(0, 0xdeadbeef, true);
    expect(region.view(PAGE_SIZE - 2, 4)).toEqual(Uint8Array.of(0xef, 0xbe, 0xad, 0xde));
    region.close();
  });

  test('a range with live views cannot be made inaccessible (DBOS_EBUSY)', () => {
    const region = Region.reserve(16 * PAGE_SIZE, { mapped: true });
    const view = region.view(4 * PAGE_SIZE + 100, PAGE_SIZE); // pins pages 4 and 5
    view.fill(9);
    expect(region.isPinned({ first: 5, count: 1 })).toBe(true);
    expectCode(() => region.unmap({ first: 5, count: 1 }), 'DBOS_EBUSY');
    expectCode(() => region.unmap([0, 4]), 'DBOS_EBUSY');
    expectCode(() => region.protect([4], 'none'), 'DBOS_EBUSY');
    expectCode(() => region.protect([4], 'read'), 'DBOS_EBUSY');
    expectCode(() => region.map([5], { protection: 'read' }), 'DBOS_EBUSY');
    expectCode(() => region.move([4], [10]), 'DBOS_EBUSY');
    expect(view[0]).toBe(9); // still there, still readable
    // Operations that keep the pages read-write are allowed under a view.
    region.discard({ first: 4, count: 2 });
    expect(view[0]).toBe(0);
    region.map([4]);
    region.protect([4], 'read-write');
    expect(region.stats().liveViews).toBe(1);
    expect(region.release(view)).toBe(true);
    expect(view.length).toBe(0); // detached: reads give undefined, never a fault
    expect(region.release(view)).toBe(false);
    region.unmap({ first: 4, count: 2 });
    region.close();
  });

  test('closing detaches views instead of leaving them over unmapped memory', () => {
    const region = Region.reserve(4 * PAGE_SIZE, { mapped: true });
    const view = region.view(0, PAGE_SIZE);
    const data = region.dataView(PAGE_SIZE, 8);
    view[0] = 1;
    region.close();
    expect(region.closed).toBe(true);
    expect(view.length).toBe(0);
    expect(view[0]).toBeUndefined();
    expect(() => data.getUint8(0)).toThrow(TypeError);
    expectCode(() => region.view(0, 1), 'DBOS_ECLOSED');
    expectCode(() => region.map([0]), 'DBOS_ECLOSED');
    expectCode(() => region.collectDirty(), 'DBOS_ECLOSED');
    region.close(); // idempotent
  });

  test('views dropped by the program are unpinned by the garbage collector', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const region = Region.reserve(4 * PAGE_SIZE, { mapped: true });
    (() => {
      region.view(0, PAGE_SIZE)[0] = 1;
    })();
    for (let round = 0; round < 20 && region.isPinned({ first: 0, count: 1 }); round++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(region.isPinned({ first: 0, count: 1 })).toBe(false);
    region.unmap([0]);
    region.close();
  });

  test('release() rejects things that are not views', () => {
    const region = Region.reserve(PAGE_SIZE, { mapped: true });
    expect(region.release(new Uint8Array(4))).toBe(false);
    expectCode(() => region.release(42 as unknown as Uint8Array), 'DBOS_EINVAL', TypeError);
    region.close();
  });
});

describe('fill on first touch', () => {
  test.runIf(probe().faults !== 'none')('missing pages are filled by the fault thread', () => {
    const region = Region.reserve(32 * PAGE_SIZE, { mapped: true, fill: { byte: 0x5a, stampIndex: true } });
    const page7 = region.dataView(7 * PAGE_SIZE, 16);
    expect(page7.getBigUint64(0, true)).toBe(7n);
    expect(page7.getUint8(8)).toBe(0x5a);
    expect(region.view(20 * PAGE_SIZE + 100, 1)[0]).toBe(0x5a);
    expect(region.stats().faultsServed).toBe(2);
    region.discard([7]);
    expect(region.dataView(7 * PAGE_SIZE, 8).getBigUint64(0, true)).toBe(7n); // filled again
    region.close();
  });
});

test('probe says which mechanisms run', () => {
  const result = probe();
  expect(result.runtime).toBe('host');
  expect(['uffd-wp-async', 'shadow-compare']).toContain(result.dirty);
  expect(result.accessed).toBe('none');
  expect(typeof result.frames).toBe('boolean');
});
