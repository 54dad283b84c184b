// Region: a reserved virtual range whose pages the program maps, discards, moves, protects and tracks.
import { types } from 'node:util';
import { DbosError, callNative, describeValue, rangeError, typeError } from '@dbos/platform';
import { type FramePool, framesHandle } from './frames.js';
import { DIRTY, PAGE_SIZE, PROT, REGION_FLAG, REGION_SIZE_MAX, STATE, VIEW_LENGTH_MAX } from './constants.js';
import { addon, type NativeRegion } from './native.js';
import { optionsOf, pageSetCount, toNativePages, type PageSet } from './pages.js';

/** Page protection. Writable pages are always readable (x86 has no write-only pages). */
export type Protection = 'none' | 'read' | 'read-write';
/** How a page is backed. */
export type PageState = 'unmapped' | 'anonymous' | 'frame';
/** Dirty tracking mechanisms (see `probe().dirty`). */
export type DirtyMechanism = 'uffd-wp-async' | 'shadow-compare' | 'pte-dirty-bits';

const PROTECTIONS: Record<Protection, number> = { none: PROT.none, read: PROT.read, 'read-write': PROT.readWrite };
// Writable pages are readable too: a C page with DBOS_PROT_WRITE reads as 'read-write'.
const PROTECTION_NAMES: Record<number, Protection> = {
  [PROT.none]: 'none',
  [PROT.read]: 'read',
  [PROT.write]: 'read-write',
  [PROT.readWrite]: 'read-write',
};
const STATES: Record<number, PageState> = {
  [STATE.unmapped]: 'unmapped',
  [STATE.anonymous]: 'anonymous',
  [STATE.frame]: 'frame',
};
const MECHANISMS: Record<'auto' | DirtyMechanism, number> = {
  auto: DIRTY.none,
  'uffd-wp-async': DIRTY.uffdWpAsync,
  'shadow-compare': DIRTY.shadowCompare,
  'pte-dirty-bits': DIRTY.pteDirtyBits,
};
/** Pages per native collect call: 256 KiB of results, so huge regions never need one huge buffer. */
const COLLECT_CHUNK = 65536;

/** Options of `Region.reserve`. */
export interface RegionOptions {
  /**
   * Which runtime serves the region. Default `'host'`. `'guest'` throws DBOS_ENOTSUP: the guest
   * backend is C code that runs inside guest images (engine code calls dbos/pagetable.h there);
   * JavaScript cannot hand a region to a guest yet.
   */
  runtime?: 'host' | 'guest';
  /** Start with every page mapped anonymous read-write (reads zeros, memory used on first write). Default false: all unmapped. */
  mapped?: boolean;
  /** Prefer 2 MiB pages (THP, MADV_HUGEPAGE) for anonymous pages. Default false. */
  hugePages?: boolean;
  /**
   * Fill pages on first touch instead of with zeros (userfaultfd; DBOS_ENOTSUP
   * where unavailable): each missing page gets `byte`, and with `stampIndex`
   * its first 8 bytes hold its page index (little-endian).  Default: off.
   */
  fill?: { byte?: number; stampIndex?: boolean };
}

/** One page as the region sees it. */
export interface PageInfo {
  state: PageState;
  protection: Protection;
  /** Frame index when `state === 'frame'`, else null. */
  frame: number | null;
}

/** Counters of one region. */
export interface RegionStats {
  /** Page-operation system calls made (one per run of adjacent pages). */
  runtimeCalls: number;
  /** Pages currently mapped (anonymous or frame). */
  pagesMapped: number;
  /** Missing pages filled on first touch. */
  faultsServed: number;
  /** Faults whose filling failed (the page reads zeros or faults). */
  faultsFailed: number;
  /** Views neither released nor garbage-collected. */
  liveViews: number;
}

/** A page range for reports, in pages; defaults to the whole region. */
export interface PageRange {
  first?: number;
  count?: number;
}

