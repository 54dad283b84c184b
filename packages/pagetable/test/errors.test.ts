// Every error the package throws, along its main paths, is a DbosError, or a TypeError /
// RangeError for misuse, and carries a stable DBOS_E… code from the C status enum; errors that
// started in native code keep the native error as `cause`.
import { DbosError, STATUS_CODES } from '@dbos/platform';
import { expect, test } from 'vitest';
import { FramePool, PAGE_SIZE, Region, probe } from '../src/index.js';

type Kind = 'DbosError' | 'TypeError' | 'RangeError';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

function expectError(fn: () => unknown, code: string, kind: Kind, fromNative = false): void {
  const error = thrown(fn);
  const classes = { DbosError, TypeError, RangeError };
  expect(error, String(error)).toBeInstanceOf(classes[kind]);
  if (kind !== 'DbosError') expect(error).not.toBeInstanceOf(DbosError);
  expect((error as { code?: unknown }).code).toBe(code);
  expect(STATUS_CODES).toContain(code);
  if (fromNative) expect((error as Error).cause, 'the native error is kept as cause').toBeInstanceOf(Error);
}

test('reserving: misuse is TypeError / RangeError, the guest runtime is DBOS_ENOTSUP', () => {
  expectError(() => Region.reserve(1.5), 'DBOS_EINVAL', 'TypeError');
  expectError(() => Region.reserve(0), 'DBOS_ERANGE', 'RangeError');
  expectError(() => Region.reserve(PAGE_SIZE, { runtime: 'guest' }), 'DBOS_ENOTSUP', 'DbosError');
  expectError(() => Region.reserve(PAGE_SIZE, { fill: { byte: -1 } }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => FramePool.create(0), 'DBOS_ERANGE', 'RangeError');
  expectError(() => FramePool.create(Number.NaN), 'DBOS_EINVAL', 'TypeError');
});

test('page operations: native refusals arrive as DbosError or RangeError with their C code', () => {
  const region = Region.reserve(16 * PAGE_SIZE);
  const pool = FramePool.create(4);
  const other = FramePool.create(4);
  try {
    expectError(() => region.map({ first: 15, count: 2 }), 'DBOS_ERANGE', 'RangeError', true);
    expectError(() => region.map([1, 99]), 'DBOS_ERANGE', 'RangeError', true);
    expectError(() => region.map({ first: -1, count: 1 }), 'DBOS_ERANGE', 'RangeError');
    expectError(() => region.map('all' as never), 'DBOS_EINVAL', 'TypeError');
    expectError(() => region.map({ first: 0, count: 1 }, { protection: 'write' as never }), 'DBOS_EINVAL', 'TypeError');
    expectError(() => region.protect({ first: 0, count: 1 }, 'read'), 'DBOS_EFAULT', 'DbosError', true);
    expectError(() => region.view(0, PAGE_SIZE), 'DBOS_EFAULT', 'DbosError', true);
    region.map({ first: 0, count: 8 });
    expectError(() => region.move({ first: 0, count: 2 }, { first: 1, count: 2 }), 'DBOS_EINVAL', 'DbosError', true);
    expectError(() => region.move({ first: 0, count: 2 }, { first: 4, count: 1 }), 'DBOS_EINVAL', 'TypeError');
    const view = region.view(0, PAGE_SIZE);
    expectError(() => region.unmap({ first: 0, count: 1 }), 'DBOS_EBUSY', 'DbosError', true);
    expectError(() => region.protect({ first: 0, count: 1 }, 'none'), 'DBOS_EBUSY', 'DbosError', true);
    region.release(view);
    region.mapFrames({ first: 8, count: 1 }, pool, { first: 0, count: 1 });
    expectError(() => region.mapFrames({ first: 9, count: 1 }, other, { first: 0, count: 1 }), 'DBOS_EINVAL', 'DbosError', true);
    expectError(() => region.mapFrames({ first: 9, count: 1 }, pool, { first: 4, count: 1 }), 'DBOS_ERANGE', 'RangeError', true);
    expectError(() => region.mapFrames({ first: 9, count: 1 }, {} as FramePool, [0]), 'DBOS_EINVAL', 'TypeError');
    expectError(() => pool.release({ first: 3, count: 2 }), 'DBOS_ERANGE', 'RangeError', true);
    expectError(() => region.pageInfo(16), 'DBOS_ERANGE', 'RangeError', true);
    expectError(() => region.view(15 * PAGE_SIZE, 2 * PAGE_SIZE), 'DBOS_ERANGE', 'RangeError');
  } finally {
    region.close();
    pool.close();
    other.close();
  }
});

test('dirty tracking and fault filling: state errors are DbosError', () => {
  const region = Region.reserve(16 * PAGE_SIZE, { mapped: true });
  try {
    expectError(() => region.collectDirty(), 'DBOS_EINVAL', 'DbosError', true);
    expectError(() => region.resetDirty(), 'DBOS_EINVAL', 'DbosError', true);
    expectError(() => region.startDirtyTracking({ mechanism: 'magic' as never }), 'DBOS_EINVAL', 'TypeError');
    if (probe().dirty !== 'pte-dirty-bits') {
      expectError(() => region.startDirtyTracking({ mechanism: 'pte-dirty-bits' }), 'DBOS_ENOTSUP', 'DbosError', true);
    }
    region.startDirtyTracking();
    expectError(() => region.startDirtyTracking(), 'DBOS_EBUSY', 'DbosError', true);
    expectError(() => region.collectDirty({ first: 10, count: 10 }), 'DBOS_ERANGE', 'RangeError');
    if (!probe().present) expectError(() => region.residentPages(), 'DBOS_ENOTSUP', 'DbosError', true);
    if (probe().faults === 'none') {
      expectError(() => Region.reserve(PAGE_SIZE, { fill: { byte: 1 } }), 'DBOS_ENOTSUP', 'DbosError', true);
    }
  } finally {
    region.close();
  }
});

test('closed handles are DBOS_ECLOSED', () => {
  const region = Region.reserve(PAGE_SIZE);
  region.close();
  expectError(() => region.map({ first: 0, count: 1 }), 'DBOS_ECLOSED', 'DbosError');
  expectError(() => region.stats(), 'DBOS_ECLOSED', 'DbosError');
  const pool = FramePool.create(1);
  pool.close();
  expectError(() => pool.release([0]), 'DBOS_ECLOSED', 'DbosError');
  const target = Region.reserve(PAGE_SIZE);
  expectError(() => target.mapFrames([0], pool, [0]), 'DBOS_ECLOSED', 'DbosError');
  target.close();
});
