// Every error the package throws, along its main paths, is a DbosError, or a TypeError /
// RangeError for misuse, and carries a stable DBOS_E… code; errors that started in the addon keep
// the native error as `cause` (one conversion for every package: fromNative of @dbos/platform).
import { DbosError, STATUS_CODES } from '@dbos/platform';
import { expect, test } from 'vitest';
import { Allocator, ARENA_ALIGNMENT_MAX, type ViewMode } from '../src/index.js';

const MiB = 1024 * 1024;
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

test('creating an allocator: misuse is TypeError / RangeError, the guest runtime DBOS_ENOTSUP', () => {
  expectError(() => new Allocator({ runtime: 'guest' }), 'DBOS_ENOTSUP', 'DbosError');
  expectError(() => new Allocator({ runtime: 'vm' as 'host' }), 'DBOS_EINVAL', 'TypeError');
  expectError(() => new Allocator({ views: 'weird' as ViewMode }), 'DBOS_EINVAL', 'TypeError');
  expectError(() => new Allocator({ limitBytes: 1024 }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => new Allocator({ limitBytes: -1 }), 'DBOS_EINVAL', 'TypeError');
  expectError(() => new Allocator({ limitBytes: 4 * MiB, prefaultBytes: 8 * MiB }), 'DBOS_ERANGE', 'RangeError');
  expectError(() => new Allocator(null as never), 'DBOS_EINVAL', 'TypeError');
  for (const flag of ['hugePages', 'populate', 'junk'] as const) {
    expectError(() => new Allocator({ [flag]: 1 as unknown as boolean }), 'DBOS_EINVAL', 'TypeError');
  }
});

for (const views of ['shared', 'detach'] as const) {
  test(`views '${views}': allocation, free and the pool's limit`, () => {
    const allocator = new Allocator({ views, limitBytes: 4 * MiB, prefaultBytes: 0 });
    const other = new Allocator({ views, limitBytes: 4 * MiB, prefaultBytes: 0 });
    try {
      expectError(() => allocator.alloc(0), 'DBOS_ERANGE', 'RangeError');
      expectError(() => allocator.alloc(1.5), 'DBOS_EINVAL', 'TypeError');
      expectError(() => allocator.alloc(8 * MiB), 'DBOS_ERANGE', 'RangeError');
      const big = allocator.alloc(3 * MiB);
      // The pool's limit is hard: the addon refuses, and the refusal keeps its C code.
      expectError(() => allocator.alloc(2 * MiB), 'DBOS_ENOMEM', 'DbosError', true);
      allocator.free(big);
      expectError(() => allocator.free(big), 'DBOS_EINVAL', 'DbosError');
      expectError(() => big.bytes, 'DBOS_ECLOSED', 'DbosError');
      expectError(() => allocator.free({} as never), 'DBOS_EINVAL', 'TypeError');
      const foreign = other.alloc(64);
      expectError(() => allocator.free(foreign), 'DBOS_EINVAL', 'DbosError');
      const arena = allocator.arena();
      const scratch = arena.alloc(100);
      expectError(() => allocator.free(scratch), 'DBOS_EINVAL', 'DbosError');
      expectError(() => arena.alloc(0), 'DBOS_ERANGE', 'RangeError');
      expectError(() => arena.alloc(8, { align: 3 }), 'DBOS_ERANGE', 'RangeError');
      expectError(() => arena.alloc(8, { align: ARENA_ALIGNMENT_MAX * 2 }), 'DBOS_ERANGE', 'RangeError');
      expectError(() => arena.alloc(8 * MiB), 'DBOS_ENOMEM', 'DbosError', true);
      arena.close();
      expectError(() => arena.alloc(8), 'DBOS_ECLOSED', 'DbosError');
      expectError(() => allocator.arena({ chunkBytes: -1 }), 'DBOS_EINVAL', 'TypeError');
      expectError(() => allocator.trim(-1), 'DBOS_EINVAL', 'TypeError');
    } finally {
      allocator.close();
      other.close();
    }
    expectError(() => allocator.alloc(16), 'DBOS_ECLOSED', 'DbosError');
    expectError(() => allocator.stats(), 'DBOS_ECLOSED', 'DbosError');
    expectError(() => allocator.arena(), 'DBOS_ECLOSED', 'DbosError');
  });
}
