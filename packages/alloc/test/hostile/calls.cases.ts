// Every public call of @dbos/alloc under hostile arguments (argument fuzz). Each case works on
// allocators of both view modes with allocations and an arena kept across calls; after every
// call each kept live allocation is read and written end to end, so a call that freed or unmapped
// memory a live handle still shows crashes the child here instead of passing.
import fc from 'fast-check';
import { type CaseTable, call, hostileNumber, hostileOptions, hostileValue, mostly, sizeLike } from '@dbos/hostile';
import { type Allocation, Allocator, type Arena, classIndexOf } from '../../src/index.js';

const MiB = 2 ** 20;

interface Target {
  shared: Allocator;
  detach: Allocator;
  arenas: Arena[];
  kept: Allocation[];
}

/** Write and read back every kept live allocation, first and last byte and every 4 KiB between. */
function touchKept(target: Target): void {
  target.kept = target.kept.filter((allocation) => allocation.live);
  for (const allocation of target.kept) {
    const bytes = allocation.bytes;
    for (let at = 0; at < bytes.length; at += 4096) bytes[at] = (bytes[at] ?? 0) ^ 0;
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0;
  }
}

function setup(): Target {
  const shared = new Allocator({ limitBytes: 32 * MiB, prefaultBytes: 2 * MiB });
  const detach = new Allocator({ limitBytes: 32 * MiB, prefaultBytes: 0, views: 'detach' });
  const arenas = [shared.arena(), detach.arena({ chunkBytes: 8192 })];
  const kept = [
    shared.alloc(100),
    shared.alloc(70_000),
    detach.alloc(100),
    detach.alloc(70_000),
    ...arenas.map((arena) => arena.alloc(64)),
  ];
  return { shared, detach, arenas, kept };
}

function teardown(target: Target): void {
  target.shared.close();
  target.detach.close();
  touchKept(target); // every handle is dead now: nothing to touch
}

/** A call on the case's allocators: kept allocations are checked after it, whatever it did. */
function onAllocators<A extends unknown[]>(args: { [K in keyof A]: fc.Arbitrary<A[K]> }, body: (target: Target, ...args: A) => unknown) {
  return call<A>(
    args,
    (target, ...values) => {
      const state = target as Target;
      try {
        const result = body(state, ...values);
        if (result && typeof result === 'object' && 'live' in result) state.kept.push(result as Allocation);
        return result;
      } finally {
        touchKept(state);
      }
    },
    { setup, teardown: (target) => teardown(target as Target) },
  );
}

const which = fc.constantFrom('shared', 'detach');
const allocatorOf = (target: Target, name: unknown): Allocator => (name === 'detach' ? target.detach : target.shared);

/** Sizes: small and class-boundary values, the pool's edges, and hostile numbers. */
const size = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 70_000 }), weight: 4 },
  { arbitrary: fc.constantFrom(0, 1, 16, 17, 65_536, 65_537, 32 * MiB, 32 * MiB + 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2), weight: 2 },
  { arbitrary: sizeLike(), weight: 2 },
  { arbitrary: hostileValue(), weight: 1 },
);

const allocOptions = fc.oneof(fc.record({ zero: mostly(fc.boolean()) }, { requiredKeys: [] }), hostileOptions(['zero']));

/** Typed-array constructors, look-alikes, and anything else. */
const typedArrayType = fc.oneof(
  {
    arbitrary: fc.constantFrom<unknown>(
      Uint8Array,
      Int8Array,
      Uint8ClampedArray,
      Uint16Array,
      Int16Array,
      Uint32Array,
      Int32Array,
      Float32Array,
      Float64Array,
      BigInt64Array,
      BigUint64Array,
    ),
    weight: 3,
  },
  {
    arbitrary: fc.constantFrom<unknown>(
      DataView,
      ArrayBuffer,
      Array,
      { BYTES_PER_ELEMENT: 1 },
      { BYTES_PER_ELEMENT: 0 },
      { BYTES_PER_ELEMENT: -8 },
      class extends Uint8Array {},
      new Proxy(Uint8Array, {}),
      Object.assign(() => new Uint8Array(1), { BYTES_PER_ELEMENT: 1 }),
    ),
    weight: 2,
  },
  { arbitrary: hostileValue(), weight: 1 },
);

