// Spaces (memory whose snapshots we take) and snapshots: validation, defaults and handles.
// Every native call goes through @dbos/platform's callNative / settleNative: the one conversion that
// makes each error a DbosError, or a TypeError / RangeError, with a stable code.
//
// What a space and its snapshots share (the native object, the snapshots alive, the image writes and
// loads in flight, the open beginWrite) lives in module-private state, never on the objects: a caller
// can neither forge a space or snapshot (the constructors want a module-private token) nor reach the
// bookkeeping that close() and release() rely on.
import fs from 'node:fs/promises';
import os from 'node:os';
import { callNative, DbosError, rangeError, settleNative, typeError } from '@dbos/platform';
import { allocateBytes, checkBoolean, checkBytes, checkInteger, checkOptions, checkPath } from './checks.js';
import { MECHANISM_CODES, PAGE_SIZE, SNAPSHOT_COUNT_MAX, SPACE_SIZE_MAX } from './constants.js';
import { settleImage } from './image.js';
import type { ImageInfo } from './image.js';
import { GUEST_UNSUPPORTED, mechanismName } from './mechanisms.js';
import type { SnapshotMechanism, SnapshotRuntime } from './mechanisms.js';
import { addon } from './native.js';
import type { NativeSpace } from './native.js';

/** The token only this module has: `new SnapshotSpace()` / `new Snapshot()` without it are refused. */
const MAKE: unique symbol = Symbol('@dbos/snapshot:make');

/** What a space shares with its snapshots and with nothing else. */
interface SpaceState {
  native: NativeSpace;
  snapshots: Set<Snapshot>;
  /** writeTo() and load() in flight: close() refuses while any is pending. */
  pending: number;
  /** load() in flight: snapshot() and writes refuse meanwhile (the load owns the memory). */
  loading: number;
  /** The page of the open beginWrite(), -1 without one. */
  openPage: number;
  memory: Uint8Array | null;
  closed: boolean;
}

/** A snapshot's own state: whether it was released, and its writeTo() calls in flight. */
interface SnapshotState {
  released: boolean;
  pending: number;
}

const spaces = new WeakMap<object, SpaceState>();
const snapshots = new WeakMap<object, SnapshotState>();

/** The state of a space made by createSpace(); TypeError for any other receiver. */
function spaceState(space: unknown): SpaceState {
  const state = typeof space === 'object' && space !== null ? spaces.get(space) : undefined;
  if (!state) throw typeError('not a SnapshotSpace made by createSpace()');
  return state;
}

/** An open space's state: DBOS_ECLOSED after close(). */
function openState(space: unknown): SpaceState {
  const state = spaceState(space);
  if (state.closed) throw new DbosError('DBOS_ECLOSED', 'the space is closed');
  return state;
}

/** An open space that no load() owns: DBOS_EBUSY while one is in flight. */
function idleState(space: unknown, what: string): SpaceState {
  const state = openState(space);
  if (state.loading > 0) throw new DbosError('DBOS_EBUSY', `${what}: a load() is in progress (await it first)`);
  return state;
}

function snapshotState(snapshot: unknown): SnapshotState {
  const state = typeof snapshot === 'object' && snapshot !== null ? snapshots.get(snapshot) : undefined;
  if (!state) throw typeError('not a Snapshot made by SnapshotSpace.snapshot()');
  return state;
}

/** The space's state while `snapshot` can be used: DBOS_ECLOSED once released or closed. */
function liveState(snapshot: Snapshot): SpaceState {
  if (snapshotState(snapshot).released) throw new DbosError('DBOS_ECLOSED', 'the snapshot was released');
  return openState(snapshot.space);
}

/** Mark a snapshot released (by release(), or by its space's close()). */
function markReleased(snapshot: Snapshot, space: SpaceState): void {
  snapshotState(snapshot).released = true;
  space.snapshots.delete(snapshot);
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
   * throws `DBOS_ENOTSUP` (see `mechanisms()`); a uffd-wp space larger than the machine's memory throws
   * `DBOS_ENOMEM` (each take builds page tables for the whole range: name `'fork'` for such spaces).
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
  /**
   * Fault all memory in now (MADV_POPULATE_WRITE) instead of on first touch. Default false. DBOS_ENOMEM
   * when `size` is more than the machine's memory.
   */
  populate?: boolean;
  /**
   * epoch and uffd-wp: bytes of copy memory kept faulted in ahead of use and between snapshots, a multiple
   * of 4096. First writes after a snapshot copy into it (~0.5 µs a page) instead of faulting fresh memory
   * (1.6–5 µs here). Default (omitted): the C default, 32 MiB; raise it when writers touch many pages right
   * after a snapshot. DBOS_ENOMEM when it is more than the machine's memory.
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
  /**
   * Called on the JavaScript thread as the image is written: bytes done, bytes in all. One that throws
   * stops the write: the file is left empty and writeTo() rejects with what it threw.
   */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Bytes between progress calls. Default (omitted or 0): 8 MiB. */
  progressIntervalBytes?: number;
  /** fdatasync the file before resolving. Default false (a boolean). */
  sync?: boolean;
}

