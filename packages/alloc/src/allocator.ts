// Allocator: a pool of off-heap memory with page, object and arena allocation.
import { constants as bufferConstants } from 'node:buffer';
import { DbosError, callNative, describeValue, fromNative, hasCode, rangeError, typeError } from '@dbos/platform';
import { type Allocation, allocationInternals, type TypedArrayConstructor, typedArrayType } from './allocation.js';
import { type Arena, type ArenaOptions, arenaInternals } from './arena.js';
import { CLASS_SIZES, LIMIT_BYTES_MIN, OBJECT_SIZE_MAX, PAGE_SIZE, cacheCapacityOf, classOfCheckedSize } from './classes.js';
import { closedError, invalidFree } from './errors.js';
import { buffersCanMove } from './movable.js';
import { addon, type NativePool } from './native.js';
import { type AllocStats, statsFromNative } from './stats.js';

const MiB = 1024 * 1024;

/** How views relate to freed memory. See {@link Allocation}. */
export type ViewMode = 'detach' | 'shared';

export interface AllocatorOptions {
  /**
   * The pool's size and hard memory limit, bytes (>= 2 MiB). Default 256 MiB.
   * With views 'shared' at most `buffer.constants.MAX_LENGTH` (4 GiB on Node 20).
   */
  limitBytes?: number;
  /** Bytes pre-faulted at creation. Default min(limitBytes, 16 MiB). More than half the machine's RAM: DBOS_ENOMEM. */
  prefaultBytes?: number;
  /** Free memory kept resident for reuse before batched release, bytes. Default min(limitBytes, 64 MiB). */
  retainBytes?: number;
  /** Ask for 2 MiB pages (THP, where the kernel allows `madvise`). Default true. */
  hugePages?: boolean;
  /** Pre-fault pages in batches when they become resident. Default true. */
  populate?: boolean;
  /** Fill freed objects with 0x5a (debugging). Default false. */
  junk?: boolean;
  /**
   * 'shared' (default): views are windows on one pool-wide ArrayBuffer and
   * small objects come from a JavaScript-side cache refilled in batches (about
   * 100 ns per alloc+free); a view kept past free() aliases the memory's next
   * user but can never fault (the pool stays mapped until close(), which
   * detaches the one buffer and with it every view).
   * 'detach': every allocation gets its own external ArrayBuffer, detached by
   * free(), so no view outlives its memory; Node-API makes each such buffer
   * cost about 2–4 µs per alloc+free. Use it to hunt use-after-free bugs.
   */
  views?: ViewMode;
  /**
   * 'host' (default). 'guest' throws DBOS_ENOTSUP: the C core runs inside guest images (an engine
   * linked into one allocates there), but a JavaScript Allocator backed by the guest is not built yet.
   */
  runtime?: 'host' | 'guest';
}

export interface AllocOptions {
  /** Return zeroed memory. Default false (the pool never zeroes unless asked). */
  zero?: boolean;
}

/** Per-class JavaScript cache ('shared' views): offsets of objects the addon handed over in a batch. */
interface ClassCache {
  offsets: Float64Array;
  count: number;
  capacity: number;
  size: number;
}

function optionBytes(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw typeError(`${name} must be a non-negative integer number of bytes (got ${describeValue(value)})`);
  }
  return value;
}

/** A boolean option: absent gives `fallback`; anything but a boolean is a TypeError. */
function optionFlag(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(`${name} must be a boolean (got ${describeValue(value)})`);
  return value;
}

/** The options object of a call: undefined means none; anything but an object is a TypeError. */
function optionsOf<T extends object>(options: T | undefined, name = 'options'): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw typeError(`${name} must be an object (got ${describeValue(options)})`);
  return options;
}

/**
 * A pool of off-heap memory: `limitBytes` of address space reserved once,
 * pre-faulted, never exceeded.  Objects of 16 B .. 64 KiB come from slabs,
 * larger blocks are page runs; arenas give bump allocation with one reset.
 * Methods are synchronous and do not block, except `trim()` and `close()`,
 * which make system calls (about 0.2 µs per released 4 KiB page).
 */
export class Allocator {
  readonly limitBytes: number;
  readonly views: ViewMode;
  #native: NativePool;
  #memory: ArrayBuffer | undefined;
  #caches: ClassCache[] | undefined;
  #slackBytes = 0;
  // Counting for stats(): objects moved between the pool and the JavaScript cache in batches
  // are native allocs/frees; what the user sees is one alloc/free per cached hand-out/return.
  #cacheIn = 0;
  #cacheOut = 0;
  #cacheAllocs = 0;
  #cacheFrees = 0;
  #scratch = new Float64Array(1);
  #live: Set<Allocation> | undefined;
  #arenas = new Set<Arena>();
  #closed = false;
  #junk: boolean;

