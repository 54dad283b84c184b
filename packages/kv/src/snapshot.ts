// snapshot(): a read view of the store as of the moment it was taken, stable while writes go on.
import { DbosError, describeValue, typeError } from '@dbos/platform';
import type { Decoded, EncodingName } from './encoding.js';
import { kvCall } from './errors.js';
import type { NativeView } from './native.js';
import { type Entry, type RangeIterable, type RangeOptions, type Reader, rangeBounds } from './range.js';
import { getMany, getManySync, getOne, makeRange } from './reads.js';

/**
 * A consistent read view: `get`, `getMany`, `getManySync` and `range` see the store as it was
 * when `snapshot()` was called, whatever is written since. The store keeps a copy of each page
 * changed while the view is open (memory: one page per page written), so close it when done.
 * The store's `close()` closes it too; calls on a closed snapshot throw DBOS_ECLOSED.
 */
export class Snapshot<K extends EncodingName = 'utf8', V extends EncodingName = 'utf8'> {
  readonly #reader: Reader;
  #view: NativeView | null;

  /** @internal Made by `KvStore.snapshot()`. */
  constructor(reader: Reader, view: NativeView) {
    this.#reader = reader;
    this.#view = view;
  }

  /** A method called with another `this` is a TypeError DBOS_EINVAL, not the engine's uncoded one. */
  static #brand(self: unknown): void {
    if (typeof self !== 'object' || self === null || !(#view in self)) {
      throw typeError(`a Snapshot method was called on ${describeValue(self)}, not on a snapshot`);
    }
  }

  #open(): NativeView {
    if (this.#view === null) throw new DbosError('DBOS_ECLOSED', 'the snapshot is closed');
    this.#reader.check();
    return this.#view;
  }

  /** True once `close()` was called (a snapshot of a closed store is also unusable). */
  get closed(): boolean {
    Snapshot.#brand(this);
    return this.#view === null;
  }

  /** The value of `key` as of the snapshot, or `undefined`. Synchronous. */
  get(key: unknown): Decoded[V] | undefined {
    Snapshot.#brand(this);
    return getOne(this.#reader, this.#open(), key) as Decoded[V] | undefined;
  }

  /** The values of `keys` as of the snapshot, read on pool threads. */
  getMany(keys: readonly unknown[]): Promise<(Decoded[V] | undefined)[]> {
    try {
      Snapshot.#brand(this);
      return getMany(this.#reader, this.#open(), keys) as Promise<(Decoded[V] | undefined)[]>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The values of `keys` as of the snapshot, read on this thread. */
  getManySync(keys: readonly unknown[]): (Decoded[V] | undefined)[] {
    Snapshot.#brand(this);
    return getManySync(this.#reader, this.#open(), keys) as (Decoded[V] | undefined)[];
  }

  /** The entries of a range as of the snapshot (see `KvStore.range`). */
  range(options: RangeOptions & { values: false }): RangeIterable<Decoded[K]>;
  range(options: RangeOptions & { keys: false }): RangeIterable<Decoded[V]>;
  range(options?: RangeOptions): RangeIterable<Entry<Decoded[K], Decoded[V]>>;
  range(options?: RangeOptions): RangeIterable<unknown> {
    Snapshot.#brand(this);
    const view = this.#open();
    return makeRange(this.#reader, view, rangeBounds(this.#reader.keyCodec, options));
  }

  /** Close the view and the iterations reading it. Idempotent. DBOS_EBUSY while a `getMany` or async iteration reads it. */
  close(): void {
    Snapshot.#brand(this);
    const view = this.#view;
    if (view === null) return;
    kvCall(() => view.close());
    this.#view = null;
  }
}
