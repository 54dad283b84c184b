// The TypeScript API: allocation, views and their lifetime, error paths, arenas, stats, limits.
import buffer from 'node:buffer';
import { describe, expect, test } from 'vitest';
import { DbosError } from '@dbos/platform';
import { Allocation, Allocator, CLASS_SIZES, OBJECT_SIZE_MAX, classIndexOf, type ViewMode } from '../src/index.js';
import { addon as nativeAddon } from '../src/native.js';

const MiB = 1024 * 1024;
const canTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

test('classIndexOf picks the smallest class that holds each size', () => {
  // The definition, checked for every size: the class holds the size, the class below does not.
  let wrong = 0;
  for (let size = 1; size <= OBJECT_SIZE_MAX; size++) {
    const index = classIndexOf(size);
    const holds = (CLASS_SIZES[index] ?? 0) >= size;
    const smallest = index === 0 || (CLASS_SIZES[index - 1] ?? Number.POSITIVE_INFINITY) < size;
    if (!holds || !smallest) wrong++;
  }
  expect(wrong, 'sizes given a class that does not hold them, or not the smallest that does').toBe(0);
  expect(classIndexOf(1)).toBe(0);
  expect(classIndexOf(17)).toBe(1);
  expect(classIndexOf(OBJECT_SIZE_MAX)).toBe(CLASS_SIZES.length - 1);
  expect(classIndexOf(OBJECT_SIZE_MAX + 1)).toBe(-1);
  expect(classIndexOf(0)).toBe(-1);
  expect(classIndexOf(1.5)).toBe(-1);
  expect(() => classIndexOf('100' as unknown as number)).toThrow(TypeError);
});

test('classIndexOf agrees with the class the C allocator really uses', () => {
  // Each boundary size is allocated through the addon (views 'detach': no JavaScript cache), and
  // the class whose live count grew is the one dbos_alloc picked.
  const allocator = new Allocator({ views: 'detach', limitBytes: 16 * MiB });
  const sizes = CLASS_SIZES.flatMap((size) => [size - 1, size, size + 1]).filter((size) => size >= 1 && size <= OBJECT_SIZE_MAX);
  for (const size of sizes) {
    const before = allocator.stats().classes.map((entry) => entry.objectsInUse);
    const allocation = allocator.alloc(size);
    const after = allocator.stats().classes.map((entry) => entry.objectsInUse);
    const grew = after.findIndex((count, index) => count !== before[index]);
    expect(grew, `size ${size}`).toBe(classIndexOf(size));
    allocator.free(allocation);
  }
  allocator.close();
});

// Node 22+ allows ArrayBuffers up to 2^53 - 1 bytes, so a pool cannot be too large for one there.
const bufferLengthMax = Number(buffer.constants.MAX_LENGTH);
const buffersBounded = bufferLengthMax <= 2 ** 40;

test("runtime 'guest' is not built yet and says so; options are checked", () => {
  expect(codeOf(() => new Allocator({ runtime: 'guest' }))).toBe('DBOS_ENOTSUP');
  expect(() => new Allocator({ views: 'weird' as ViewMode })).toThrow(TypeError);
  // The binding checks what it is given: an arena over a non-pool, a foreign buffer to detach.
  expect(() => new nativeAddon.NativeArena({} as never, 0)).toThrow(TypeError);
  const pool = new nativeAddon.NativePool(4 * MiB, 0, 0, 0, 0);
  const arena = new nativeAddon.NativeArena(pool, 0);
  expect(() => new nativeAddon.NativeArena(arena as never, 0)).toThrow(TypeError);
  const foreign = new ArrayBuffer(8);
  pool.detachBuffers([foreign]);
  expect(foreign.byteLength).toBe(8);
  arena.close();
  pool.close();
  const defaults = new Allocator({ limitBytes: 4 * MiB });
  expect(defaults.views).toBe('shared');
  expect(defaults.limitBytes).toBe(4 * MiB);
  defaults.close();
  expect(() => new Allocator({ limitBytes: 1024 })).toThrow(RangeError);
  expect(() => new Allocator({ limitBytes: 4 * MiB, prefaultBytes: 8 * MiB })).toThrow(RangeError);
  expect(() => new Allocator({ limitBytes: -1 })).toThrow(TypeError);
});

test.skipIf(!buffersBounded)(
  "a pool larger than one ArrayBuffer: 'shared' refuses it, 'detach' works (only where ArrayBuffers are bounded: Node 20)",
  () => {
    const huge = 2 * 2 ** 30 + bufferLengthMax;
    expect(() => new Allocator({ limitBytes: huge, prefaultBytes: 0 })).toThrow(RangeError);
    const wide = new Allocator({ limitBytes: huge, prefaultBytes: 0, views: 'detach' });
    expect(() => wide.alloc(huge - 4096)).toThrow(RangeError);
    const block = wide.alloc(1000);
    block.bytes[999] = 1;
    wide.free(block);
    wide.close();
    const native = new nativeAddon.NativePool(huge, 0, 0, 0, 0);
    expect(codeOf(() => native.memory(bufferLengthMax))).toBe('DBOS_ERANGE');
    native.close();
  },
);

