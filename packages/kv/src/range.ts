// range(): a lazy iterable over the entries between two bounds. Each iteration opens its own
// native cursor when it starts and reads entries in chunks (one native call per ~64 KiB of
// entries); the cursor is closed when the iteration ends, breaks or throws.
import { describeValue, rangeError, typeError } from '@dbos/platform';
import { type Codec, keyBytes } from './encoding.js';
import { kvCall, kvSettle } from './errors.js';
import type { NativeCursor, NativeKv, NativeView } from './native.js';
import { booleanOption, optionsObject } from './options.js';

/** Options of `range()`. Bounds are keys in the store's key encoding; give at most one lower and one upper bound. */
export interface RangeOptions<K = unknown> {
  /** Entries with keys greater than this. */
  gt?: K;
  /** Entries with keys greater than or equal to this. */
  gte?: K;
  /** Entries with keys less than this. */
  lt?: K;
  /** Entries with keys less than or equal to this. */
  lte?: K;
  /** From the highest key down. Default `false`. */
  reverse?: boolean;
  /** At most this many entries (a non-negative integer, or `Infinity`). Default `Infinity`. */
  limit?: number;
  /** Yield keys. Default `true`. */
  keys?: boolean;
  /** Yield values. Default `true`. */
  values?: boolean;
}

/** An entry of a range with both keys and values. */
export interface Entry<K, V> {
  key: K;
  value: V;
}

/** What the store lends a range or a snapshot: the native handle and its codecs. */
export interface Reader {
  readonly native: NativeKv;
  readonly keyCodec: Codec;
  readonly valueCodec: Codec;
  /** Throws DBOS_ECLOSED once the store's close() has begun. */
  check(): void;
  /** Count an async native call in flight, so close() waits for it. */
  track<T>(promise: Promise<T>): Promise<T>;
}

const RANGE_KEYS = new Set(['gt', 'gte', 'lt', 'lte', 'reverse', 'limit', 'keys', 'values']);

interface Bounds {
  low: Uint8Array | undefined;
  lowInclusive: boolean;
  high: Uint8Array | undefined;
  highInclusive: boolean;
  reverse: boolean;
  limit: number;
  keys: boolean;
  values: boolean;
}

function bound(codec: Codec, options: Record<string, unknown>, exclusive: string, inclusive: string): [Uint8Array | undefined, boolean] {
  const open = options[exclusive];
  const closed = options[inclusive];
  if (open !== undefined && closed !== undefined) throw typeError(`range options: give ${exclusive} or ${inclusive}, not both`);
  if (closed !== undefined) return [keyBytes(codec, closed, `options.${inclusive}`), true];
  if (open !== undefined) return [keyBytes(codec, open, `options.${exclusive}`), false];
  return [undefined, false];
}

/** Check range()'s options once, when range() is called. */
export function rangeBounds(codec: Codec, options: unknown): Bounds {
  const given = optionsObject(options, RANGE_KEYS, 'range options');
  const [low, lowInclusive] = bound(codec, given, 'gt', 'gte');
  const [high, highInclusive] = bound(codec, given, 'lt', 'lte');
  const limit = given.limit ?? Number.POSITIVE_INFINITY;
  if (typeof limit !== 'number' || Number.isNaN(limit)) throw typeError(`options.limit must be a number (got ${describeValue(limit)})`);
  if (limit < 0 || (limit !== Number.POSITIVE_INFINITY && !Number.isInteger(limit))) {
    throw rangeError(`options.limit must be a non-negative integer or Infinity (got ${limit})`);
  }
  const keys = booleanOption(given, 'keys', true);
  const values = booleanOption(given, 'values', true);
  if (!keys && !values) throw typeError('range options: keys and values cannot both be false');
  return { low, lowInclusive, high, highInclusive, reverse: booleanOption(given, 'reverse', false), limit, keys, values };
}

/** Entries parsed out of one chunk: `[u32 key size][u32 0][u64 value size][key][value]`, each padded to 8 bytes. */
function* entriesOf(chunk: Buffer): Generator<[Buffer, Buffer]> {
  let at = 0;
  while (at + 16 <= chunk.length) {
    const keySize = chunk.readUInt32LE(at);
    const valueSize = chunk.readUInt32LE(at + 8) + chunk.readUInt32LE(at + 12) * 2 ** 32;
    const keyStart = at + 16;
    const valueStart = keyStart + keySize;
    const end = valueStart + valueSize;
    if (end > chunk.length) throw new RangeError('a cursor chunk ends inside an entry (a bug in the binding)');
    yield [chunk.subarray(keyStart, valueStart), chunk.subarray(valueStart, end)];
    at = (end + 7) & ~7;
  }
}