function checkIntegerArgument(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer (got ${describeValue(value)})`);
  return value;
}

function protectionOf(protection: unknown): number {
  const value =
    typeof protection === 'string' && Object.hasOwn(PROTECTIONS, protection) ? PROTECTIONS[protection as Protection] : undefined;
  if (value === undefined) throw typeError(`protection must be 'none', 'read' or 'read-write' (got ${describeValue(protection)})`);
  return value;
}

/** The ArrayBuffer of a view (checked by internal slot: a Proxy of a view is not one), or null. */
function bufferOf(view: unknown): ArrayBuffer | null {
  if (types.isArrayBuffer(view)) return view;
  if (ArrayBuffer.isView(view) && types.isArrayBuffer(view.buffer)) return view.buffer;
  return null;
}

/**
 * A reserved range of virtual address space, up to 16 TiB, that costs no
 * memory until its pages are mapped and written.  Page operations take page
 * sets and make one system call per run of adjacent pages.
 *
 * Safety: nothing reachable from here can crash the process.  `view()` pins
 * its pages: while a view is live, `unmap`, `protect` below read-write,
 * `map`/`mapFrames` read-only and `move` away from them throw DBOS_EBUSY.
 * `release(view)` (or garbage collection of the view) unpins.  `close()`
 * detaches every view (their length becomes 0) before unmapping anything; a
 * view whose memory was moved into another buffer (`ArrayBuffer.prototype.transfer()`,
 * Node 22+) keeps its pages pinned, and after `close()` keeps the region
 * mapped until that buffer is garbage-collected.  Methods called on anything
 * but a Region throw a TypeError.
 *
 * Any operation that would need more new memory than half of the machine's
 * RAM (8 bytes of bookkeeping per page it changes, the pages `populate` backs,
 * shadow copies) throws DBOS_ENOMEM before changing anything, so no page set
 * can exhaust the machine; a range over a sparse terabyte costs what its used
 * part costs.
 *
 * All methods are synchronous and block for the system calls they make
 * (microseconds per run; `populate` and `collectDirty` scale with the pages).
 */
export class Region {
  /** Size in bytes. */
  readonly size: number;
  /** Size in pages. */
  readonly pageCount: number;
  #native: NativeRegion | null;

  private constructor(size: number, handle: NativeRegion) {
    this.size = size;
    this.pageCount = size / PAGE_SIZE;
    this.#native = handle;
  }

  /** `self` as a Region, or a TypeError: methods called on anything else (a copy, a prototype). */
  static #of(self: unknown): Region {
    if (typeof self !== 'object' || self === null || !(#native in self)) throw typeError('this is not a Region');
    return self;
  }

  /**
   * Reserve `size` bytes (a positive multiple of 4096, at most 2^44).
   * Throws TypeError for a wrong type, RangeError for a bad size,
   * DbosError DBOS_ENOTSUP for `runtime: 'guest'` or an unavailable `fill`,
   * DBOS_ENOMEM when the address space is exhausted.
   */
  static reserve(size: number, options?: RegionOptions): Region {
    checkIntegerArgument(size, 'size');
    if (size <= 0 || size % PAGE_SIZE !== 0 || size > REGION_SIZE_MAX)
      throw rangeError(`size must be a positive multiple of ${PAGE_SIZE} up to ${REGION_SIZE_MAX} (got ${size})`);
    const { runtime = 'host', hugePages, mapped, fill: fillOption } = optionsOf(options);
    if (runtime === 'guest')
      throw new DbosError(
        'DBOS_ENOTSUP',
        "@dbos/pagetable: the guest runtime runs only as C inside guest images; from JavaScript use runtime 'host'",
      );
    if (runtime !== 'host') throw typeError(`runtime must be 'host' or 'guest' (got ${describeValue(runtime)})`);
    const flags = (hugePages ? REGION_FLAG.hugePages : 0) | (mapped ? REGION_FLAG.mapAll : 0);
    let fill: { byte: number; stampIndex: boolean } | null = null;
    if (fillOption !== undefined) {
      const { byte = 0, stampIndex } = optionsOf(fillOption, 'fill');
      checkIntegerArgument(byte, 'fill.byte');
      if (byte < 0 || byte > 255) throw rangeError(`fill.byte must be 0 … 255 (got ${byte})`);
      fill = { byte, stampIndex: stampIndex === true };
    }
    const handle = callNative(() => new addon.NativeRegion(size, flags));
    if (fill) {
      try {
        callNative(() => handle.faultsFill(fill.byte, fill.stampIndex));
      } catch (error) {
        handle.close();
        throw error;
      }
    }
    return new Region(size, handle);
  }

  /** True after `close()`. */
  get closed(): boolean {
    return Region.#of(this).#native === null;
  }

  #handle(): NativeRegion {
    if (this.#native === null) throw new DbosError('DBOS_ECLOSED', 'region is closed');
    return this.#native;
  }

  /**
   * Map the pages as fresh anonymous memory (old contents dropped; reads zeros).
   * `protection` defaults to 'read-write'.  RangeError for pages outside the
   * region; DBOS_EBUSY for a read-only or inaccessible map over a live view.
   */
  map(pages: PageSet, options?: { protection?: Protection }): void {
    const self = Region.#of(this);
    const set = toNativePages(pages);
    const prot = protectionOf(optionsOf(options).protection ?? 'read-write');
    const handle = self.#handle();
    callNative(() => handle.map(...set, prot));
  }

  /**
   * Map `frames` of `pool` at `pages`, pairwise (`pages[i]` shows `frames[i]`;
   * equal counts, else TypeError).  No bytes are copied.  A region maps one pool
   * at a time (DBOS_EINVAL for another while frames are mapped).
   */
  mapFrames(pages: PageSet, pool: FramePool, frames: PageSet, options?: { protection?: Protection }): void {
    const self = Region.#of(this);
    const set = toNativePages(pages);
    const frameSet = toNativePages(frames, 'frames');
    if (pageSetCount(set) !== pageSetCount(frameSet)) throw typeError('pages and frames must have the same count');
    const prot = protectionOf(optionsOf(options).protection ?? 'read-write');
    const handle = self.#handle();
    const frameHandle = framesHandle(pool);
    callNative(() => handle.mapFrames(...set, frameHandle, ...frameSet, prot));
  }

  /** Make the pages inaccessible again (memory freed). DBOS_EBUSY if a live view covers one. */
  unmap(pages: PageSet): void {
    const self = Region.#of(this);
    const set = toNativePages(pages);
    const handle = self.#handle();
    callNative(() => handle.unmap(...set));
  }

  /**
   * Drop the pages' contents and return their memory (batched MADV_DONTNEED):
   * anonymous pages read zeros afterwards; frame pages free their frame
   * (zeros wherever it is mapped); unmapped pages are skipped.  Allowed under views.
   */
  discard(pages: PageSet): void {
    const self = Region.#of(this);
    const set = toNativePages(pages);
    const handle = self.#handle();
    callNative(() => handle.discard(...set));
  }

  /**
   * Move pages without copying: `target[i]` shows what `source[i]` showed and the
   * source becomes unmapped (anonymous pages by mremap, frames by remapping).
   * Equal counts (TypeError), disjoint sets (DBOS_EINVAL for overlapping ranges),
   * mapped sources (DBOS_EFAULT), no live view on a source (DBOS_EBUSY).
   */
  move(source: PageSet, target: PageSet): void {
    const self = Region.#of(this);
    const from = toNativePages(source, 'source');
    const to = toNativePages(target, 'target');
    if (pageSetCount(from) !== pageSetCount(to)) throw typeError('source and target must have the same count');
    const handle = self.#handle();
    callNative(() => handle.move(...from, ...to));
  }

  /** Change protection of mapped pages (DBOS_EFAULT if one is unmapped; DBOS_EBUSY below read-write under a view). */
  protect(pages: PageSet, protection: Protection): void {
    const self = Region.#of(this);
    const set = toNativePages(pages);
    const prot = protectionOf(protection);
    const handle = self.#handle();
    callNative(() => handle.protect(...set, prot));
  }

  /** Back mapped pages with memory now (MADV_POPULATE_WRITE), so first touches cost nothing. Blocks while it allocates. */
  populate(pages: PageSet): void {
    const self = Region.#of(this);
    const set = toNativePages(pages);
    const handle = self.#handle();
    callNative(() => handle.populate(...set));
  }

  #buffer(offsetArgument: unknown, lengthArgument: unknown): ArrayBuffer {
    const offset = checkIntegerArgument(offsetArgument, 'offset');
    const length = checkIntegerArgument(lengthArgument, 'length');
    if (offset < 0 || length < 0 || offset + length > this.size)
      throw rangeError(`[${offset}, ${offset + length}) is outside the region of ${this.size} bytes`);
    if (length > VIEW_LENGTH_MAX) throw rangeError(`a view holds at most ${VIEW_LENGTH_MAX} bytes`);
    const handle = this.#handle();
    if (length === 0) return new ArrayBuffer(0);
    return callNative(() => handle.view(offset, length));
  }

  /**
   * A `Uint8Array` over bytes [offset, offset + length) of the region, without
   * copying.  Every page it touches must be mapped read-write (DBOS_EFAULT
   * otherwise) and stays so while the view lives (pinned).  RangeError outside
   * the region.  Release with `release(view)` when done to unpin at once.
   */
  view(offset: number, length: number): Uint8Array {
    return new Uint8Array(Region.#of(this).#buffer(offset, length));
  }

  /** Like `view`, as a `DataView`. */
  dataView(offset: number, length: number): DataView {
    return new DataView(Region.#of(this).#buffer(offset, length));
  }

  /**
   * Release a view now: its buffer is detached (every typed array over it gets
   * length 0) and its pages are unpinned.  Returns false if it is not a live
   * view of this region (released already, or from elsewhere).
   */
  release(view: ArrayBufferView | ArrayBuffer): boolean {
    const self = Region.#of(this);
    const buffer = bufferOf(view);
    if (buffer === null) throw typeError(`release() takes a view returned by view() or dataView() (got ${describeValue(view)})`);
    if (buffer.byteLength === 0) return false;
    const handle = self.#handle();
    return callNative(() => handle.release(buffer));
  }

  /** State, protection and frame of one page. RangeError outside the region. */
  pageInfo(page: number): PageInfo {
    const self = Region.#of(this);
    checkIntegerArgument(page, 'page');
    const handle = self.#handle();
    const info = callNative(() => handle.pageQuery(page));
    const state = STATES[info.state] ?? 'unmapped';
    return {
      state,
      protection: state === 'unmapped' ? 'none' : (PROTECTION_NAMES[info.prot] ?? 'none'),
      frame: state === 'frame' ? info.frame : null,
    };
  }

  /** True when a live view pins a page of the range. */
  isPinned(range?: PageRange): boolean {
    const self = Region.#of(this);
    const [first, count] = self.#range(range);
    const handle = self.#handle();
    return count > 0 && callNative(() => handle.pinned(first, count));
  }

  /**
   * Start tracking which pages are written.  `mechanism` 'auto' (default)
   * picks `probe().dirty`: userfaultfd WP_ASYNC + PAGEMAP_SCAN where the
   * kernel has them, else 'shadow-compare' (a copy of every mapped page,
   * compared on each collection: memory bandwidth per collect).  Returns the
   * mechanism used.  DBOS_EBUSY if already tracking; DBOS_ENOTSUP for an
   * unavailable mechanism.
   */
  startDirtyTracking(options?: { mechanism?: 'auto' | DirtyMechanism }): DirtyMechanism {
    const self = Region.#of(this);
    const name = optionsOf(options).mechanism ?? 'auto';
    const mechanism = typeof name === 'string' && Object.hasOwn(MECHANISMS, name) ? MECHANISMS[name] : undefined;
    if (mechanism === undefined) throw typeError(`unknown dirty mechanism ${describeValue(name)}`);
    const handle = self.#handle();
    callNative(() => handle.dirtyStart(mechanism));
    return handle.dirtyMechanism() as DirtyMechanism;
  }

  /** Stop tracking (idempotent). */
  stopDirtyTracking(): void {
    const handle = Region.#of(this).#handle();
    callNative(() => handle.dirtyStop());
  }

  /** The mechanism tracking writes now, or 'none'. */
  get dirtyMechanism(): DirtyMechanism | 'none' {
    return Region.#of(this).#handle().dirtyMechanism() as DirtyMechanism | 'none';
  }

  #range(range: PageRange | undefined): [number, number] {
    const { first = 0, count: countOption } = optionsOf(range, 'range');
    checkIntegerArgument(first, 'first');
    const count = countOption ?? this.pageCount - first;
    checkIntegerArgument(count, 'count');
    if (first < 0 || count < 0 || first + count > this.pageCount)
      throw rangeError(`pages [${first}, ${first + count}) are outside the region of ${this.pageCount} pages`);
    return [first, count];
  }

  #collect(range: PageRange | undefined, call: (first: number, count: number, capacity: number) => [Uint32Array, number]): Uint32Array {
    const [first, count] = this.#range(range);
    const end = first + count;
    const parts: Uint32Array[] = [];
    let total = 0;
    // Each round advances `next` or ends the loop; the bound only guards against a native bug.
    for (let next = first, rounds = 0; next < end; rounds++) {
      if (rounds > count) throw new DbosError('DBOS_EIO', 'page scan made no progress');
      const [pages, stop] = callNative(() => call(next, end - next, Math.min(COLLECT_CHUNK, end - next)));
      parts.push(pages);
      total += pages.length;
      if (stop <= next) break;
      next = stop;
    }
    if (parts.length === 1 && parts[0] !== undefined) return parts[0];
    const all = new Uint32Array(total);
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    return all;
  }

  /**
   * Indexes of pages written since tracking started or the last reset, in
   * increasing order.  With `reset: true` they become clean atomically with
   * the report.  DBOS_EINVAL if tracking is off.  Page operations (map,
   * discard, move, unmap) are not writes.
   */
  collectDirty(options?: PageRange & { reset?: boolean }): Uint32Array {
    const self = Region.#of(this);
    const handle = self.#handle();
    const settings = optionsOf(options);
    const reset = settings.reset === true;
    return self.#collect(settings, (first, count, capacity) => handle.dirtyCollect(first, count, reset, capacity));
  }

  /** Make the pages of the range clean. */
  resetDirty(range?: PageRange): void {
    const self = Region.#of(this);
    const [first, count] = self.#range(range);
    const handle = self.#handle();
    callNative(() => handle.dirtyReset(first, count));
  }

  /**
   * Indexes of pages backed by memory now (PAGEMAP_SCAN). Pages only read
   * (the shared zero page) do not count.  DBOS_ENOTSUP where the kernel cannot tell.
   * Accessed bits are not available on the host runtime (Linux keeps them).
   */
  residentPages(range?: PageRange): Uint32Array {
    const self = Region.#of(this);
    const handle = self.#handle();
    return self.#collect(range, (first, count, capacity) => handle.presentCollect(first, count, capacity));
  }

  /** Counters. */
  stats(): RegionStats {
    const handle = Region.#of(this).#handle();
    return { ...handle.stats(), liveViews: handle.liveViews() };
  }

  /**
   * Detach every view, stop tracking and fault filling, and give the address
   * range back.  Idempotent.  Views over the region have length 0 afterwards.
   */
  close(): void {
    const self = Region.#of(this);
    self.#native?.close();
    self.#native = null;
  }
}