  constructor(options: AllocatorOptions = {}) {
    if (typeof options !== 'object' || options === null) throw typeError('options must be an object');
    if (options.runtime !== undefined && options.runtime !== 'host') {
      if (options.runtime === 'guest') {
        throw new DbosError(
          'DBOS_ENOTSUP',
          'a JavaScript Allocator on the guest runtime is not built yet (the C core runs inside guest images); use runtime: "host"',
        );
      }
      throw typeError("runtime must be 'host' or 'guest'");
    }
    const views = options.views ?? 'shared';
    if (views !== 'detach' && views !== 'shared') throw typeError("views must be 'detach' or 'shared'");
    const limitBytes = optionBytes(options.limitBytes, 'limitBytes', 256 * MiB);
    if (limitBytes < LIMIT_BYTES_MIN) throw rangeError(`limitBytes must be at least ${LIMIT_BYTES_MIN} bytes`);
    if (views === 'shared' && limitBytes > bufferConstants.MAX_LENGTH) {
      throw rangeError(`views 'shared' need limitBytes <= ${bufferConstants.MAX_LENGTH} (the largest ArrayBuffer); use views 'detach'`);
    }
    const prefaultBytes = optionBytes(options.prefaultBytes, 'prefaultBytes', Math.min(limitBytes, 16 * MiB));
    if (prefaultBytes > limitBytes) throw rangeError('prefaultBytes must not exceed limitBytes');
    const retainBytes = optionBytes(options.retainBytes, 'retainBytes', Math.min(limitBytes, 64 * MiB));
    let flags = 0;
    if (optionFlag(options.hugePages, 'hugePages', true)) flags |= addon.flagHugePages;
    if (optionFlag(options.populate, 'populate', true)) flags |= addon.flagPopulate;
    this.#junk = optionFlag(options.junk, 'junk', false);
    if (this.#junk) flags |= addon.flagJunk;
    if (buffersCanMove) flags |= addon.flagRetainAddressSpace;
    this.#native = callNative(() => new addon.NativePool(limitBytes, prefaultBytes, retainBytes, flags, 0), 'creating the allocator');
    this.limitBytes = limitBytes - (limitBytes % PAGE_SIZE);
    this.views = views;
    if (views === 'shared') {
      this.#memory = this.#native.memory(bufferConstants.MAX_LENGTH);
      this.#caches = CLASS_SIZES.map((size, index) => {
        const capacity = cacheCapacityOf(index);
        return { offsets: new Float64Array(capacity), count: 0, capacity, size };
      });
    } else {
      this.#live = new Set();
    }
  }

  /** `self` as an Allocator, or a TypeError: getters and methods called on anything else. */
  static #of(self: unknown): Allocator {
    if (typeof self !== 'object' || self === null || !(#closed in self)) throw typeError('this is not an Allocator');
    return self;
  }

  /** 'open' until close(). */
  get status(): 'open' | 'closed' {
    return Allocator.#of(this).#closed ? 'closed' : 'open';
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError('allocator');
  }

  #checkSize(size: number): void {
    if (typeof size !== 'number' || !Number.isSafeInteger(size)) throw typeError('size must be an integer');
    if (size < 1 || size > this.limitBytes) throw rangeError(`size must be 1 .. ${this.limitBytes} bytes`);
    if (size > bufferConstants.MAX_LENGTH) {
      throw rangeError(`size must be at most ${bufferConstants.MAX_LENGTH} bytes (the largest ArrayBuffer)`);
    }
  }

  /**
   * Allocate `size` bytes (1 .. limitBytes), 16-byte aligned, not zeroed unless
   * `zero`.  Throws DBOS_ENOMEM when the pool's limit is reached (or for one
   * block larger than half the machine's RAM, which no limit makes safe to back),
   * TypeError / RangeError for a bad size, DBOS_ECLOSED after close().  Does not block.
   */
  alloc(size: number, options?: AllocOptions): Allocation {
    const self = Allocator.#of(this);
    return self.#allocChecked(size, options);
  }

  #allocChecked(size: number, options: AllocOptions | undefined): Allocation {
    if (this.#closed) this.#checkOpen();
    this.#checkSize(size);
    const zero = options?.zero === true;
    // 'shared' views: caches and the pool-wide buffer exist together; 'detach': neither does.
    const caches = this.#caches;
    const memory = this.#memory;
    // A pool buffer moved out with ArrayBuffer.prototype.transfer() leaves nothing to view through.
    if (memory !== undefined && memory.byteLength === 0) throw closedError('allocator memory (moved out of its ArrayBuffer)');
    let allocation: Allocation;
    if (caches !== undefined && memory !== undefined && size <= OBJECT_SIZE_MAX) {
      const classIndex = classOfCheckedSize(size);
      // A size up to OBJECT_SIZE_MAX has a class, and a refilled cache holds at least one offset.
      const cache = caches[classIndex] as ClassCache;
      if (cache.count === 0) this.#refill(cache);
      const offset = cache.offsets[--cache.count] as number;
      this.#slackBytes += cache.size - size;
      this.#cacheAllocs++;
      allocation = allocationInternals.create(this, offset, size, classIndex, memory, offset, null);
      if (zero) allocation.bytes.fill(0);
      return allocation;
    }
    try {
      if (memory !== undefined) {
        const offset = this.#allocLarge(size, zero);
        return allocationInternals.create(this, offset, size, -1, memory, offset, null);
      }
      const buffer = this.#native.allocBuffer(size, zero, this.#scratch);
      allocation = allocationInternals.create(this, this.#scratch[0] as number, size, -1, buffer, 0, null);
    } catch (error) {
      throw fromNative(error, 'alloc');
    }
    this.#live?.add(allocation);
    return allocation;
  }

  #allocLarge(size: number, zero: boolean): number {
    try {
      return this.#native.alloc(size, zero);
    } catch (error) {
      if (!hasCode(error, 'DBOS_ENOMEM')) throw error;
      // Objects parked in the JavaScript cache keep their slabs (and pages) busy: return them, retry.
      this.#flushCaches();
      return this.#native.alloc(size, zero);
    }
  }

  #refill(cache: ClassCache): void {
    const want = cache.capacity >> 1;
    let got: number;
    try {
      got = this.#native.allocBatch(cache.size, want, cache.offsets);
    } catch {
      // Out of memory: objects parked in the other classes' caches may be what is missing.
      this.#flushCaches();
      got = callNative(() => this.#native.allocBatch(cache.size, want, cache.offsets), 'alloc');
    }
    cache.count = got;
    this.#cacheIn += got;
  }

  #flushCaches(): void {
    for (const cache of this.#caches ?? []) {
      if (cache.count > 0) this.#native.freeBatch(cache.offsets, cache.count, cache.size);
      this.#cacheOut += cache.count;
      cache.count = 0;
    }
  }

  /** An allocation viewed as `length` elements of `type` (a typed-array constructor, e.g. Float64Array; else TypeError). */
  allocArray<C extends TypedArrayConstructor>(
    type: C,
    length: number,
    options?: AllocOptions,
  ): { allocation: Allocation; array: InstanceType<C> } {
    const self = Allocator.#of(this);
    const checked = typedArrayType(type);
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1) {
      throw typeError(`length must be a positive integer (got ${describeValue(length)})`);
    }
    const allocation = self.#allocChecked(length * checked.BYTES_PER_ELEMENT, options);
    return { allocation, array: allocation.array(checked) };
  }

  /** `length` float64 elements. */
  allocFloat64Array(length: number, options?: AllocOptions): { allocation: Allocation; array: Float64Array } {
    return Allocator.#of(this).allocArray(Float64Array, length, options);
  }

  /** `length` uint32 elements. */
  allocUint32Array(length: number, options?: AllocOptions): { allocation: Allocation; array: Uint32Array } {
    return Allocator.#of(this).allocArray(Uint32Array, length, options);
  }

  /**
   * Free an allocation of this allocator.  Throws DbosError DBOS_EINVAL for a
   * second free, an arena allocation (use the arena's reset()) or another
   * allocator's handle; TypeError for a non-allocation.  Does not block.
   */
  free(allocation: Allocation): void {
    const self = Allocator.#of(this);
    self.#free(allocation);
  }

  #free(allocation: Allocation): void {
    if (this.#closed) this.#checkOpen();
    if (!allocationInternals.is(allocation)) throw typeError(`free() takes an Allocation (got ${describeValue(allocation)})`);
    if (allocationInternals.epoch(allocation) !== null) {
      throw invalidFree('arena allocations are freed together by arena.reset()');
    }
    if (this.#memory === undefined && allocationInternals.moved(allocation, this)) {
      this.#freeMoved(allocation);
      return;
    }
    if (!allocationInternals.retire(allocation, this)) {
      throw invalidFree(
        allocationInternals.owner(allocation) === this
          ? 'double free: the allocation was already freed'
          : 'the allocation belongs to another allocator',
      );
    }
    const classIndex = allocationInternals.classIndex(allocation);
    const caches = this.#caches;
    const memory = this.#memory;
    try {
      if (caches !== undefined && memory !== undefined) {
        if (classIndex >= 0) {
          const cache = caches[classIndex] as ClassCache; // the class it was allocated from
          // The addon junk-fills what reaches it; objects parked here are filled here.
          if (this.#junk) new Uint8Array(memory, allocation.offset, cache.size).fill(0x5a);
          if (cache.count === cache.capacity) this.#spill(cache);
          cache.offsets[cache.count++] = allocation.offset;
          this.#slackBytes -= cache.size - allocation.size;
          this.#cacheFrees++;
          return;
        }
        this.#native.free(allocation.offset, allocation.size);
        return;
      }
      this.#live?.delete(allocation);
      this.#native.freeBuffer(allocationInternals.buffer(allocation), allocation.size);
    } catch (error) {
      throw fromNative(error, 'free');
    }
  }

  /**
   * 'detach' views: an allocation whose own buffer JavaScript moved out with
   * ArrayBuffer.prototype.transfer() (Node 22+).  The moved buffer still shows the
   * memory, which the pool keeps mapped to the end (DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE):
   * free it by offset, like a 'shared' view kept past free(), and forget the buffer.
   */
  #freeMoved(allocation: Allocation): void {
    allocationInternals.retire(allocation, this, true);
    this.#live?.delete(allocation);
    const buffer = allocationInternals.buffer(allocation);
    callNative(() => {
      this.#native.free(allocation.offset, allocation.size);
      this.#native.detachBuffers([buffer]);
    }, 'free');
  }

  #spill(cache: ClassCache): void {
    // The older half goes back to the pool; the newest stay (warm in the CPU cache).
    const half = cache.capacity >> 1;
    this.#native.freeBatch(cache.offsets, half, cache.size);
    this.#cacheOut += half;
    cache.offsets.copyWithin(0, half, cache.count);
    cache.count -= half;
  }

  /**
   * A new arena over this pool: bump allocation, freed all at once by reset().
   * Throws DBOS_ECLOSED after close().
   */
  arena(options?: ArenaOptions): Arena {
    const self = Allocator.#of(this);
    self.#checkOpen();
    const settings = { chunkBytes: optionsOf(options).chunkBytes };
    const arena = arenaInternals.create(self, self.#native, self.#memory, settings, {
      onClose: () => self.#arenas.delete(arena),
      reclaim: () => self.#flushCaches(),
    });
    self.#arenas.add(arena);
    return arena;
  }

  /**
   * Counters and derived fragmentation.  Objects parked in the JavaScript
   * cache ('shared' views) count as cached, not in use.  Does not block.
   */
  stats(): AllocStats {
    const self = Allocator.#of(this);
    self.#checkOpen();
    const native = callNative(() => self.#native.stats(), 'stats');
    return statsFromNative(
      native,
      self.#caches?.map((cache) => cache.count),
      {
        slackBytes: self.#slackBytes,
        allocDelta: self.#cacheAllocs - self.#cacheIn,
        freeDelta: self.#cacheFrees - self.#cacheOut,
      },
    );
  }

  /**
   * Walk the pool and verify its internal invariants (free lists, page map,
   * slab bitmaps, counters).  Throws DbosError DBOS_ECORRUPT naming the broken
   * invariant.  O(pool pages) and takes every lock: for tests and debugging.
   */
  check(): void {
    const self = Allocator.#of(this);
    self.#checkOpen();
    callNative(() => self.#native.check(), 'check');
  }

  /**
   * Return free resident memory to the OS until at most `keepBytes` of it
   * remains (one discard per coalesced free run).  Returns the bytes released.
   * Blocks for the system calls.
   */
  trim(keepBytes = 0): number {
    const self = Allocator.#of(this);
    self.#checkOpen();
    const keep = optionBytes(keepBytes, 'keepBytes', 0);
    return callNative(() => {
      if (self.#caches !== undefined) self.#flushCaches();
      self.#native.flush();
      return self.#native.trim(keep);
    }, 'trim');
  }

  /**
   * Close every arena, detach every view handed out and unmap the pool.
   * Live allocations become dead handles.  Idempotent.
   */
  close(): void {
    const self = Allocator.#of(this);
    if (self.#closed) return;
    for (const arena of [...self.#arenas]) arena.close();
    if (self.#live !== undefined) {
      const buffers: ArrayBuffer[] = [];
      for (const allocation of self.#live) {
        allocationInternals.retire(allocation, self, true);
        buffers.push(allocationInternals.buffer(allocation));
      }
      self.#live.clear();
      self.#native.detachBuffers(buffers);
    }
    callNative(() => self.#native.close(self.#memory), 'close');
    self.#memory = undefined;
    self.#closed = true;
  }
}
