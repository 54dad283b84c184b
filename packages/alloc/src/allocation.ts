// Allocation: the handle for one block of pool memory, and the typed views over it.
import { describeValue, typeError } from '@dbos/platform';
import { closedError } from './errors.js';

/** Typed-array constructors an allocation can be viewed as. */
export type TypedArrayConstructor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** The constructors `array()` and `allocArray()` take: the typed arrays themselves, nothing derived. */
const TYPED_ARRAY_TYPES: ReadonlySet<unknown> = new Set<unknown>([
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
]);

/** `type` when it is one of the typed-array constructors, else a TypeError. */
export function typedArrayType<C extends TypedArrayConstructor>(type: C): C {
  if (!TYPED_ARRAY_TYPES.has(type))
    throw typeError(`type must be a typed-array constructor such as Float64Array (got ${describeValue(type)})`);
  return type;
}

/** Shared by an arena and its allocations: a reset bumps the generation, which retires the handles. */
export interface ArenaEpoch {
  generation: number;
  closed: boolean;
}

const STATE_LIVE = 0;
const STATE_FREED = 1;

/** Internal access for Allocator and Arena (not exported from the package). */
export interface AllocationInternals {
  /** True for an Allocation made here (checked by its private fields: a look-alike is not one). */
  is(value: unknown): value is Allocation;
  create(
    owner: object,
    offset: number,
    size: number,
    classIndex: number,
    buffer: ArrayBuffer,
    byteOffset: number,
    epoch: ArenaEpoch | null,
  ): Allocation;
  /**
   * Mark freed; false when it was not live (a double free), or not `owner`'s.  With `moved`,
   * an allocation whose own buffer was moved out (not live, yet never freed) is retired too.
   */
  retire(allocation: Allocation, owner: object, moved?: boolean): boolean;
  /** True when `owner`'s allocation was never freed but its own buffer was moved out (transfer()). */
  moved(allocation: Allocation, owner: object): boolean;
  owner(allocation: Allocation): object | undefined;
  classIndex(allocation: Allocation): number;
  epoch(allocation: Allocation): ArenaEpoch | null;
  /** The allocation's own external ArrayBuffer ('detach' views), or the whole pool's ('shared'). */
  buffer(allocation: Allocation): ArrayBuffer;
}

export let allocationInternals: AllocationInternals;

/**
 * One block of off-heap memory from an {@link Allocator} or an {@link Arena}.
 * It is not managed by the garbage collector: free it with `free()` (or the
 * arena's `reset()`), or it lives until the allocator is closed.
 *
 * Views (`bytes`, `view()`, `array()`) are only handed out while the handle is
 * live; afterwards they throw DBOS_ECLOSED.  With `views: 'shared'` (the
 * default) views are windows on the pool's one ArrayBuffer, and a view kept
 * past free() sees whatever reuses the memory: never unmapped memory, because
 * the pool stays mapped until close(), which detaches everything.  With
 * `views: 'detach'` freeing detaches the allocation's own ArrayBuffer, so
 * every view taken before becomes zero-length at once.
 */
export class Allocation {
  /** Bytes requested. */
  readonly size: number;
  #owner: object;
  #offset: number;
  #classIndex: number;
  #buffer: ArrayBuffer;
  #byteOffset: number;
  #epoch: ArenaEpoch | null;
  #generation: number;
  #state = STATE_LIVE;
  #bytes: Uint8Array | undefined;

  private constructor(
    owner: object,
    offset: number,
    size: number,
    classIndex: number,
    buffer: ArrayBuffer,
    byteOffset: number,
    epoch: ArenaEpoch | null,
  ) {
    this.#owner = owner;
    this.#offset = offset;
    this.size = size;
    this.#classIndex = classIndex;
    this.#buffer = buffer;
    this.#byteOffset = byteOffset;
    this.#epoch = epoch;
    this.#generation = epoch ? epoch.generation : 0;
  }

  static {
    allocationInternals = {
      is: (value): value is Allocation => typeof value === 'object' && value !== null && #owner in value,
      create: (owner, offset, size, classIndex, buffer, byteOffset, epoch) =>
        new Allocation(owner, offset, size, classIndex, buffer, byteOffset, epoch),
      retire(allocation, owner, moved = false) {
        if (allocation.#owner !== owner || allocation.#state !== STATE_LIVE) return false;
        if (!allocation.live && !(moved && allocation.#buffer.byteLength === 0)) return false;
        allocation.#state = STATE_FREED;
        allocation.#bytes = undefined;
        return true;
      },
      moved: (allocation, owner) =>
        allocation.#owner === owner &&
        allocation.#state === STATE_LIVE &&
        allocation.#epoch === null &&
        allocation.#buffer.byteLength === 0,
      owner: (allocation) => (#owner in allocation ? allocation.#owner : undefined),
      classIndex: (allocation) => allocation.#classIndex,
      epoch: (allocation) => allocation.#epoch,
      buffer: (allocation) => allocation.#buffer,
    };
  }

  /** `self` as an Allocation, or a TypeError: getters and methods called on anything else. */
  static #of(self: unknown): Allocation {
    if (typeof self !== 'object' || self === null || !(#owner in self)) throw typeError('this is not an Allocation');
    return self;
  }

  /** Byte offset of this block from the start of the pool (stable for its lifetime; diagnostics). */
  get offset(): number {
    return Allocation.#of(this).#offset;
  }

  /** True until freed, reset (arena) or closed (the allocator's close() detaches the memory). */
  get live(): boolean {
    const self = Allocation.#of(this);
    const epoch = self.#epoch;
    return (
      self.#state === STATE_LIVE &&
      self.#buffer.byteLength !== 0 &&
      (epoch === null || (epoch.generation === self.#generation && !epoch.closed))
    );
  }

  #check(): void {
    if (!this.live) throw closedError('allocation (freed, reset or closed)');
  }

  /** The block as bytes. Throws DBOS_ECLOSED once freed. Does not block. */
  get bytes(): Uint8Array {
    const self = Allocation.#of(this);
    const cached = self.#bytes;
    if (cached !== undefined && cached.byteLength !== 0 && self.#state === STATE_LIVE && self.#epoch === null) {
      return cached;
    }
    self.#check();
    const bytes = new Uint8Array(self.#buffer, self.#byteOffset, self.size);
    self.#bytes = bytes;
    return bytes;
  }

  /** A DataView over the block. Throws DBOS_ECLOSED once freed. */
  view(): DataView {
    const self = Allocation.#of(this);
    self.#check();
    return new DataView(self.#buffer, self.#byteOffset, self.size);
  }

  /**
   * The block as a typed array of `Math.floor(size / BYTES_PER_ELEMENT)`
   * elements (blocks are 16-byte aligned, so any element type fits).
   * TypeError unless `type` is a typed-array constructor (Float64Array, …).
   */
  array<C extends TypedArrayConstructor>(type: C): InstanceType<C> {
    const self = Allocation.#of(this);
    const checked = typedArrayType(type);
    self.#check();
    const length = Math.floor(self.size / checked.BYTES_PER_ELEMENT);
    return new checked(self.#buffer, self.#byteOffset, length) as InstanceType<C>;
  }
}
