// Arena: bump allocation over pool pages, released all at once (per-transaction memory).
import { constants as bufferConstants } from 'node:buffer';
import { callNative, describeValue, fromNative, hasCode, rangeError, typeError } from '@dbos/platform';
import { type Allocation, type ArenaEpoch, allocationInternals } from './allocation.js';
import { ARENA_ALIGNMENT_MAX } from './classes.js';
import { closedError } from './errors.js';
import { addon, type NativeArena, type NativePool } from './native.js';

export interface ArenaOptions {
  /** Bytes taken from the pool at a time, rounded up to 4 KiB pages. Default 64 KiB. */
  chunkBytes?: number;
}

export interface ArenaAllocOptions {
  /** Alignment, a power of two from 1 to 4096 bytes. Default 16. */
  align?: number;
  /** Return zeroed memory. Default false. */
  zero?: boolean;
}

/** Internal constructor access for Allocator. */
export let arenaInternals: {
  create(
    owner: object,
    pool: NativePool,
    memory: ArrayBuffer | undefined,
    options: ArenaOptions,
    hooks: { onClose: () => void; reclaim: () => void },
  ): Arena;
};

/**
 * Memory that dies together: allocation is a pointer bump inside page chunks,
 * and `reset()` gives every chunk back to the pool in one batch.  Allocations
 * cannot be freed one by one.  After reset() or close() every allocation of
 * the arena is dead (its views are detached with `views: 'detach'`).  One
 * arena is used by one thread.
 */
export class Arena {
  #owner: object;
  #native: NativeArena;
  #pool: NativePool;
  #memory: ArrayBuffer | undefined;
  #epoch: ArenaEpoch = { generation: 0, closed: false };
  #buffers: ArrayBuffer[] = [];
  #hooks: { onClose: () => void; reclaim: () => void };
  #scratch = new Float64Array(1);

  private constructor(
    owner: object,
    pool: NativePool,
    memory: ArrayBuffer | undefined,
    options: ArenaOptions,
    hooks: { onClose: () => void; reclaim: () => void },
  ) {
    const chunkBytes = options.chunkBytes ?? 0;
    if (typeof chunkBytes !== 'number' || !Number.isSafeInteger(chunkBytes) || chunkBytes < 0) {
      throw typeError(`chunkBytes must be a non-negative integer (got ${describeValue(chunkBytes)})`);
    }
    this.#native = callNative(() => new addon.NativeArena(pool, chunkBytes), 'arena');
    this.#owner = owner;
    this.#pool = pool;
    this.#memory = memory;
    this.#hooks = hooks;
  }

  static {
    arenaInternals = {
      create: (owner, pool, memory, options, hooks) => new Arena(owner, pool, memory, options, hooks),
    };
  }

  /** `self` as an Arena, or a TypeError: getters and methods called on anything else. */
  static #of(self: unknown): Arena {
    if (typeof self !== 'object' || self === null || !(#native in self)) throw typeError('this is not an Arena');
    return self;
  }

  /** 'open' until close() (or the allocator's close()). */
  get status(): 'open' | 'closed' {
    return Arena.#of(this).#epoch.closed ? 'closed' : 'open';
  }

  /** Bytes requested since the last reset. */
  get bytesRequested(): number {
    return Arena.#of(this).#native.bytes()[0];
  }

  /** Bytes of pool pages the arena holds (its chunks). */
  get bytesReserved(): number {
    return Arena.#of(this).#native.bytes()[1];
  }

  /**
   * Allocate `size` bytes.  Throws DBOS_ENOMEM when the pool is full,
   * DBOS_ECLOSED after close(), TypeError / RangeError for bad arguments.
   */
  alloc(size: number, options?: ArenaAllocOptions): Allocation {
    const self = Arena.#of(this);
    if (self.#epoch.closed) throw closedError('arena');
    // As Allocator.alloc: a wrong type is a TypeError, a number out of range a RangeError.
    if (typeof size !== 'number' || !Number.isSafeInteger(size)) throw typeError('size must be an integer');
    if (size < 1) throw rangeError('size must be at least 1 byte');
    if (size > bufferConstants.MAX_LENGTH) throw rangeError('size exceeds the largest ArrayBuffer');
    const align = options?.align ?? 16;
    if (typeof align !== 'number') throw typeError(`align must be a number (got ${describeValue(align)})`);
    if (!Number.isInteger(align) || align < 1 || align > ARENA_ALIGNMENT_MAX || (align & (align - 1)) !== 0) {
      throw rangeError(`align must be a power of two from 1 to ${ARENA_ALIGNMENT_MAX}`);
    }
    const zero = options?.zero === true;
    try {
      return self.#alloc(size, align, zero);
    } catch (error) {
      if (!hasCode(error, 'DBOS_ENOMEM')) throw fromNative(error, 'arena alloc');
    }
    // Free objects parked in the allocator's JavaScript cache may be what is missing.
    self.#hooks.reclaim();
    return callNative(() => self.#alloc(size, align, zero), 'arena alloc');
  }

  #alloc(size: number, align: number, zero: boolean): Allocation {
    if (this.#memory !== undefined) {
      const offset = this.#native.alloc(size, align, zero);
      return allocationInternals.create(this.#owner, offset, size, -1, this.#memory, offset, this.#epoch);
    }
    const buffer = this.#native.allocBuffer(size, align, zero, this.#scratch);
    this.#buffers.push(buffer);
    return allocationInternals.create(this.#owner, this.#scratch[0] as number, size, -1, buffer, 0, this.#epoch);
  }

  #retireAll(): void {
    this.#epoch.generation++;
    if (this.#buffers.length > 0) {
      this.#pool.detachBuffers(this.#buffers);
      this.#buffers = [];
    }
  }

  /** Free every allocation at once (the chunks go back to the pool in one batch). */
  reset(): void {
    const self = Arena.#of(this);
    if (self.#epoch.closed) throw closedError('arena');
    self.#retireAll();
    callNative(() => self.#native.reset(), 'arena reset');
  }

  /** Reset and release the arena. Idempotent. */
  close(): void {
    const self = Arena.#of(this);
    if (self.#epoch.closed) return;
    self.#retireAll();
    self.#epoch.closed = true;
    self.#native.close();
    self.#hooks.onClose();
  }
}