/**
 * The entries of a range: iterate it with `for…of` (reads on this thread) or `for await…of`
 * (reads on a pool thread). Each iteration starts from the beginning of the range. Yields
 * `{ key, value }`, or only keys (`values: false`), or only values (`keys: false`).
 */
export class RangeIterable<T> implements Iterable<T>, AsyncIterable<T> {
  readonly #reader: Reader;
  readonly #view: NativeView | undefined;
  readonly #bounds: Bounds;

  /** @internal Made by `range()`. */
  constructor(reader: Reader, view: NativeView | undefined, bounds: Bounds) {
    this.#reader = reader;
    this.#view = view;
    this.#bounds = bounds;
  }

  /** A method called with another `this` is a TypeError DBOS_EINVAL, not the engine's uncoded one. */
  static #brand(self: unknown): void {
    if (typeof self !== 'object' || self === null || !(#bounds in self)) {
      throw typeError(`a RangeIterable method was called on ${describeValue(self)}, not on a range`);
    }
  }

  #open(): NativeCursor {
    this.#reader.check();
    const b = this.#bounds;
    return kvCall(() => this.#reader.native.cursorOpen(this.#view, b.low, b.lowInclusive, b.high, b.highInclusive, b.reverse));
  }

  #shape(key: Buffer, value: Buffer): T {
    const { keys, values } = this.#bounds;
    const { keyCodec, valueCodec } = this.#reader;
    if (keys && values) return { key: keyCodec.decodeBytes(key), value: valueCodec.decodeBytes(value) } as T;
    return (keys ? keyCodec.decodeBytes(key) : valueCodec.decodeBytes(value)) as T;
  }

  [Symbol.iterator](): Iterator<T> {
    RangeIterable.#brand(this);
    const state = new IterationState(this.#bounds.limit);
    return {
      next: (): IteratorResult<T> => {
        for (;;) {
          const entry = state.take();
          if (entry) return { done: false, value: this.#shape(entry[0], entry[1]) };
          if (state.finished) return { done: true, value: undefined };
          try {
            state.cursor ??= this.#open();
            const cursor = state.cursor;
            state.fill(
              kvCall(() => {
                this.#reader.check();
                return cursor.next();
              }),
            );
          } catch (error) {
            state.abandon();
            throw error;
          }
        }
      },
      return: (): IteratorResult<T> => {
        state.close();
        return { done: true, value: undefined };
      },
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    RangeIterable.#brand(this);
    const state = new IterationState(this.#bounds.limit);
    return {
      next: async (): Promise<IteratorResult<T>> => {
        for (;;) {
          const entry = state.take();
          if (entry) return { done: false, value: this.#shape(entry[0], entry[1]) };
          if (state.finished) return { done: true, value: undefined };
          try {
            state.cursor ??= this.#open();
            const cursor = state.cursor;
            this.#reader.check();
            state.fill(await this.#reader.track(kvSettle(kvCall(() => cursor.nextAsync()))));
          } catch (error) {
            state.abandon();
            throw error;
          }
        }
      },
      return: async (): Promise<IteratorResult<T>> => {
        state.close();
        return { done: true, value: undefined };
      },
    };
  }

  /** Every entry, in order, read on this thread. */
  toArray(): T[] {
    return [...this];
  }
}

/** One iteration: its cursor, the entries of the chunk being handed out, and the limit left. */
class IterationState {
  cursor: NativeCursor | undefined;
  #entries: Generator<[Buffer, Buffer]> | undefined;
  #left: number;
  #ended = false;

  constructor(limit: number) {
    this.#left = limit;
    if (limit === 0) this.#ended = true;
  }

  get finished(): boolean {
    return this.#ended;
  }

  take(): [Buffer, Buffer] | undefined {
    if (this.#ended || this.#entries === undefined) return undefined;
    const next = this.#entries.next();
    if (next.done) {
      this.#entries = undefined;
      return undefined;
    }
    if (--this.#left <= 0) this.close();
    return next.value;
  }

  fill(chunk: Buffer | null): void {
    if (chunk === null) this.close();
    else this.#entries = entriesOf(chunk);
  }

  /** End the iteration and close its cursor (entries already taken stay valid: they are copies). */
  close(): void {
    this.#ended = true;
    this.#entries = undefined;
    const cursor = this.cursor;
    this.cursor = undefined;
    if (cursor) kvCall(() => cursor.close());
  }

  /** End after a failure: the cursor is closed if it still can be (the store's close may have closed it). */
  abandon(): void {
    try {
      this.close();
    } catch {
      // The failure being reported matters more than a second one from closing.
    }
  }
}