/** An allocation argument: live ones of either allocator or an arena, freed ones, look-alikes, anything. */
const allocationArgument = fc.oneof(
  { arbitrary: fc.constantFrom('live-shared', 'live-detach', 'arena', 'freed', 'other-allocator', 'prototype', 'proxy'), weight: 3 },
  { arbitrary: hostileValue(), weight: 1 },
);

function allocationFor(target: Target, name: unknown): unknown {
  switch (name) {
    case 'live-shared':
      return target.shared.alloc(48);
    case 'live-detach':
      return target.detach.alloc(48);
    case 'arena':
      return target.arenas[0]?.alloc(16);
    case 'freed': {
      const allocation = target.shared.alloc(32);
      target.shared.free(allocation);
      return allocation;
    }
    case 'other-allocator':
      return target.kept.find((allocation) => allocation.live);
    case 'prototype':
      return Object.create(Object.getPrototypeOf(target.shared.alloc(16)));
    case 'proxy':
      return new Proxy(target.shared.alloc(16), {});
    default:
      return name;
  }
}

const allocatorOptions = fc.oneof(
  fc.record(
    {
      limitBytes: fc.oneof(
        fc.constantFrom(2 * MiB, 4 * MiB + 1, 2 ** 32, 2 ** 40, 2 ** 44, 2 ** 45, 2 ** 53),
        hostileNumber(),
        hostileValue(),
      ),
      prefaultBytes: fc.oneof(fc.constantFrom(0, 4096, 2 * MiB, 2 ** 32, 2 ** 40), hostileNumber(), hostileValue()),
      retainBytes: mostly(fc.constantFrom(0, 4096, 2 ** 40)),
      hugePages: hostileValue(),
      populate: hostileValue(),
      junk: hostileValue(),
      views: mostly(fc.constantFrom('shared', 'detach')),
      runtime: mostly(fc.constantFrom('host', 'guest')),
    },
    { requiredKeys: [] },
  ),
  hostileOptions(['limitBytes', 'prefaultBytes', 'retainBytes', 'hugePages', 'populate', 'junk', 'views', 'runtime']),
);