for (const views of ['detach', 'shared'] as const) {
  describe(`views: '${views}'`, () => {
    test('allocations hold their bytes and do not overlap', () => {
      const allocator = new Allocator({ views, limitBytes: 32 * MiB });
      const sizes = [1, 15, 16, 17, 100, 4095, 4096, 4097, OBJECT_SIZE_MAX, OBJECT_SIZE_MAX + 1, 1 * MiB];
      const handles = sizes.map((size, index) => {
        const handle = allocator.alloc(size);
        expect(handle.size).toBe(size);
        expect(handle.bytes.length).toBe(size);
        expect(handle.offset % 16).toBe(0);
        handle.bytes.fill(index + 1);
        return handle;
      });
      handles.forEach((handle, index) => {
        expect(handle.bytes[0]).toBe(index + 1);
        expect(handle.bytes[handle.size - 1]).toBe(index + 1);
        expect(handle.view().getUint8(0)).toBe(index + 1);
      });
      const stats = allocator.stats();
      expect(stats.allocCount).toBe(sizes.length);
      expect(stats.freeCount).toBe(0);
      expect(stats.bytesRequested).toBe(sizes.reduce((a, b) => a + b, 0));
      expect(stats.bytesInUse).toBeGreaterThanOrEqual(stats.bytesRequested);
      expect(stats.fragmentationInternal).toBeGreaterThanOrEqual(0);
      expect(stats.fragmentationInternal).toBeLessThan(1);
      for (const handle of handles) allocator.free(handle);
      const after = allocator.stats();
      expect(after.freeCount).toBe(sizes.length);
      expect(after.bytesInUse).toBe(0);
      expect(after.bytesRequested).toBe(0);
      expect(after.classes.every((entry) => entry.objectsInUse === 0)).toBe(true);
      allocator.check();
      allocator.close();
    });

    test('double free, foreign handles and non-handles are refused', () => {
      const allocator = new Allocator({ views, limitBytes: 4 * MiB });
      const other = new Allocator({ views, limitBytes: 4 * MiB });
      const handle = allocator.alloc(64);
      const big = allocator.alloc(200_000);
      allocator.free(handle);
      expect(codeOf(() => allocator.free(handle))).toBe('DBOS_EINVAL');
      expect(() => allocator.free(handle)).toThrow(DbosError);
      allocator.free(big);
      expect(codeOf(() => allocator.free(big))).toBe('DBOS_EINVAL');
      const foreign = other.alloc(64);
      expect(codeOf(() => allocator.free(foreign))).toBe('DBOS_EINVAL');
      expect(foreign.live).toBe(true); // the refused free changed nothing
      other.free(foreign);
      expect(() => allocator.free({} as Allocation)).toThrow(TypeError);
      expect(() => allocator.free(Object.create(Allocation.prototype) as Allocation)).toThrow(TypeError);
      expect(allocator.stats().bytesInUse).toBe(0);
      allocator.close();
      other.close();
    });

    test('views are only handed out while the allocation is live', () => {
      const allocator = new Allocator({ views, limitBytes: 4 * MiB });
      const handle = allocator.alloc(128);
      const kept = handle.bytes;
      kept[5] = 9;
      allocator.free(handle);
      expect(handle.live).toBe(false);
      expect(codeOf(() => handle.bytes)).toBe('DBOS_ECLOSED');
      expect(codeOf(() => handle.view())).toBe('DBOS_ECLOSED');
      expect(codeOf(() => handle.array(Float64Array))).toBe('DBOS_ECLOSED');
      // 'detach': the old view is neutered; 'shared': it still points into the (mapped) pool.
      expect(kept.length).toBe(views === 'detach' ? 0 : 128);
      kept[5] = 1; // never a crash
      allocator.close();
      expect(kept.length).toBe(0); // close detaches everything in both modes
      expect(kept[5]).toBeUndefined();
    });

    test('close is idempotent and kills every handle', () => {
      const allocator = new Allocator({ views, limitBytes: 4 * MiB });
      const small = allocator.alloc(32);
      const large = allocator.alloc(300_000);
      const bytes = large.bytes;
      allocator.close();
      allocator.close();
      expect(allocator.status).toBe('closed');
      expect(small.live).toBe(false);
      expect(large.live).toBe(false);
      expect(bytes.length).toBe(0);
      expect(codeOf(() => large.bytes)).toBe('DBOS_ECLOSED');
      expect(codeOf(() => allocator.alloc(16))).toBe('DBOS_ECLOSED');
      expect(codeOf(() => allocator.free(small))).toBe('DBOS_ECLOSED');
      expect(codeOf(() => allocator.stats())).toBe('DBOS_ECLOSED');
    });

    test('the limit is hard: DBOS_ENOMEM, then recovery after frees', () => {
      const limit = 4 * MiB;
      const allocator = new Allocator({ views, limitBytes: limit, prefaultBytes: limit });
      const handles: Allocation[] = [];
      let code: string | undefined;
      for (let i = 0; i < 10_000 && code === undefined; i++) {
        try {
          handles.push(allocator.alloc(1000 + (i % 7) * 3000));
        } catch (error) {
          code = (error as DbosError).code;
        }
      }
      expect(code).toBe('DBOS_ENOMEM');
      expect(handles.length).toBeGreaterThan(300);
      allocator.check();
      expect(allocator.stats().residentBytes).toBeLessThanOrEqual(limit);
      expect(codeOf(() => allocator.alloc(limit + 1))).toBe('DBOS_ERANGE');
      for (const handle of handles) allocator.free(handle);
      const whole = allocator.alloc(limit); // every page came back, caches included
      expect(whole.bytes.length).toBe(limit);
      allocator.free(whole);
      // The same for an arena: small objects parked in caches are reclaimed for its chunks.
      const small = Array.from({ length: 2000 }, (_, i) => allocator.alloc(16 + (i % 50) * 16));
      for (const handle of small) allocator.free(handle);
      const arena = allocator.arena({ chunkBytes: limit - 8192 });
      expect(arena.alloc(limit - 2 * 4096).size).toBe(limit - 8192);
      arena.close();
      allocator.close();
    });

    test('sizes are validated', () => {
      const allocator = new Allocator({ views, limitBytes: 4 * MiB });
      expect(() => allocator.alloc(0)).toThrow(RangeError);
      expect(() => allocator.alloc(-5)).toThrow(RangeError);
      expect(() => allocator.alloc(1.5)).toThrow(TypeError);
      expect(() => allocator.alloc('10' as unknown as number)).toThrow(TypeError);
      expect(() => allocator.allocFloat64Array(0)).toThrow(TypeError);
      allocator.close();
    });

    test('zero and typed helpers', () => {
      const allocator = new Allocator({ views, limitBytes: 4 * MiB, junk: true });
      const dirty = allocator.alloc(800);
      const kept = dirty.bytes;
      dirty.bytes.fill(0xee);
      allocator.free(dirty);
      if (views === 'shared') expect(kept[799]).toBe(0x5a); // junk-filled, still mapped
      const clean = allocator.alloc(800, { zero: true });
      expect(clean.bytes.every((byte) => byte === 0)).toBe(true);
      const { allocation, array } = allocator.allocFloat64Array(100);
      expect(array).toBeInstanceOf(Float64Array);
      expect(array.length).toBe(100);
      array[99] = Math.PI;
      expect(allocation.array(Float64Array)[99]).toBe(Math.PI);
      const words = allocator.allocUint32Array(3, { zero: true });
      expect([...words.array]).toEqual([0, 0, 0]);
      allocator.free(clean);
      allocator.free(allocation);
      allocator.free(words.allocation);
      allocator.close();
    });

    test('arenas: bump allocation, one reset, dead handles', () => {
      const allocator = new Allocator({ views, limitBytes: 16 * MiB });
      const arena = allocator.arena({ chunkBytes: 16 * 1024 });
      const handles: Allocation[] = [];
      for (let i = 0; i < 500; i++) {
        const align = 1 << (i % 13);
        const handle = arena.alloc(1 + ((i * 37) % 900), { align });
        expect(handle.offset % align).toBe(0);
        handle.bytes.fill(i & 0xff);
        handles.push(handle);
      }
      expect(handles.every((handle, i) => handle.bytes[0] === (i & 0xff))).toBe(true);
      expect(arena.bytesReserved).toBeGreaterThan(0);
      expect(allocator.stats().bytesArenas).toBe(arena.bytesReserved);
      expect(codeOf(() => allocator.free(handles[0]!))).toBe('DBOS_EINVAL');
      const view = handles[1]!.bytes;
      arena.reset();
      expect(allocator.stats().bytesArenas).toBe(0);
      expect(arena.bytesRequested).toBe(0);
      expect(handles.every((handle) => !handle.live)).toBe(true);
      expect(codeOf(() => handles[2]!.bytes)).toBe('DBOS_ECLOSED');
      if (views === 'detach') expect(view.length).toBe(0);
      expect(arena.alloc(100, { zero: true }).bytes.every((b) => b === 0)).toBe(true);
      expect(() => arena.alloc(8, { align: 3 })).toThrow(RangeError);
      expect(() => arena.alloc(8, { align: 8192 })).toThrow(RangeError);
      expect(() => arena.alloc(0)).toThrow(RangeError);
      expect(() => arena.alloc(1.5)).toThrow(TypeError);
      expect(codeOf(() => arena.alloc(32 * MiB))).toBe('DBOS_ENOMEM');
      arena.close();
      arena.close();
      expect(codeOf(() => arena.alloc(8))).toBe('DBOS_ECLOSED');
      expect(allocator.stats().pagesUsed).toBe(0);
      allocator.check();
      const open = allocator.arena();
      open.alloc(10);
      allocator.close(); // closes the arena too
      expect(open.status).toBe('closed');
    });

    // Node 20 has no ArrayBuffer.prototype.transfer(): there no buffer can move, and this is skipped.
    test.skipIf(!canTransfer)('a buffer moved out with ArrayBuffer.transfer() never faults, even after close', () => {
      const allocator = new Allocator({ views, limitBytes: 4 * MiB });
      const handle = allocator.alloc(64);
      handle.bytes[0] = 42;
      const buffer = handle.bytes.buffer as ArrayBuffer & { transfer: () => ArrayBuffer };
      const moved = buffer.transfer(); // Node 22+: moves the pool's memory into a new buffer
      expect(new Uint8Array(moved)[views === 'shared' ? handle.offset : 0]).toBe(42);
      allocator.close();
      // The pool's range stays mapped to zero pages: the moved buffer reads zeros, never faults.
      expect(new Uint8Array(moved)[views === 'shared' ? handle.offset : 0]).toBe(0);
    });

    test('pool memory is never transferred to another thread (a transfer copies it)', () => {
      const allocator = new Allocator({ views, limitBytes: 4 * MiB });
      const handle = allocator.alloc(64);
      handle.bytes[0] = 42;
      const buffer = handle.bytes.buffer as ArrayBuffer;
      // Node 20 copies an untransferable buffer; Node 22+ refuses the transfer. Either way the
      // pool's memory stays with the pool.
      let copy: ArrayBuffer | null = null;
      try {
        copy = structuredClone(buffer, { transfer: [buffer] });
      } catch (error) {
        expect((error as Error).name).toBe('DataCloneError');
      }
      expect(buffer.byteLength).toBeGreaterThan(0); // not detached: it stayed ours
      if (copy !== null) {
        expect(new Uint8Array(copy)[handle.bytes.byteOffset]).toBe(42);
        new Uint8Array(copy)[handle.bytes.byteOffset] = 7;
      }
      expect(handle.bytes[0]).toBe(42); // the receiver got a copy, not the pool
      expect(handle.bytes.length).toBe(64);
      allocator.free(handle);
      allocator.close();
    });
  });
}

