// Spaces (memory whose snapshots we take) and snapshots: validation, defaults and handles.
// Every native call goes through @dbos/platform's callNative / settleNative: the one conversion that
// makes each error a DbosError, or a TypeError / RangeError, with a stable code.
import fs from 'node:fs/promises';
import { callNative, DbosError, rangeError, settleNative, typeError } from '@dbos/platform';
import { MECHANISM_CODES, PAGE_SIZE, SNAPSHOT_COUNT_MAX, SPACE_SIZE_MAX } from './constants.js';
import { settleImage } from './image.js';
import type { ImageInfo } from './image.js';
import { GUEST_UNSUPPORTED, mechanismName } from './mechanisms.js';
import type { SnapshotMechanism, SnapshotRuntime } from './mechanisms.js';
import { addon } from './native.js';
import type { NativeSpace } from './native.js';

// The native object behind each space: module-private, so only SnapshotSpace and Snapshot reach it.
const natives = new WeakMap<SnapshotSpace, NativeSpace>();

function nativeOf(space: SnapshotSpace): NativeSpace {
  const native = natives.get(space);
  if (!native) throw new DbosError('DBOS_EINVAL', 'not a space made by createSpace()');
  return native;
}

declare const nativeHandleBrand: unique symbol;

/**
 * What `SnapshotSpace.nativeHandle()` returns: an opaque Node-API External for a C engine's binding
 * (include/dbos/snapshot_handle.h). JavaScript can only pass it on.
 */
export type SpaceNativeHandle = { readonly [nativeHandleBrand]: true };

export interface SpaceOptions {
  /** Bytes of memory, a positive multiple of 4096 (PAGE_SIZE), at most 4 TiB. Reserved, not committed. */
  size: number;
  /**
   * How snapshots are taken. Default `'auto'`: `'epoch'` for `writes: 'barrier'`; for `writes: 'raw'`,
   * `'uffd-wp'` where userfaultfd write-protect works, else `'fork'`. Naming an unavailable mechanism
   * throws `DBOS_ENOTSUP` (see `mechanisms()`).
   */
  mechanism?: 'auto' | SnapshotMechanism;
  /**
   * How the memory is written. `'barrier'` (default): only through `write()` / `beginWrite()` (or the C
   * barrier), which is what makes O(1) epoch snapshots possible. `'raw'`: any store, e.g. through the
   * `memory` view; the kernel catches first writes (uffd-wp) or fork freezes the image.
   */
  writes?: 'barrier' | 'raw';
  /**
   * Back the memory with 2 MiB transparent huge pages (MADV_HUGEPAGE). Default: true for `writes: 'raw'`
   * (uffd-wp protects and fork copies one entry per 2 MiB instead of 512: a 256 MiB take drops from tens of
   * milliseconds to tens of microseconds), false for `'barrier'` (epoch takes cost nothing either way).
   */
  hugePages?: boolean;
  /** Fault all memory in now (MADV_POPULATE_WRITE) instead of on first touch. Default false. */
  populate?: boolean;
  /**
   * epoch and uffd-wp: bytes of copy memory kept faulted in ahead of use and between snapshots, a multiple
   * of 4096. First writes after a snapshot copy into it (~0.5 µs a page) instead of faulting fresh memory
   * (1.6–5 µs here). Default (omitted): the C default, 32 MiB; raise it when writers touch many pages right
   * after a snapshot.
   */
  copyReserve?: number;
  /** `'host'` (default). `'guest'` throws DbosError `DBOS_ENOTSUP`: the guest runtime has no snapshot backend yet. */
  runtime?: SnapshotRuntime;
}

/** Counters of a space. */
export interface SpaceStats {
  snapshotsLive: number;
  /** Native writer threads registered with the barrier (the JavaScript thread's writer counts as one). */
  writersRegistered: number;
  /** The current epoch (epoch and uffd-wp). */
  epoch: number;
  /** Pre-image pages held by live snapshots; 0 once every snapshot is released. */
  copiesLive: number;
  /** Pre-image pages copied since the space was created. */
  copiesMade: number;
  /** Writers that found another writer copying the same page and waited for it. */
  copyRacesLost: number;
  /** Write faults served by the uffd-wp handler thread. */
  faultsHandled: number;
  snapshotsTaken: number;
}

/** Options of `Snapshot.writeTo`. */
export interface WriteToOptions {
  /** Called on the JavaScript thread as the image is written: bytes done, bytes in all. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Bytes between progress calls. Default (omitted or 0): 8 MiB. */
  progressIntervalBytes?: number;
  /** fdatasync the file before resolving. Default false. */
  sync?: boolean;
}