/** What `writeTo` did. */
export interface WriteToResult {
  bytesWritten: number;
  /**
   * How bytes reached the file: `'gateway:threads+O_DIRECT'` (pages bypass the page cache; regular files),
   * `'gateway:io_uring'` (page cache), the same with the other backend, `'pwrite'`, `'write'`, `'fork-child:pwrite'`.
   */
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

/**
 * Memory whose point-in-time snapshots can be taken while it is being written. Create with
 * `createSpace()` (the constructor refuses anything else: TypeError DBOS_EINVAL). Close with `close()`,
 * which releases every snapshot and unmaps the memory (views of `memory` become empty).
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

  /** @internal use createSpace() */
  constructor(token: typeof MAKE, native: NativeSpace, size: number, writes: 'barrier' | 'raw') {
    if (token !== MAKE) throw typeError('use createSpace() to make a space');
    this.size = size;
    this.pageCount = size / PAGE_SIZE;
    this.writes = writes;
    this.mechanism = mechanismName(callNative(() => native.mechanism(), 'createSpace'));
    spaces.set(this, { native, snapshots: new Set(), pending: 0, loading: 0, openPage: -1, memory: null, closed: false });
  }

  /** True after close(). */
  get closed(): boolean {
    return spaceState(this).closed;
  }

  /**
   * The live memory. With `writes: 'barrier'` treat it as read-only and write through `write()` /
   * `beginWrite()`; with `'raw'` write it freely. The one view is cached; close() empties it. Throws
   * DBOS_ECLOSED after close.
   */
  get memory(): Uint8Array {
    const state = openState(this);
    state.memory ??= new Uint8Array(callNative(() => state.native.memory(), 'memory'));
    return state.memory;
  }

  /**
   * Copy `data` into the space at byte `offset`, through the write barrier: pages a live snapshot still
   * needs are copied first (once). One native call; does not block on I/O. Throws DBOS_ERANGE outside the
   * space, DBOS_EBUSY inside a beginWrite/endWrite pair or while a load() runs, DBOS_ECLOSED after close.
   */
  write(offset: number, data: Uint8Array): void {
    const state = idleState(this, 'write');
    checkInteger(offset, 'offset');
    checkBytes(data, 'data');
    if (offset + data.byteLength > this.size) throw rangeError('write is outside the space');
    callNative(() => state.native.writeCopy(offset, data), 'write');
  }

  /**
   * Open a write of page `page` (the latch hook a buffer pool calls, in JavaScript form) and return a view
   * of the live page to modify until `endWrite()`. Epoch spaces only (DBOS_ENOTSUP otherwise). A snapshot
   * taken meanwhile waits for endWrite(), so keep the pair short and synchronous. Throws DBOS_EBUSY when
   * a write is already open or a load() runs, DBOS_ERANGE for a page outside the space.
   */
  beginWrite(page: number): Uint8Array {
    const state = idleState(this, 'beginWrite');
    checkInteger(page, 'page', this.pageCount - 1);
    const memory = this.memory;
    callNative(() => state.native.writeBegin(page), 'beginWrite');
    state.openPage = page;
    return memory.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  }

  /** Close the write opened by beginWrite(). Throws DBOS_EINVAL without one. */
  endWrite(): void {
    const state = openState(this);
    callNative(() => state.native.writeEnd(), 'endWrite');
    state.openPage = -1;
  }

  /**
   * Take a snapshot: the space's bytes as of now, readable until released. epoch: O(1), waits only for
   * write sections in progress (microseconds); uffd-wp: write-protects the range (~70 ns per page);
   * fork: forks a child (page-table copy). Blocks the calling thread for that long, never readers.
   * Throws DBOS_ELIMIT with 16 snapshots alive, DBOS_EBUSY inside beginWrite (it would wait for itself)
   * or while a load() runs.
   */
  snapshot(): Snapshot {
    const state = idleState(this, 'snapshot');
    if (state.openPage >= 0) throw new DbosError('DBOS_EBUSY', 'snapshot() inside beginWrite/endWrite would wait for itself');
    const id = callNative(() => state.native.take(), 'snapshot');
    const snapshot = new Snapshot(MAKE, this, id);
    state.snapshots.add(snapshot);
    return snapshot;
  }

