// An ordered index on @dbos/bufferpool: a B+tree of u64 keys and fixed-size values whose nodes are
// pages of one file. Writers take exclusive fixes (latch coupling: ancestors that cannot split are
// unfixed early); point lookups are optimistic reads; a batch of lookups descends level by level
// with async fixes, so each level's misses go to the device together; range scans walk the leaves
// through their sibling links.
import type { BufferPool, Page } from '@dbos/bufferpool';

/** Bytes of every value. */
export const VALUE_BYTES = 56;

// Every node begins with a 16-byte header: kind (u8), key count (u16), next leaf (u32, 0 = none).
const KIND = 0;
const COUNT = 2;
const NEXT = 4;
const NODE_HEADER = 16;
const LEAF = 1;
const INNER = 2;

// The header page (the first page the tree allocates) holds the tree's own header.
const META_MAGIC = 0x42545245; // 'BTRE'
const META_PID = 1;
const META = { magic: 0, root: 4, height: 8, size: 16 };

// Fixed slots: a leaf holds `count` keys and then, at VALUES, `count` values; an inner node holds
// `count` separator keys and, at CHILDREN, `count + 1` child page ids (keys >= keys[i] go right of it).
const view = (data: Uint8Array) => new DataView(data.buffer, data.byteOffset, data.byteLength);

export interface Layout {
  leafCapacity: number;
  innerCapacity: number;
}

function layoutFor(payloadSize: number): Layout {
  const space = payloadSize - NODE_HEADER;
  return { leafCapacity: Math.floor(space / (8 + VALUE_BYTES)), innerCapacity: Math.floor((space - 4) / (8 + 4)) };
}

export class BTree {
  readonly #pool: BufferPool;
  readonly layout: Layout;
  readonly #values: number; // offset of a leaf's value slots
  readonly #children: number; // offset of an inner node's child slots

  private constructor(pool: BufferPool) {
    this.#pool = pool;
    this.layout = layoutFor(pool.payloadSize);
    this.#values = NODE_HEADER + 8 * this.layout.leafCapacity;
    this.#children = NODE_HEADER + 8 * this.layout.innerCapacity;
  }

  /** The tree in `pool`: a new one (header page and an empty root leaf) in an empty file. */
  static open(pool: BufferPool): BTree {
    const tree = new BTree(pool);
    if (pool.pageCount <= META_PID) {
      const meta = pool.allocate();
      const root = pool.allocate();
      if (meta.pid !== META_PID) throw new Error(`the header page is ${meta.pid}, not ${META_PID}`);
      view(root.data).setUint8(KIND, LEAF);
      const m = view(meta.data);
      m.setUint32(META.magic, META_MAGIC, true);
      m.setUint32(META.root, root.pid, true);
      m.setUint32(META.height, 1, true);
      root.release();
      meta.release();
    } else if (pool.read(META_PID, (data) => view(data).getUint32(META.magic, true)) !== META_MAGIC) {
      throw new Error('page 1 is not a B+tree header');
    }
    return tree;
  }

