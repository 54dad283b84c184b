// A table heap in one @dbos/pagetable Region: fixed 64-byte rows in 4 KiB pages, each page a frame
// of a FramePool mapped at a slot of the region. The heap grows by mapping frames at the next slots
// (nothing is ever copied to grow, and a page keeps its address until VACUUM moves it), a
// checkpointer writes only the pages the kernel saw written, and VACUUM packs the live pages into
// the first slots by remapping their frames, the way SQLite's auto-vacuum moves the last pages into
// free ones, but without reading or writing a byte of them.
import fs from 'node:fs';
import { FramePool, PAGE_SIZE, Region } from '@dbos/pagetable';

export const ROW_SIZE = 64;
const HEADER_SIZE = 64; // logical page number (u32), live rows (u32), then unused
export const ROWS_PER_PAGE = (PAGE_SIZE - HEADER_SIZE) / ROW_SIZE; // 63
const EXTENT_PAGES = 16; // the heap grows 64 KiB at a time, as heap files do
const ADDRESS_SPACE_BYTES = 2 ** 40; // 1 TiB reserved: costs page-table entries only once used
const FRAME_COUNT = 2 ** 18; // 1 GiB of frames; memory is used only by frames written
const DEAD_KEY = 0xffffffff;

/** The bytes a row holds after its key and version, so a checksum notices any misplaced row. */
const fillOf = (key, version) => ((Math.imul(key, 31) + version) & 0xff) * 0x01010101;

/** FNV-1a over a page, 32-bit. */
function checksum(bytes) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return hash >>> 0;
}

export class Heap {
  region = Region.reserve(ADDRESS_SPACE_BYTES);
  pool = FramePool.create(FRAME_COUNT);
  dirtyMechanism = this.region.startDirtyTracking();
  /** Slots mapped so far: whole extents, the last one partly unused. */
  slotsMapped = 0;
  /** slotOf[logical page] = the slot showing it, -1 once VACUUM dropped it (it held no row). */
  slotOf = [];
  #framesFree = [];
  #frameNext = 0;

  /** Run `use(view)` with a DataView over one slot; the view pins the page, so release it at once. */
  withPage(slot, use) {
    const view = this.region.dataView(slot * PAGE_SIZE, PAGE_SIZE);
    try {
      return use(view);
    } finally {
      this.region.release(view);
    }
  }

  #takeFrames(count) {
    const frames = this.#framesFree.splice(-count, count);
    while (frames.length < count) frames.push(this.#frameNext++);
    return frames;
  }

  #grow() {
    this.region.mapFrames({ first: this.slotsMapped, count: EXTENT_PAGES }, this.pool, this.#takeFrames(EXTENT_PAGES));
    this.slotsMapped += EXTENT_PAGES;
  }

  /** Append rows with keys 0 … count-1 (version 1), page after page, growing as needed. */
  insert(count) {
    for (let first = 0; first < count; first += ROWS_PER_PAGE) {
      const logical = this.slotOf.length;
      if (logical === this.slotsMapped) this.#grow();
      this.slotOf.push(logical);
      const rows = Math.min(ROWS_PER_PAGE, count - first);
      this.withPage(logical, (view) => {
        view.setUint32(0, logical, true);
        view.setUint32(4, rows, true);
        for (let index = 0; index < rows; index++) writeRow(view, index, first + index, 1);
      });
    }
  }

  /** Bump a row's version (and rewrite its bytes); returns the slot written. */
  update(key) {
    const slot = this.slotOf[Math.floor(key / ROWS_PER_PAGE)];
    const index = key % ROWS_PER_PAGE;
    this.withPage(slot, (view) => writeRow(view, index, key, view.getUint32(rowAt(index) + 4, true) + 1));
    return slot;
  }

  /** Delete the rows with keys first … end-1; returns the slots written. */
  deleteRange(first, end) {
    const slots = new Set();
    for (let key = first; key < end; key++) {
      const slot = this.slotOf[Math.floor(key / ROWS_PER_PAGE)];
      this.withPage(slot, (view) => {
        view.setUint32(rowAt(key % ROWS_PER_PAGE), DEAD_KEY, true);
        view.setUint32(4, view.getUint32(4, true) - 1, true);
      });
      slots.add(slot);
    }
    return slots;
  }