  /**
   * Restore the memory from an image file (a restart from a checkpoint), checking every page's CRC32C as
   * it arrives; off the JavaScript thread. The image must have this space's page count (DBOS_ERANGE) and
   * no snapshot may be live (DBOS_EBUSY); until it settles, snapshot(), write(), beginWrite() and close()
   * throw DBOS_EBUSY (C engines' writers must keep quiet themselves). Rejects with DBOS_ECORRUPT
   * (`badPage` on the error; memory then holds a partial image), DBOS_EIO, or the errno name when the
   * file cannot be opened.
   */
  async load(path: string): Promise<ImageInfo> {
    const state = openState(this);
    checkPath(path);
    if (state.snapshots.size > 0) throw new DbosError('DBOS_EBUSY', 'load: snapshots are live');
    if (state.openPage >= 0) throw new DbosError('DBOS_EBUSY', 'load inside beginWrite/endWrite');
    const context = `load ${path}`;
    state.pending++;
    state.loading++;
    let handle: fs.FileHandle | null = null;
    try {
      handle = await settleNative(fs.open(path, 'r'), context);
      const { fd } = handle;
      return await settleImage(
        callNative(() => state.native.imageLoad(fd), context),
        context,
      );
    } finally {
      state.pending--;
      state.loading--;
      if (handle) await settleNative(handle.close(), context);
    }
  }

  /** Counters (does not block). */
  stats(): SpaceStats {
    const state = openState(this);
    return callNative(() => state.native.stats(), 'stats');
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
    const state = openState(this);
    return callNative(() => state.native.nativeHandle(), 'nativeHandle') as SpaceNativeHandle;
  }

  /**
   * Release every snapshot, detach the C engine attached through nativeHandle() (its detach callback
   * stops its writers), unmap the memory. Idempotent. Throws DBOS_EBUSY while a writeTo() or load() is
   * in flight (await it first).
   */
  close(): void {
    const state = spaceState(this);
    if (state.closed) return;
    if (state.pending > 0) throw new DbosError('DBOS_EBUSY', 'close: a writeTo() or load() is in progress');
    callNative(() => state.native.close(), 'close');
    for (const snapshot of [...state.snapshots]) markReleased(snapshot, state);
    state.memory = null;
    state.openPage = -1;
    state.closed = true;
  }
}

/** Options of Snapshot.pages(). */
export interface PageIterationOptions {
  /** First page (default 0). */
  start?: number;
  /** Page after the last (default: all; an end before start yields nothing). */
  end?: number;
  /** Pages read per native call, 1 to 4096 (default 64; 0 means 1). */
  batch?: number;
}

/** Most pages one step of pages() reads: 16 MiB of buffer. */
const PAGES_BATCH_MAX = 4096;