  /** Keys in the tree, its height, and its root page, from the header page. */
  get info(): { size: number; height: number; root: number } {
    return this.#pool.read(META_PID, (data) => {
      const m = view(data);
      return { size: Number(m.getBigUint64(META.size, true)), height: m.getUint32(META.height, true), root: m.getUint32(META.root, true) };
    });
  }

  /** Insert or replace. Returns true when `key` is new. */
  put(key: bigint, value: Uint8Array): boolean {
    if (value.length !== VALUE_BYTES) throw new RangeError(`a value has ${VALUE_BYTES} bytes (got ${value.length})`);
    // Descend with exclusive fixes. A node with room for one more key absorbs any split below
    // it, so every fix above it (the header page included) is released unchanged (dirty: false).
    let meta: Page | undefined = this.#pool.fixExclusive(META_PID);
    const path: Page[] = [];
    let pid = view(meta.data).getUint32(META.root, true);
    for (;;) {
      const page = this.#pool.fixExclusive(pid);
      if (this.#count(page.data) < this.#capacity(page.data)) {
        meta?.release({ dirty: false });
        meta = undefined;
        for (const held of path.splice(0)) held.release({ dirty: false });
      }
      path.push(page);
      if (this.#isLeaf(page.data)) break;
      pid = this.#child(page.data, this.#search(page.data, key, true));
    }
    const leaf = path.pop()!;
    let split: { key: bigint; right: number } | undefined;
    let added = true;
    try {
      ({ split, added } = this.#putInLeaf(leaf, key, value));
      // Separators go up the path; every node still held there is full or is the one that takes it.
      while (split && path.length > 0) {
        const node = path.pop()!;
        split = this.#putInInner(node, split.key, split.right);
        node.release();
      }
      if (meta) {
        const m = view(meta.data);
        if (split) {
          const root = this.#pool.allocate(); // the root split: a new root above both halves
          const r = view(root.data);
          r.setUint8(KIND, INNER);
          r.setUint16(COUNT, 1, true);
          r.setBigUint64(NODE_HEADER, split.key, true);
          r.setUint32(this.#children, m.getUint32(META.root, true), true);
          r.setUint32(this.#children + 4, split.right, true);
          root.release();
          m.setUint32(META.root, root.pid, true);
          m.setUint32(META.height, m.getUint32(META.height, true) + 1, true);
        }
        if (added) m.setBigUint64(META.size, m.getBigUint64(META.size, true) + 1n, true);
        meta.release({ dirty: split !== undefined || added });
      } else if (added) {
        const header = this.#pool.fixExclusive(META_PID);
        const m = view(header.data);
        m.setBigUint64(META.size, m.getBigUint64(META.size, true) + 1n, true);
        header.release();
      }
    } finally {
      if (leaf.fixed) leaf.release();
      for (const node of path) node.release({ dirty: false });
      if (meta?.fixed) meta.release({ dirty: false });
    }
    return added;
  }

  /**
   * A point lookup by optimistic reads: no latch is taken; a node the pool evicted (or a writer
   * changed) while it was read fails validation and is read again. Each node's read is validated
   * on its own, which is enough here because writers run on this same thread, between lookups; an
   * engine with writers on other threads would also revalidate the parent after reading the child.
   */
  get(key: bigint): Uint8Array | undefined {
    let pid = this.#pool.read(META_PID, (data) => view(data).getUint32(META.root, true));
    for (;;) {
      const step = this.#pool.read(pid, (data): { child: number } | { value: Uint8Array | undefined } =>
        this.#isLeaf(data) ? { value: this.#valueIn(data, key) } : { child: this.#child(data, this.#search(data, key, true)) },
      );
      if ('value' in step) return step.value;
      pid = step.child;
    }
  }

  /**
   * Many lookups at once: every key descends one level per round, and each round fixes the distinct
   * pages it needs with async fixes issued together, so their misses are read in one batch.
   */
  async getMany(keys: readonly bigint[]): Promise<(Uint8Array | undefined)[]> {
    const root = this.#pool.read(META_PID, (data) => view(data).getUint32(META.root, true));
    const at: number[] = keys.map(() => root);
    const results: (Uint8Array | undefined)[] = keys.map(() => undefined);
    let pending = keys.map((_, i) => i);
    while (pending.length > 0) {
      const pids = [...new Set(pending.map((i) => at[i]!))];
      const pages = new Map((await this.#pool.fixManyAsync(pids)).map((page) => [page.pid, page]));
      const next: number[] = [];
      for (const i of pending) {
        const data = pages.get(at[i]!)!.data;
        if (this.#isLeaf(data)) results[i] = this.#valueIn(data, keys[i]!);
        else {
          at[i] = this.#child(data, this.#search(data, keys[i]!, true));
          next.push(i);
        }
      }
      for (const page of pages.values()) page.release();
      pending = next;
    }
    return results;
  }

  /**
   * Entries with `from <= key < to`, in key order: the leaf of `from`, then its right siblings.
   * One leaf is fixed (shared) at a time and copied out; the next leaf is prefetched meanwhile.
   */
  *range(from: bigint, to: bigint): Generator<[bigint, Uint8Array]> {
    let pid = this.#pool.read(META_PID, (data) => view(data).getUint32(META.root, true));
    for (;;) {
      const child = this.#pool.read(pid, (data) => (this.#isLeaf(data) ? 0 : this.#child(data, this.#search(data, from, true))));
      if (child === 0) break;
      pid = child;
    }
    while (pid !== 0) {
      const page = this.#pool.fixShared(pid);
      const entries: [bigint, Uint8Array][] = [];
      let done = false;
      try {
        const data = page.data;
        const leaf = view(data);
        pid = leaf.getUint32(NEXT, true);
        if (pid !== 0) this.#pool.prefetch([pid]);
        for (let i = this.#search(data, from, false); i < this.#count(data); i++) {
          const key = leaf.getBigUint64(NODE_HEADER + 8 * i, true);
          if (key >= to) {
            done = true;
            break;
          }
          entries.push([key, data.slice(this.#values + VALUE_BYTES * i, this.#values + VALUE_BYTES * (i + 1))]);
        }
      } finally {
        page.release();
      }
      yield* entries;
      if (done) return;
    }
  }

  #isLeaf(data: Uint8Array): boolean {
    return data[KIND] === LEAF;
  }

  /** The key count, clamped: an optimistic read may see a page mid-change (and is then discarded). */
  #count(data: Uint8Array): number {
    return Math.min(view(data).getUint16(COUNT, true), this.#capacity(data));
  }

  #capacity(data: Uint8Array): number {
    return this.#isLeaf(data) ? this.layout.leafCapacity : this.layout.innerCapacity;
  }

  /** The first slot whose key is > key (`upper`) or >= key: binary search over the key slots. */
  #search(data: Uint8Array, key: bigint, upper: boolean): number {
    const node = view(data);
    let low = 0;
    let high = this.#count(data);
    while (low < high) {
      const mid = (low + high) >>> 1;
      const at = node.getBigUint64(NODE_HEADER + 8 * mid, true);
      if (at < key || (upper && at === key)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #child(data: Uint8Array, slot: number): number {
    return view(data).getUint32(this.#children + 4 * slot, true);
  }

  #valueIn(data: Uint8Array, key: bigint): Uint8Array | undefined {
    const slot = this.#search(data, key, false);
    if (slot >= this.#count(data) || view(data).getBigUint64(NODE_HEADER + 8 * slot, true) !== key) return undefined;
    return data.slice(this.#values + VALUE_BYTES * slot, this.#values + VALUE_BYTES * (slot + 1));
  }

  /** Put into a leaf fixed exclusively; a full leaf splits in half and returns its separator. */
  #putInLeaf(leaf: Page, key: bigint, value: Uint8Array): { split?: { key: bigint; right: number }; added: boolean } {
    const data = leaf.data;
    const slot = this.#search(data, key, false);
    if (slot < this.#count(data) && view(data).getBigUint64(NODE_HEADER + 8 * slot, true) === key) {
      data.set(value, this.#values + VALUE_BYTES * slot);
      return { added: false };
    }
    if (this.#count(data) < this.layout.leafCapacity) {
      this.#insertLeafSlot(data, slot, key, value);
      return { added: true };
    }
    const right = this.#pool.allocate();
    try {
      const half = this.layout.leafCapacity >> 1;
      const moved = this.layout.leafCapacity - half;
      const r = right.data;
      r[KIND] = LEAF;
      r.set(data.subarray(NODE_HEADER + 8 * half, NODE_HEADER + 8 * this.layout.leafCapacity), NODE_HEADER);
      r.set(data.subarray(this.#values + VALUE_BYTES * half, this.#values + VALUE_BYTES * this.layout.leafCapacity), this.#values);
      view(r).setUint16(COUNT, moved, true);
      view(r).setUint32(NEXT, view(data).getUint32(NEXT, true), true);
      view(data).setUint16(COUNT, half, true);
      view(data).setUint32(NEXT, right.pid, true);
      if (slot <= half) this.#insertLeafSlot(data, slot, key, value);
      else this.#insertLeafSlot(r, slot - half, key, value);
      return { split: { key: view(r).getBigUint64(NODE_HEADER, true), right: right.pid }, added: true };
    } finally {
      right.release();
    }
  }

  #insertLeafSlot(data: Uint8Array, slot: number, key: bigint, value: Uint8Array): void {
    const count = this.#count(data);
    data.copyWithin(NODE_HEADER + 8 * (slot + 1), NODE_HEADER + 8 * slot, NODE_HEADER + 8 * count);
    data.copyWithin(this.#values + VALUE_BYTES * (slot + 1), this.#values + VALUE_BYTES * slot, this.#values + VALUE_BYTES * count);
    view(data).setBigUint64(NODE_HEADER + 8 * slot, key, true);
    data.set(value, this.#values + VALUE_BYTES * slot);
    view(data).setUint16(COUNT, count + 1, true);
  }

  /** Put separator `key` with right child `right` into an inner node; a full one splits around its middle key. */
  #putInInner(node: Page, key: bigint, right: number): { key: bigint; right: number } | undefined {
    const data = node.data;
    const capacity = this.layout.innerCapacity;
    if (this.#count(data) < capacity) {
      this.#insertInnerSlot(data, this.#search(data, key, true), key, right);
      return undefined;
    }
    const sibling = this.#pool.allocate();
    try {
      const half = capacity >> 1; // keys [0, half) stay, key `half` goes up, the rest move right
      const up = view(data).getBigUint64(NODE_HEADER + 8 * half, true);
      const s = sibling.data;
      s[KIND] = INNER;
      s.set(data.subarray(NODE_HEADER + 8 * (half + 1), NODE_HEADER + 8 * capacity), NODE_HEADER);
      s.set(data.subarray(this.#children + 4 * (half + 1), this.#children + 4 * (capacity + 1)), this.#children);
      view(s).setUint16(COUNT, capacity - half - 1, true);
      view(data).setUint16(COUNT, half, true);
      const target = key < up ? data : s;
      this.#insertInnerSlot(target, this.#search(target, key, true), key, right);
      return { key: up, right: sibling.pid };
    } finally {
      sibling.release();
    }
  }

  #insertInnerSlot(data: Uint8Array, slot: number, key: bigint, right: number): void {
    const count = this.#count(data);
    data.copyWithin(NODE_HEADER + 8 * (slot + 1), NODE_HEADER + 8 * slot, NODE_HEADER + 8 * count);
    data.copyWithin(this.#children + 4 * (slot + 2), this.#children + 4 * (slot + 1), this.#children + 4 * (count + 1));
    view(data).setBigUint64(NODE_HEADER + 8 * slot, key, true);
    view(data).setUint32(this.#children + 4 * (slot + 1), right, true);
    view(data).setUint16(COUNT, count + 1, true);
  }
}