/** What `writeTo` did. */
export interface WriteToResult {
  bytesWritten: number;
  /** How bytes reached the file: `'gateway:io_uring'`, `'gateway:threads'`, `'pwrite'`, `'write'`, `'fork-child:pwrite'`. */
  ioPath: string;
  durationMs: number;
}

/** The pages written since a snapshot. */
export interface DirtyPages {
  count: number;
  /** Page indexes in increasing order. */
  pages: Uint32Array;
  /** Bit i of word i/64 set when page i changed. */
  bitmap: BigUint64Array;
}

function checkInteger(value: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer`);
  if (value < 0 || value > max) throw rangeError(`${name} must be between 0 and ${max}`);
  return value;
}

/**
 * Memory whose point-in-time snapshots can be taken while it is being written. Create with
 * `createSpace()`. Close with `close()`, which releases every snapshot and unmaps the memory
 * (views of `memory` become empty).
 */
export class SnapshotSpace {
  /** The mechanism snapshots of this space use. */
  readonly mechanism: SnapshotMechanism;
  readonly runtime: SnapshotRuntime = 'host';
  /** Bytes. */
  readonly size: number;
  readonly pageCount: number;
  readonly pageSize = PAGE_SIZE;
  /** How the memory must be written (see SpaceOptions.writes). */
  readonly writes: 'barrier' | 'raw';
  readonly #native: NativeSpace;
  readonly #snapshots = new Set<Snapshot>();
  #memory: Uint8Array | null = null;
  #closed = false;
  #openPage = -1;
  /** Image writes in flight: close() refuses while any is pending. @internal */
  pendingWrites = 0;

  /** @internal use createSpace() */
  constructor(native: NativeSpace, size: number, writes: 'barrier' | 'raw') {
    this.#native = native;
    natives.set(this, native);
    this.size = size;
    this.pageCount = size / PAGE_SIZE;
    this.writes = writes;
    this.mechanism = mechanismName(callNative(() => native.mechanism(), 'createSpace'));
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The live memory. With `writes: 'barrier'` treat it as read-only and write through `write()` /
   * `beginWrite()`; with `'raw'` write it freely. Empty after close(). Throws DBOS_ECLOSED after close.
   */
  get memory(): Uint8Array {
    this.#open();
    this.#memory ??= new Uint8Array(callNative(() => this.#native.memory(), 'memory'));
    return this.#memory;
  }

  /**
   * Copy `data` into the space at byte `offset`, through the write barrier: pages a live snapshot still
   * needs are copied first (once). One native call; does not block on I/O. Throws DBOS_ERANGE outside the
   * space, DBOS_EBUSY inside a beginWrite/endWrite pair, DBOS_ECLOSED after close.
   */
  write(offset: number, data: Uint8Array): void {
    this.#open();
    checkInteger(offset, 'offset');
    if (!(data instanceof Uint8Array)) throw typeError('data must be a Uint8Array');
    if (offset + data.byteLength > this.size) throw rangeError('write is outside the space');
    callNative(() => this.#native.writeCopy(offset, data), 'write');
  }

  /**
   * Open a write of page `page` (the latch hook a buffer pool calls, in JavaScript form) and return a view
   * of the live page to modify until `endWrite()`. Epoch spaces only (DBOS_ENOTSUP otherwise). A snapshot
   * taken meanwhile waits for endWrite(), so keep the pair short and synchronous. Throws DBOS_EBUSY when
   * a write is already open, DBOS_ERANGE for a page outside the space.
   */
  beginWrite(page: number): Uint8Array {
    this.#open();
    checkInteger(page, 'page', this.pageCount - 1);
    callNative(() => this.#native.writeBegin(page), 'beginWrite');
    this.#openPage = page;
    return this.memory.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  }

  /** Close the write opened by beginWrite(). Throws DBOS_EINVAL without one. */
  endWrite(): void {
    this.#open();
    callNative(() => this.#native.writeEnd(), 'endWrite');
    this.#openPage = -1;
  }

  /**
   * Take a snapshot: the space's bytes as of now, readable until released. epoch: O(1), waits only for
   * write sections in progress (microseconds); uffd-wp: write-protects the range (~70 ns per page);
   * fork: forks a child (page-table copy). Blocks the calling thread for that long, never readers.
   * Throws DBOS_ELIMIT with 16 snapshots alive, DBOS_EBUSY inside beginWrite (it would wait for itself).
   */
  snapshot(): Snapshot {
    this.#open();
    if (this.#openPage >= 0) throw new DbosError('DBOS_EBUSY', 'snapshot() inside beginWrite/endWrite would wait for itself');
    const id = callNative(() => this.#native.take(), 'snapshot');
    const snapshot = new Snapshot(this, id, () => this.#snapshots.delete(snapshot));
    this.#snapshots.add(snapshot);
    return snapshot;
  }

  /**
   * Restore the memory from an image file (a restart from a checkpoint), checking every page's CRC32C as
   * it arrives; off the JavaScript thread. The image must have this space's page count (DBOS_ERANGE) and
   * no snapshot may be live (DBOS_EBUSY); keep writers quiet meanwhile. Rejects with DBOS_ECORRUPT
   * (`badPage` on the error; memory then holds a partial image), DBOS_EIO. close() throws DBOS_EBUSY until
   * it settles.
   */
  async load(path: string): Promise<ImageInfo> {
    this.#open();
    if (typeof path !== 'string') throw typeError('path must be a string');
    if (this.#snapshots.size > 0) throw new DbosError('DBOS_EBUSY', 'load: snapshots are live');
    const context = `load ${path}`;
    this.pendingWrites++;
    let handle: fs.FileHandle | null = null;
    try {
      handle = await settleNative(fs.open(path, 'r'), context);
      const { fd } = handle;
      return await settleImage(
        callNative(() => this.#native.imageLoad(fd), context),
        context,
      );
    } finally {
      this.pendingWrites--;
      if (handle) await settleNative(handle.close(), context);
    }
  }

  /** @internal true between beginWrite() and endWrite(): snapshot() and release() would wait for it. */
  get writeOpen(): boolean {
    return this.#openPage >= 0;
  }

  /** Counters (does not block). */
  stats(): SpaceStats {
    this.#open();
    return callNative(() => this.#native.stats(), 'stats');
  }

  /**
   * This space for a C engine in another Node addon (a buffer pool, a workload), as an opaque Node-API
   * External: type-tagged with DBOS_SNAP_HANDLE_TAG, its data a `dbos_snap_handle` (ABI version, the C
   * space, base, page count, page size, mechanism, and a table of this addon's snapshot functions). The
   * engine attaches through the table with its quiesce hook — how uffd-wp and fork spaces capture one
   * instant under several native writers — and writes through the table's barrier; close() calls its
   * detach callback first. See the README's "C engines" section and include/dbos/snapshot_handle.h.
   * Does not block. Throws DBOS_ECLOSED after close().
   */
  nativeHandle(): SpaceNativeHandle {
    this.#open();
    return callNative(() => this.#native.nativeHandle(), 'nativeHandle') as SpaceNativeHandle;
  }

  /**
   * Release every snapshot, detach the C engine attached through nativeHandle() (its detach callback
   * stops its writers), unmap the memory. Idempotent. Throws DBOS_EBUSY while a writeTo() or load() is
   * in flight (await it first).
   */
  close(): void {
    if (this.#closed) return;
    if (this.pendingWrites > 0) throw new DbosError('DBOS_EBUSY', 'close: a writeTo() is in progress');
    callNative(() => this.#native.close(), 'close');
    for (const snapshot of this.#snapshots) snapshot.markReleased();
    this.#snapshots.clear();
    this.#memory = null;
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new DbosError('DBOS_ECLOSED', 'the space is closed');
  }
}

/** Options of Snapshot.pages(). */
export interface PageIterationOptions {
  /** First page (default 0). */
  start?: number;
  /** Page after the last (default: all). */
  end?: number;
  /** Pages read per native call (default 64). */
  batch?: number;
}

/**
 * A point-in-time image of a space. Reads never block writers. Release it when done: it holds a copy
 * of every page written since it was taken.
 */
export class Snapshot {
  readonly space: SnapshotSpace;
  /** @internal the C id (slot and generation). */
  readonly id: number;
  readonly mechanism: SnapshotMechanism;
  /** Epoch the snapshot opened (epoch, uffd-wp), 0 for fork. */
  readonly epoch: number;
  /** Monotonic nanoseconds when it was requested. */
  readonly takenNs: number;
  /** Nanoseconds from the request until it was complete (the caller's stall). */
  readonly takeDurationNs: number;
  #released = false;
  #pendingWrites = 0;
  readonly #onRelease: () => void;

  /** @internal use SnapshotSpace.snapshot() */
  constructor(space: SnapshotSpace, id: number, onRelease: () => void) {
    this.space = space;
    this.id = id;
    this.#onRelease = onRelease;
    const info = callNative(() => nativeOf(space).info(id), 'snapshot');
    this.mechanism = mechanismName(info.mechanism);
    this.epoch = info.epoch;
    this.takenNs = info.takenNs;
    this.takeDurationNs = info.takeDurationNs;
  }

  /** True after release() (or the space's close()). */
  get released(): boolean {
    return this.#released;
  }

  /** Pre-image pages this snapshot holds now. Throws DBOS_ECLOSED once released. */
  get copies(): number {
    return callNative(() => nativeOf(this.space).info(this.id), 'copies').copies;
  }

  /**
   * Page `page` as it was when the snapshot was taken, copied into `target` (4096 bytes, allocated when
   * omitted). Synchronous: a memory copy (fork: a round trip to the child). DBOS_ECLOSED once released.
   */
  readPage(page: number, target?: Uint8Array): Uint8Array {
    this.#live();
    checkInteger(page, 'page', this.space.pageCount - 1);
    const out = target ?? new Uint8Array(PAGE_SIZE);
    if (out.byteLength < PAGE_SIZE) throw rangeError('target must hold 4096 bytes');
    callNative(() => nativeOf(this.space).pageRead(this.id, page, out), 'readPage');
    return out;
  }

  /** `length` bytes at `offset` as they were at the snapshot, into `target` or a new buffer. */
  read(offset: number, length: number, target?: Uint8Array): Uint8Array {
    this.#live();
    checkInteger(offset, 'offset');
    checkInteger(length, 'length');
    if (offset + length > this.space.size) throw rangeError('read is outside the space');
    const out = target ?? new Uint8Array(length);
    if (out.byteLength < length) throw rangeError('target is smaller than length');
    callNative(() => nativeOf(this.space).read(this.id, offset, length, out), 'read');
    return out;
  }

  /**
   * Iterate the snapshot's pages lazily: `[index, bytes]`, bytes valid until the next step (a reused
   * buffer; copy to keep). Reads `batch` pages per native call.
   */
  *pages(options: PageIterationOptions = {}): IterableIterator<[number, Uint8Array]> {
    const start = checkInteger(options.start ?? 0, 'start', this.space.pageCount);
    const end = checkInteger(options.end ?? this.space.pageCount, 'end', this.space.pageCount);
    const batch = checkInteger(options.batch ?? 64, 'batch', 4096) || 1;
    const buffer = new Uint8Array(batch * PAGE_SIZE);
    for (let first = start; first < end; first += batch) {
      const count = Math.min(batch, end - first);
      this.read(first * PAGE_SIZE, count * PAGE_SIZE, buffer);
      for (let i = 0; i < count; i++) yield [first + i, buffer.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)];
    }
  }

  /**
   * Pages written since this snapshot was taken (a page counts from its first write). epoch and uffd-wp:
   * exact, from the snapshot's copies. fork: from the space's @dbos/pagetable region, whose dirty tracking
   * (userfaultfd WP_ASYNC + PAGEMAP_SCAN) the space runs; DBOS_ENOTSUP where the kernel lacks it.
   * Scans one entry per page (about 1 ms per GiB). Synchronous.
   */
  dirtySince(): DirtyPages {
    this.#live();
    const words = Math.ceil(this.space.pageCount / 64);
    const bitmap = new BigUint64Array(words);
    const count = callNative(() => nativeOf(this.space).dirtySince(this.id, bitmap), 'dirtySince');
    const pages = new Uint32Array(count);
    let next = 0;
    for (let word = 0; word < words && next < count; word++) {
      let bits = bitmap[word] ?? 0n;
      let bit = 0;
      while (bits !== 0n) {
        if (bits & 1n) pages[next++] = word * 64 + bit;
        bits >>= 1n;
        bit++;
      }
    }
    return { count, pages, bitmap };
  }

  /**
   * Stream the image (header, pages, per-page CRC32C table, trailer; see README) to `target`, a path
   * (created or truncated) or an open file descriptor, while writers keep writing. Runs off the JavaScript
   * thread: through @dbos/hypercall's io_uring gateway (plain pwrite where it cannot open); fork snapshots
   * are written by their child process. Rejects with DBOS_ENOSPC when the device is full (the file is left
   * empty), DBOS_EIO on other I/O errors, DBOS_ECLOSED once released. release() throws DBOS_EBUSY until
   * the promise settles.
   */
  async writeTo(target: string | number, options: WriteToOptions = {}): Promise<WriteToResult> {
    this.#live();
    if (typeof target !== 'string' && typeof target !== 'number') throw typeError('target must be a path or a file descriptor');
    if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw typeError('onProgress must be a function');
    const interval = checkInteger(options.progressIntervalBytes ?? 0, 'progressIntervalBytes');
    if (typeof target === 'number') checkInteger(target, 'fd', 2 ** 31 - 1);
    const started = performance.now();
    // Counted before the first await: release() and close() called right after writeTo() see it.
    this.#pendingWrites++;
    this.space.pendingWrites++;
    const context = `writeTo ${target}`;
    let handle: fs.FileHandle | null = null;
    try {
      handle = typeof target === 'string' ? await settleNative(fs.open(target, 'w+', 0o644), context) : null;
      const fd = handle ? handle.fd : (target as number);
      const native = nativeOf(this.space);
      const write = callNative(() => native.imageWrite(this.id, fd, options.onProgress ?? null, interval, options.sync ?? false), context);
      const result = await settleNative(write, context);
      return { bytesWritten: result.bytesWritten, ioPath: result.path, durationMs: performance.now() - started };
    } finally {
      this.#pendingWrites--;
      this.space.pendingWrites--;
      if (handle) await settleNative(handle.close(), context);
    }
  }

  /**
   * Give the snapshot's copies back. Idempotent. Waits for native write sections in progress (µs).
   * Throws DBOS_EBUSY while a writeTo() is pending or inside beginWrite/endWrite. Any use afterwards
   * throws DBOS_ECLOSED.
   */
  release(): void {
    if (this.#released) return;
    if (this.#pendingWrites > 0) throw new DbosError('DBOS_EBUSY', 'release: a writeTo() is in progress');
    if (this.space.writeOpen) throw new DbosError('DBOS_EBUSY', 'release() inside beginWrite/endWrite would wait for itself');
    callNative(() => nativeOf(this.space).release(this.id), 'release');
    this.markReleased();
  }

  /** @internal */
  markReleased(): void {
    if (this.#released) return;
    this.#released = true;
    this.#onRelease();
  }

  #live(): void {
    if (this.#released) throw new DbosError('DBOS_ECLOSED', 'the snapshot was released');
    if (this.space.closed) throw new DbosError('DBOS_ECLOSED', 'the space is closed');
  }
}

/**
 * Create a space of `size` bytes (see SpaceOptions). Throws DBOS_ENOTSUP for `runtime: 'guest'` or an
 * unavailable mechanism, TypeError/RangeError (DBOS_EINVAL/DBOS_ERANGE) for bad options, DBOS_ENOMEM
 * when address space runs out. Does not block beyond the mmap (and the populate, when asked).
 */
export function createSpace(options: SpaceOptions): SnapshotSpace {
  if (typeof options !== 'object' || options === null) throw typeError('options must be an object');
  const runtime = options.runtime ?? 'host';
  if (runtime === 'guest') throw new DbosError('DBOS_ENOTSUP', `${GUEST_UNSUPPORTED}; use runtime: 'host'`);
  if (runtime !== 'host') throw typeError(`runtime must be 'host' or 'guest'`);
  const size = checkInteger(options.size, 'size', SPACE_SIZE_MAX);
  if (size === 0 || size % PAGE_SIZE !== 0) throw rangeError('size must be a positive multiple of 4096');
  const mechanism = options.mechanism ?? 'auto';
  if (typeof mechanism !== 'string' || !Object.hasOwn(MECHANISM_CODES, mechanism)) {
    throw typeError(`mechanism must be 'auto', 'epoch', 'uffd-wp' or 'fork'`);
  }
  const writes = options.writes ?? 'barrier';
  if (writes !== 'barrier' && writes !== 'raw') throw typeError(`writes must be 'barrier' or 'raw'`);
  if (mechanism === 'epoch' && writes === 'raw') throw typeError(`the epoch mechanism needs writes: 'barrier'`);
  // Omitted: 0 pages, which the C code reads as its default reserve (one source for that number).
  const copyReserve =
    options.copyReserve === undefined ? 0 : checkInteger(options.copyReserve, 'copyReserve', SPACE_SIZE_MAX * SNAPSHOT_COUNT_MAX);
  if (options.copyReserve !== undefined && (copyReserve % PAGE_SIZE !== 0 || copyReserve === 0)) {
    throw rangeError('copyReserve must be a positive multiple of 4096');
  }
  const hugePages = options.hugePages ?? writes === 'raw';
  const populate = options.populate ?? false;
  const native = callNative(
    () => new addon.Space(size, MECHANISM_CODES[mechanism], writes === 'raw', hugePages, populate, copyReserve / PAGE_SIZE),
    'createSpace',
  );
  return new SnapshotSpace(native, size, writes);
}