/**
 * A point-in-time image of a space. Reads never block writers. Release it when done: it holds a copy
 * of every page written since it was taken. Made by `SnapshotSpace.snapshot()` only.
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

  /** @internal use SnapshotSpace.snapshot() */
  constructor(token: typeof MAKE, space: SnapshotSpace, id: number) {
    if (token !== MAKE) throw typeError('use SnapshotSpace.snapshot() to make a snapshot');
    this.space = space;
    this.id = id;
    const info = callNative(() => spaceState(space).native.info(id), 'snapshot');
    this.mechanism = mechanismName(info.mechanism);
    this.epoch = info.epoch;
    this.takenNs = info.takenNs;
    this.takeDurationNs = info.takeDurationNs;
    snapshots.set(this, { released: false, pending: 0 });
  }

  /** True after release() (or the space's close()). */
  get released(): boolean {
    return snapshotState(this).released;
  }

  /** Pre-image pages this snapshot holds now. Throws DBOS_ECLOSED once released. */
  get copies(): number {
    const space = liveState(this);
    return callNative(() => space.native.info(this.id), 'copies').copies;
  }

  /**
   * Page `page` as it was when the snapshot was taken, copied into `target` (a Uint8Array of at least
   * 4096 bytes, allocated when omitted). Synchronous: a memory copy (fork: a round trip to the child).
   * DBOS_ECLOSED once released.
   */
  readPage(page: number, target?: Uint8Array): Uint8Array {
    const space = liveState(this);
    checkInteger(page, 'page', this.space.pageCount - 1);
    const out = target === undefined ? new Uint8Array(PAGE_SIZE) : checkBytes(target, 'target');
    if (out.byteLength < PAGE_SIZE) throw rangeError('target must hold 4096 bytes');
    callNative(() => space.native.pageRead(this.id, page, out), 'readPage');
    return out;
  }

  /**
   * `length` bytes at `offset` as they were at the snapshot, into `target` (a Uint8Array of at least
   * `length` bytes) or a new buffer (DBOS_ENOMEM when `length` is more than this machine's memory
   * or than one buffer can hold).
   */
  read(offset: number, length: number, target?: Uint8Array): Uint8Array {
    const space = liveState(this);
    checkInteger(offset, 'offset');
    checkInteger(length, 'length');
    if (offset + length > this.space.size) throw rangeError('read is outside the space');
    const out = target === undefined ? allocateBytes(length, 'read') : checkBytes(target, 'target');
    if (out.byteLength < length) throw rangeError('target is smaller than length');
    callNative(() => space.native.read(this.id, offset, length, out), 'read');
    return out;
  }

  /**
   * Iterate the snapshot's pages lazily: `[index, bytes]`, bytes valid until the next step (a reused
   * buffer; copy to keep). Reads `batch` pages per native call. The options are checked here, each step
   * throws DBOS_ECLOSED once the snapshot is released.
   */
  pages(options?: PageIterationOptions): IterableIterator<[number, Uint8Array]> {
    liveState(this);
    const { start, end, batch } = checkOptions<PageIterationOptions>(options);
    const first = checkInteger(start ?? 0, 'start', this.space.pageCount);
    const last = checkInteger(end ?? this.space.pageCount, 'end', this.space.pageCount);
    const step = checkInteger(batch ?? 64, 'batch', PAGES_BATCH_MAX) || 1;
    return pagesOf(this, first, last, step);
  }

  /**
   * Pages written since this snapshot was taken (a page counts from its first write). epoch and uffd-wp:
   * exact, from the snapshot's copies. fork: from the space's @dbos/pagetable region, whose dirty tracking
   * (userfaultfd WP_ASYNC + PAGEMAP_SCAN) the space runs; DBOS_ENOTSUP where the kernel lacks it.
   * Scans one entry per page (about 1 ms per GiB). Synchronous.
   */
  dirtySince(): DirtyPages {
    const space = liveState(this);
    const words = Math.ceil(this.space.pageCount / 64);
    const bitmap = new BigUint64Array(words);
    const count = callNative(() => space.native.dirtySince(this.id, bitmap), 'dirtySince');
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
   * (created or truncated) or an open file descriptor (duplicated for the write: closing yours meanwhile
   * does not redirect it), while writers keep writing. Runs off the JavaScript thread: through
   * @dbos/hypercall's gateway, 1 MiB vectored writes (plain pwritev where it cannot open); fork snapshots are written by
   * their child process. Rejects with DBOS_ENOSPC when the device is full (the file is left empty),
   * DBOS_EIO on other I/O errors, DBOS_ECLOSED once released. An `onProgress` that throws stops the
   * write: the file is left empty and the promise rejects with what it threw. release() and the space's
   * close() throw DBOS_EBUSY until the promise settles.
   */
  async writeTo(target: string | number, options?: WriteToOptions): Promise<WriteToResult> {
    const space = liveState(this);
    if (typeof target === 'number') checkInteger(target, 'fd', 2 ** 31 - 1);
    else if (typeof target === 'string') checkPath(target, 'target');
    else throw typeError('target must be a path or a file descriptor');
    const { onProgress, progressIntervalBytes, sync } = checkOptions<WriteToOptions>(options);
    if (onProgress !== undefined && typeof onProgress !== 'function') throw typeError('onProgress must be a function');
    const interval = checkInteger(progressIntervalBytes ?? 0, 'progressIntervalBytes');
    const durable = checkBoolean(sync, 'sync', false);
    const state = snapshotState(this);
    const started = performance.now();
    // Counted before the first await: release() and close() called right after writeTo() see it.
    state.pending++;
    space.pending++;
    const context = `writeTo ${target}`;
    let handle: fs.FileHandle | null = null;
    try {
      handle = typeof target === 'string' ? await settleNative(fs.open(target, 'w+', 0o644), context) : null;
      const fd = handle ? handle.fd : (target as number);
      const write = callNative(() => space.native.imageWrite(this.id, fd, onProgress ?? null, interval, durable), context);
      const result = await settleNative(write, context);
      return { bytesWritten: result.bytesWritten, ioPath: result.path, durationMs: performance.now() - started };
    } finally {
      state.pending--;
      space.pending--;
      if (handle) await settleNative(handle.close(), context);
    }
  }

  /**
   * Give the snapshot's copies back. Idempotent. Waits for native write sections in progress (µs).
   * Throws DBOS_EBUSY while a writeTo() is pending or inside beginWrite/endWrite. Any use afterwards
   * throws DBOS_ECLOSED.
   */
  release(): void {
    const state = snapshotState(this);
    if (state.released) return;
    const space = spaceState(this.space);
    if (state.pending > 0) throw new DbosError('DBOS_EBUSY', 'release: a writeTo() is in progress');
    if (space.openPage >= 0) throw new DbosError('DBOS_EBUSY', 'release() inside beginWrite/endWrite would wait for itself');
    callNative(() => space.native.release(this.id), 'release');
    markReleased(this, space);
  }
}