  /** Write every page written since the last checkpoint to its logical place in `fd`; returns the slots. */
  checkpoint(fd) {
    const dirty = this.region.collectDirty({ reset: true });
    for (const slot of dirty) {
      this.withPage(slot, (view) => {
        const bytes = new Uint8Array(view.buffer, view.byteOffset, PAGE_SIZE);
        fs.writeSync(fd, bytes, 0, PAGE_SIZE, view.getUint32(0, true) * PAGE_SIZE);
      });
    }
    fs.fdatasyncSync(fd);
    return dirty;
  }

  /** Per live logical page: its frame and checksum, and the heap's live rows. */
  census() {
    const pages = new Map();
    let rows = 0;
    this.slotOf.forEach((slot, logical) => {
      if (slot < 0) return;
      this.withPage(slot, (view) => {
        const live = view.getUint32(4, true);
        rows += live;
        if (live === 0) return;
        const sum = checksum(new Uint8Array(view.buffer, view.byteOffset, PAGE_SIZE));
        pages.set(logical, { slot, frame: this.region.pageInfo(slot).frame, checksum: sum, stamp: view.getUint32(0, true) });
      });
    });
    return { pages, rows };
  }

  /**
   * VACUUM: drop the pages that hold no row, then move the live pages found past the new end into
   * the holes below it. Sources all lie at or past the end and targets below it, so the two sets
   * never share a page, as move() requires. Returns what it did.
   */
  vacuum() {
    // 1. Empty pages (and the unused tail of the last extent) give their frames back.
    const empty = this.slotOf.filter((slot) => slot >= 0 && this.withPage(slot, (view) => view.getUint32(4, true)) === 0);
    const liveCount = this.slotOf.length - empty.length;
    const tail = Array.from({ length: this.slotsMapped - this.slotOf.length }, (_, i) => this.slotOf.length + i);
    const dropped = [...empty, ...tail].sort((a, b) => a - b);
    const frames = dropped.map((slot) => this.region.pageInfo(slot).frame);
    this.region.unmap(dropped);
    this.pool.release(frames);
    this.#framesFree.push(...frames);
    // 2. Pair each hole below the new end with a live page at or past it, both ascending.
    const emptySet = new Set(empty);
    const holes = empty.filter((slot) => slot < liveCount);
    const movers = [];
    for (let slot = liveCount; slot < this.slotOf.length; slot++) if (!emptySet.has(slot)) movers.push(slot);
    // 3. One call moves them all: frames are remapped, not copied.
    const callsBefore = this.region.stats().runtimeCalls;
    const started = process.hrtime.bigint();
    this.region.move(movers, holes);
    const moveNs = process.hrtime.bigint() - started;
    // 4. The directory follows: logical page → its new slot, -1 for the dropped ones.
    const targetOf = new Map(movers.map((slot, i) => [slot, holes[i]]));
    this.slotOf = this.slotOf.map((slot) => (emptySet.has(slot) ? -1 : (targetOf.get(slot) ?? slot)));
    this.slotsMapped = liveCount;
    const calls = this.region.stats().runtimeCalls - callsBefore;
    return {
      emptyPages: empty.length,
      unusedSlots: tail.length,
      framesFreed: frames.length,
      moved: movers.length,
      holes: holes.length,
      liveCount,
      calls,
      moveNs,
    };
  }

  close() {
    this.region.close();
    this.pool.close();
  }
}

function rowAt(index) {
  return HEADER_SIZE + index * ROW_SIZE;
}

function writeRow(view, index, key, version) {
  const at = rowAt(index);
  view.setUint32(at, key, true);
  view.setUint32(at + 4, version, true);
  const fill = fillOf(key, version);
  for (let offset = 8; offset < ROW_SIZE; offset += 4) view.setUint32(at + offset, fill, true);
}
