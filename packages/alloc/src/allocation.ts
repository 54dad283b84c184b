// Allocation: the handle for one block of pool memory, and the typed views over it.
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

/** Shared by an arena and its allocations: a reset bumps the generation, which retires the handles. */
export interface ArenaEpoch {
  generation: number;
  closed: boolean;
}

const STATE_LIVE = 0;
const STATE_FREED = 1;

/** Internal access for Allocator and Arena (not exported from the package). */
export interface AllocationInternals {
  create(
    owner: object,
    offset: number,
    size: number,
    classIndex: number,
    buffer: ArrayBuffer,
    byteOffset: number,
    epoch: ArenaEpoch | null,
  ): Allocation;
  /** Mark freed; false when it was not live (a double free), or not `owner`'s. */
  retire(allocation: Allocation, owner: object): boolean;
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
      create: (owner, offset, size, classIndex, buffer, byteOffset, epoch) =>
        new Allocation(owner, offset, size, classIndex, buffer, byteOffset, epoch),
      retire(allocation, owner) {
        if (allocation.#owner !== owner || !allocation.live) return false;
        allocation.#state = STATE_FREED;
        allocation.#bytes = undefined;
        return true;
      },
      owner: (allocation) => (#owner in allocation ? allocation.#owner : undefined),
      classIndex: (allocation) => allocation.#classIndex,
      epoch: (allocation) => allocation.#epoch,
      buffer: (allocation) => allocation.#buffer,
    };
  }

  /** Byte offset of this block from the start of the pool (stable for its lifetime; diagnostics). */
  get offset(): number {
    return this.#offset;
  }

  /** True until freed, reset (arena) or closed (the allocator's close() detaches the memory). */
  get live(): boolean {
    const epoch = this.#epoch;
    return (
      this.#state === STATE_LIVE &&
      this.#buffer.byteLength !== 0 &&
      (epoch === null || (epoch.generation === this.#generation && !epoch.closed))
    );
  }

  #check(): void {
    if (!this.live) throw closedError('allocation (freed, reset or closed)');
  }

  /** The block as bytes. Throws DBOS_ECLOSED once freed. Does not block. */
  get bytes(): Uint8Array {
    const cached = this.#bytes;
    if (cached !== undefined && cached.byteLength !== 0 && this.#state === STATE_LIVE && this.#epoch === null) {
      return cached;
    }
    this.#check();
    const bytes = new Uint8Array(this.#buffer, this.#byteOffset, this.size);
    this.#bytes = bytes;
    return bytes;
  }

  /** A DataView over the block. Throws DBOS_ECLOSED once freed. */
  view(): DataView {
    this.#check();
    return new DataView(this.#buffer, this.#byteOffset, this.size);
  }

  /**
   * The block as a typed array of `Math.floor(size / BYTES_PER_ELEMENT)`
   * elements (blocks are 16-byte aligned, so any element type fits).
   */
  array<C extends TypedArrayConstructor>(type: C): InstanceType<C> {
    this.#check();
    const length = Math.floor(this.size / type.BYTES_PER_ELEMENT);
    return new type(this.#buffer, this.#byteOffset, length) as InstanceType<C>;
  }
}