/** The generator behind Snapshot.pages(): `batch` pages per read, into one reused buffer. */
function* pagesOf(snapshot: Snapshot, start: number, end: number, batch: number): IterableIterator<[number, Uint8Array]> {
  const buffer = new Uint8Array(batch * PAGE_SIZE);
  for (let first = start; first < end; first += batch) {
    const count = Math.min(batch, end - first);
    snapshot.read(first * PAGE_SIZE, count * PAGE_SIZE, buffer);
    for (let i = 0; i < count; i++) yield [first + i, buffer.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)];
  }
}

/**
 * Create a space of `size` bytes (see SpaceOptions). Throws DBOS_ENOTSUP for `runtime: 'guest'` or an
 * unavailable mechanism, TypeError/RangeError (DBOS_EINVAL/DBOS_ERANGE) for bad options, DBOS_ENOMEM
 * when address space runs out or `populate` / `copyReserve` asks for more than this machine's memory.
 * Does not block beyond the mmap (and the populate, when asked).
 */
export function createSpace(options: SpaceOptions): SnapshotSpace {
  if (typeof options !== 'object' || options === null) throw typeError('options must be an object');
  const {
    size: sizeOption,
    mechanism: mechanismOption,
    writes: writesOption,
    hugePages,
    populate,
    copyReserve,
    runtime: runtimeOption,
  } = options;
  const runtime = runtimeOption ?? 'host';
  if (runtime === 'guest') throw new DbosError('DBOS_ENOTSUP', `${GUEST_UNSUPPORTED}; use runtime: 'host'`);
  if (runtime !== 'host') throw typeError(`runtime must be 'host' or 'guest'`);
  const size = checkInteger(sizeOption, 'size', SPACE_SIZE_MAX);
  if (size === 0 || size % PAGE_SIZE !== 0) throw rangeError('size must be a positive multiple of 4096');
  const mechanism = mechanismOption ?? 'auto';
  if (typeof mechanism !== 'string' || !Object.hasOwn(MECHANISM_CODES, mechanism)) {
    throw typeError(`mechanism must be 'auto', 'epoch', 'uffd-wp' or 'fork'`);
  }
  const writes = writesOption ?? 'barrier';
  if (writes !== 'barrier' && writes !== 'raw') throw typeError(`writes must be 'barrier' or 'raw'`);
  if (mechanism === 'epoch' && writes === 'raw') throw typeError(`the epoch mechanism needs writes: 'barrier'`);
  // Omitted: 0 pages, which the C code reads as its default reserve (one source for that number).
  const reserve = copyReserve === undefined ? 0 : checkInteger(copyReserve, 'copyReserve', SPACE_SIZE_MAX * SNAPSHOT_COUNT_MAX);
  if (copyReserve !== undefined && (reserve % PAGE_SIZE !== 0 || reserve === 0)) {
    throw rangeError('copyReserve must be a positive multiple of 4096');
  }
  const huge = checkBoolean(hugePages, 'hugePages', writes === 'raw');
  const fill = checkBoolean(populate, 'populate', false);
  // Both fault memory in at once (the reserve on the space's own refill thread): more than the machine
  // has can only end with the kernel's OOM killer, so refuse it here.
  const memory = os.totalmem();
  if (fill && size > memory) throw new DbosError('DBOS_ENOMEM', `populate: ${size} bytes is more than this machine's ${memory}`);
  if (reserve > memory) throw new DbosError('DBOS_ENOMEM', `copyReserve: ${reserve} bytes is more than this machine's ${memory}`);
  const native = callNative(
    () => new addon.Space(size, MECHANISM_CODES[mechanism], writes === 'raw', huge, fill, reserve / PAGE_SIZE),
    'createSpace',
  );
  return new SnapshotSpace(MAKE, native, size, writes);
}