test('trim returns freed memory to the OS in batches', () => {
  const allocator = new Allocator({ limitBytes: 64 * MiB, prefaultBytes: 0, retainBytes: 64 * MiB });
  const handle = allocator.alloc(32 * MiB);
  handle.bytes.fill(1);
  allocator.free(handle);
  const before = allocator.stats();
  expect(before.pagesFreeResident * 4096).toBeGreaterThanOrEqual(32 * MiB);
  const released = allocator.trim(0);
  expect(released).toBeGreaterThanOrEqual(32 * MiB);
  const after = allocator.stats();
  expect(after.residentBytes).toBeLessThan(before.residentBytes);
  expect(after.pagesFreeResident).toBe(0);
  expect(after.releaseCount).toBeGreaterThan(0);
  expect(after.releaseCount).toBeLessThan(16); // coalesced runs, not one call per page
  expect(after.populate).toBe(true);
  allocator.close();
});

test('stats count objects in the JavaScript cache as cached, not in use', () => {
  const allocator = new Allocator({ views: 'shared', limitBytes: 8 * MiB });
  const handles = Array.from({ length: 100 }, () => allocator.alloc(100));
  let stats = allocator.stats();
  const entry = stats.classes[classIndexOf(100)]!;
  expect(entry.objectsInUse).toBe(100);
  expect(stats.bytesRequested).toBe(100 * 100);
  expect(stats.bytesInUse).toBe(100 * 112);
  for (const handle of handles) allocator.free(handle);
  stats = allocator.stats();
  const after = stats.classes[classIndexOf(100)]!;
  expect(after.objectsInUse).toBe(0);
  expect(after.objectsInUse + after.objectsCached + after.objectsFree).toBe(after.slabCount * after.slabObjects);
  expect(stats.pagesFree + stats.pagesCached + stats.pagesUsed).toBe(stats.pagesTotal);
  expect(stats.fragmentationExternal).toBeGreaterThan(0);
  allocator.close();
});