export default {
  'new Allocator(options)': call([allocatorOptions, fc.boolean()], (_t, options, use) => {
    const allocator = new Allocator(options as never);
    try {
      if (use) {
        const allocation = allocator.alloc(100);
        allocation.bytes[99] = 1;
        allocator.free(allocation);
        allocator.stats();
      }
      return [allocator.limitBytes, allocator.views, allocator.status];
    } finally {
      allocator.close();
    }
  }),
  'alloc(size, options)': onAllocators([which, size, allocOptions], (t, name, bytes, options) =>
    allocatorOf(t, name).alloc(bytes as number, options as never),
  ),
  'allocArray(type, length, options)': onAllocators(
    [which, typedArrayType, size, allocOptions],
    (t, name, type, length, options) => allocatorOf(t, name).allocArray(type as never, length as number, options as never).allocation,
  ),
  'allocFloat64Array(length, options) / allocUint32Array(length, options)': onAllocators(
    [which, fc.boolean(), size, allocOptions],
    (t, name, float, length, options) => {
      const allocator = allocatorOf(t, name);
      return (
        float
          ? allocator.allocFloat64Array(length as number, options as never)
          : allocator.allocUint32Array(length as number, options as never)
      ).allocation;
    },
  ),
  'free(allocation)': onAllocators([which, allocationArgument], (t, name, allocation) =>
    allocatorOf(t, name).free(allocationFor(t, allocation) as never),
  ),
  'arena(options)': onAllocators(
    [
      which,
      fc.oneof(fc.record({ chunkBytes: fc.oneof(size, hostileNumber()) }, { requiredKeys: [] }), hostileOptions(['chunkBytes'])),
      fc.boolean(),
    ],
    (t, name, options, close) => {
      const arena = allocatorOf(t, name).arena(options as never);
      arena.alloc(10).bytes[9] = 1;
      if (close) arena.close();
      else t.arenas.push(arena);
    },
  ),
  'arena.alloc(size, options)': onAllocators(
    [
      fc.integer({ min: 0, max: 1 }),
      size,
      fc.oneof(
        fc.record(
          { align: fc.oneof(fc.constantFrom(1, 2, 16, 4096, 8192, 3, 0), hostileNumber(), hostileValue()), zero: hostileValue() },
          { requiredKeys: [] },
        ),
        hostileOptions(['align', 'zero']),
      ),
    ],
    (t, index, bytes, options) => t.arenas[index]?.alloc(bytes as number, options as never),
  ),
  'arena.reset() / close() / status / bytesRequested / bytesReserved': onAllocators(
    [fc.integer({ min: 0, max: 5 }), fc.constantFrom('reset', 'close', 'read'), hostileValue()],
    (t, index, action, argument) => {
      const arena = t.arenas[index % t.arenas.length];
      if (!arena) return;
      if (action === 'reset') (arena.reset as (value: unknown) => void)(argument);
      if (action === 'close') (arena.close as (value: unknown) => void)(argument);
      return [arena.status, arena.bytesRequested, arena.bytesReserved];
    },
  ),
  'allocation.bytes / view() / array(type) / offset / live': onAllocators([allocationArgument, typedArrayType], (t, name, type) => {
    // The getters and methods of Allocation.prototype, called on whatever the argument is.
    const allocation = allocationFor(t, name);
    const prototype = Object.getPrototypeOf(t.kept[0]) as Allocation;
    const read = (key: 'offset' | 'live' | 'bytes') => Reflect.get(prototype, key, allocation) as unknown;
    return [
      read('offset'),
      read('live'),
      (read('bytes') as Uint8Array).length,
      prototype.view.call(allocation).byteLength,
      (prototype.array.call(allocation, type as never) as ArrayLike<unknown>).length,
    ];
  }),
  'stats() / check() / trim(keepBytes) / status / limitBytes / views': onAllocators(
    [which, fc.oneof(sizeLike(), hostileValue())],
    (t, name, keep) => {
      const allocator = allocatorOf(t, name);
      allocator.check();
      return [allocator.stats().bytesInUse, allocator.trim(keep as number), allocator.status, allocator.limitBytes, allocator.views];
    },
  ),
  'classIndexOf(size)': call([fc.oneof(size, hostileValue())], (_t, bytes) => {
    const index = classIndexOf(bytes as number);
    if (!Number.isInteger(index) || index < -1) throw new Error(`classIndexOf returned ${String(index)}`);
  }),
  'methods called on something that is not an Allocator, Allocation or Arena': call(
    [
      fc.constantFrom('Allocator', 'Allocation', 'Arena'),
      fc.nat(),
      fc.oneof(hostileValue(), fc.constantFrom('prototype-object')),
      fc.array(hostileValue(), { maxLength: 3 }),
    ],
    (target, className, pick, receiver, args) => {
      const state = target as Target;
      const prototype =
        className === 'Allocator'
          ? Allocator.prototype
          : className === 'Allocation'
            ? Object.getPrototypeOf(state.kept[0])
            : Object.getPrototypeOf(state.arenas[0]);
      const names = Object.getOwnPropertyNames(prototype).filter((name) => name !== 'constructor');
      const name = names[pick % names.length] as string;
      const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
      const self = receiver === 'prototype-object' ? Object.create(prototype) : receiver;
      if (descriptor?.get) return descriptor.get.call(self);
      if (typeof descriptor?.value === 'function') return (descriptor.value as (...values: unknown[]) => unknown).apply(self, args);
    },
    { setup, teardown: (target) => teardown(target as Target) },
  ),
} satisfies CaseTable;
