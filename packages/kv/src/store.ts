// KvStore: the TypeScript face of dbos/kv.h. Reads are synchronous (a cached B+tree lookup is
// cheaper than an event-loop turn); writes apply at once (large batches on a pool thread, ahead of
// every later call) and return a promise of durability; everything that reads or writes many pages
// runs on pool threads.
import { DbosError, describeValue, typeError } from '@dbos/platform';
import { type BatchBuilder, batchBuilder } from './batch.js';
import { DurabilityQueue } from './durability.js';
import { type Codec, type Decoded, type Encodable, type EncodingName, codecOf, keyBytes, valueBytes } from './encoding.js';
import { kvCall, kvSettle } from './errors.js';
import { addon, type NativeKv, type NativeStats } from './native.js';
import { type KvOptions, type WriteOptions, openArguments, optionsObject, pathOf, writeSync } from './options.js';
import { type Entry, type RangeIterable, type RangeOptions, type Reader, rangeBounds } from './range.js';
import { getMany, getManySync, getOne, makeRange } from './reads.js';
import { Snapshot } from './snapshot.js';

const OPEN = Symbol('open a store');

/**
 * A batch of at least this many operations is applied on a pool thread (see {@link KvStore.batch}):
 * applying a thousand operations takes a millisecond or more, which would hold up the event loop.
 * Smaller writes cost less than the thread hop and are applied on this thread.
 */
export const ASYNC_BATCH_OPERATIONS = 256;
/** A larger batch is applied on this thread, which refuses one over the log's record limit at once. */
const ASYNC_BATCH_BYTES_MAX = 512 * 2 ** 20;

/** Stores with durability promises waiting: held here so they are not collected meanwhile. */
const WAITING = new Set<object>();

/** One operation of {@link KvStore.batch}. */
export type BatchOperation<K = unknown, V = unknown> = { type: 'put'; key: K; value: V } | { type: 'del'; key: K };

/** Counters of a store (struct dbos_kv_stats in camelCase, plus the open views and cursors). */
export type KvStats = NativeStats;

/** Progress of a backup or a check: bytes done of the total. Return `false` to stop (the call rejects with DBOS_ECANCELED). */
export type ProgressListener = (doneBytes: number, totalBytes: number) => boolean | undefined;

/** Options of `backup()` and `check()`. */
export interface ProgressOptions {
  /** Called on this thread as the work goes on (not for every page: reports are merged while one is queued). */
  onProgress?: ProgressListener;
  /** Aborting it stops the work at its next progress report (DBOS_ECANCELED). */
  signal?: AbortSignal;
}

const PROGRESS_KEYS = new Set(['onProgress', 'signal']);

/**
 * An open store (see README.md). Made by {@link open}. Keys and values are converted by the
 * store's encodings (`K`, `V`; `'utf8'` strings by default).
 */
export class KvStore<K extends EncodingName = 'utf8', V extends EncodingName = 'utf8'> {
  readonly #native: NativeKv;
  readonly #keyCodec: Codec;
  readonly #valueCodec: Codec;
  readonly #durability: DurabilityQueue;
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #reader: Reader;
  readonly #sync: boolean;
  #closing: Promise<void> | null = null;
  /** The store's directory. */
  readonly path: string;
  /** True when opened with `readOnly`. */
  readonly readOnly: boolean;

  /** @internal Use {@link open}. */
  constructor(token: symbol, path: string, options?: KvOptions) {
    if (token !== OPEN) throw typeError('stores are made by open(), not by new KvStore()');
    const args = openArguments(path, options);
    this.path = args.dir;
    this.readOnly = (args.flags & addon.flagReadOnly) !== 0;
    this.#keyCodec = codecOf(args.keyEncoding);
    this.#valueCodec = codecOf(args.valueEncoding);
    this.#sync = args.sync;
    // The listener holds the store weakly: a store dropped without close() can still be collected.
    const self = new WeakRef<KvStore<K, V>>(this);
    this.#native = kvCall(
      () =>
        new addon.NativeKv(args.dir, args.flags, args.pageSize, args.cacheBytes, args.checkpointWalBytes, args.waitForLockMs, (w, s, f) => {
          const store = self.deref();
          if (store) store.#durability.committed(w, s, f);
        }),
    );
    const native = this.#native;
    this.#durability = new DurabilityQueue({
      writtenLsn: () => native.writtenLsn(),
      syncedLsn: () => native.syncedLsn(),
      // While promises wait, the store is held strongly (and keeps the process alive): a store
      // dropped with writes in flight is not collected before their promises settle.
      holdListener: (hold) => {
        native.holdListener(hold);
        if (hold) WAITING.add(this);
        else WAITING.delete(this);
      },
    });
    this.#reader = {
      native,
      keyCodec: this.#keyCodec,
      valueCodec: this.#valueCodec,
      check: () => this.#check(),
      track: (promise) => this.#track(promise),
    };
  }

  #check(): void {
    if (this.#closing !== null) throw new DbosError('DBOS_ECLOSED', 'the store is closed');
  }

  static #is(self: unknown): boolean {
    return typeof self === 'object' && self !== null && #native in self;
  }

  /** The rejection of an async method called on something that is not a store. */
  static #misuse(self: unknown): Promise<never> {
    return Promise.reject(typeError(`a KvStore method was called on ${describeValue(self)}, not on a store made by open()`));
  }

  /**
   * Every public method starts here: `self` must be a KvStore (a method called with another
   * `this` is a TypeError DBOS_EINVAL, not the engine's uncoded private-field TypeError) and,
   * unless `closing` is allowed, still open.
   */
  static #use(self: unknown, closing = false): void {
    if (!KvStore.#is(self)) {
      throw typeError(`a KvStore method was called on ${describeValue(self)}, not on a store made by open()`);
    }
    if (!closing) (self as KvStore).#check();
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    const forget = () => this.#inflight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    KvStore.#use(this, true);
    return this.#closing !== null;
  }

  /** Which mechanisms this store uses here: page file mode, log sync, checksum. One line. */
  get mechanism(): string {
    KvStore.#use(this);
    return kvCall(() => this.#native.mechanism());
  }

  /**
   * The value of `key`, or `undefined` when absent. Synchronous: the tree is searched on this
   * thread (a page not in the cache is read from disk here; use `getMany` for cold keys).
   * Sees every write made before it, durable or not.
   */
  get(key: Encodable[K]): Decoded[V] | undefined {
    KvStore.#use(this);
    return getOne(this.#reader, undefined, key) as Decoded[V] | undefined;
  }

  /**
   * The values of `keys`, in order (`undefined` where absent), read on pool threads: a long list
   * is split over up to 4 native calls so several page reads are in flight at once.
   */
  getMany(keys: readonly Encodable[K][]): Promise<(Decoded[V] | undefined)[]> {
    try {
      KvStore.#use(this);
      return getMany(this.#reader, undefined, keys) as Promise<(Decoded[V] | undefined)[]>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The values of `keys`, read on this thread (blocks on cache misses). */
  getManySync(keys: readonly Encodable[K][]): (Decoded[V] | undefined)[] {
    KvStore.#use(this);
    return getManySync(this.#reader, undefined, keys) as (Decoded[V] | undefined)[];
  }

  /**
   * Set `key` to `value`. Applied before `put` returns (every read sees it); the promise
   * resolves once it is durable (see {@link WriteOptions.sync}). Throws at once, with nothing
   * applied, for a bad argument (TypeError DBOS_EINVAL, RangeError DBOS_ERANGE) or a refused
   * write (DBOS_EPERM read-only, DBOS_EIO after a log failure, DBOS_ECLOSED).
   */
  put(key: Encodable[K], value: Encodable[V], options?: WriteOptions): Promise<void> {
    KvStore.#use(this);
    return this.#write([{ type: 'put', key, value }], options);
  }

  /** Remove `key` (nothing happens when it is absent). Applied at once; the promise is its durability, as for `put`. */
  del(key: Encodable[K], options?: WriteOptions): Promise<void> {
    KvStore.#use(this);
    return this.#write([{ type: 'del', key }], options);
  }

  /**
   * Apply `operations` atomically, in order: every read sees all of them or none, and after a
   * crash all of them are there or none. At most 1,000,000 operations. The promise is its
   * durability, as for `put`.
   *
   * Every later call of this store sees the batch, as if it were applied before `batch` returns.
   * A batch of fewer than {@link ASYNC_BATCH_OPERATIONS} (256) operations is applied on this
   * thread before `batch` returns. A larger one is checked and copied at once (a bad argument
   * throws, with nothing applied) and applied on a pool thread, so the event loop goes on
   * meanwhile: the first call that reads or writes this store before it is applied waits for it
   * on this thread. Its promise resolves once it is applied and durable; a failure while applying
   * it (DBOS_EIO, DBOS_ENOMEM, DBOS_ERANGE for a batch larger than one log record) rejects it.
   */
  batch(operations: readonly BatchOperation<Encodable[K], Encodable[V]>[], options?: WriteOptions): Promise<void> {
    KvStore.#use(this);
    if (!Array.isArray(operations)) throw typeError(`batch() takes an array of operations (got ${describeValue(operations)})`);
    return this.#write(operations, options);
  }

  #write(operations: readonly unknown[], options: unknown): Promise<void> {
    this.#check();
    const sync = writeSync(options, this.#sync);
    const count = operations.length;
    if (count === 0) return Promise.resolve();
    if (count > addon.batchMax) throw new RangeError(`a batch of ${count} operations is more than ${addon.batchMax}`);
    const builder = batchBuilder(count);
    try {
      return this.#writeBuilt(builder, operations, sync);
    } finally {
      builder.release();
    }
  }

  #writeBuilt(builder: BatchBuilder, operations: readonly unknown[], sync: boolean): Promise<void> {
    const count = operations.length;
    const { types, keys, values } = builder;
    let bytes = 0;
    // utf8 and binary store a Uint8Array as it is: checked here without the codec's call and
    // without building an error label per operation (a bulk load passes thousands).
    const keyAsIs = this.#keyCodec.name !== 'json';
    const valueAsIs = this.#valueCodec.name !== 'json';
    for (let i = 0; i < count; i++) {
      const op = operations[i];
      if (typeof op !== 'object' || op === null) throw typeError(`operation ${i} must be an object (got ${describeValue(op)})`);
      const { type, key, value } = op as { type?: unknown; key?: unknown; value?: unknown };
      const encodedKey =
        keyAsIs && key instanceof Uint8Array && key.byteLength > 0 && key.byteLength <= addon.keyMax
          ? key
          : keyBytes(this.#keyCodec, key, count === 1 ? 'key' : `operations[${i}].key`);
      keys[i] = encodedKey;
      bytes += encodedKey.byteLength;
      if (type === 'put') {
        types[i] = addon.opPut;
        const encodedValue =
          valueAsIs && value instanceof Uint8Array && value.byteLength <= addon.valueMax ? value : valueBytes(this.#valueCodec, value);
        values[i] = encodedValue;
        bytes += encodedValue.byteLength;
      } else if (type === 'del') {
        types[i] = addon.opDel;
        values[i] = undefined;
      } else {
        throw typeError(`operation ${i} has type ${describeValue(type)}: 'put' or 'del'`);
      }
    }
    this.#check(); // a getter above may have closed the store
    const flags = sync ? addon.flagSync : 0;
    // The addon copies (writeAsync) or applies (write) the packed arrays before it returns.
    const batch = builder.pack(bytes);
    // A read-only store refuses writes at once (DBOS_EPERM): never queued.
    if (count >= ASYNC_BATCH_OPERATIONS && bytes <= ASYNC_BATCH_BYTES_MAX && !this.readOnly) {
      const applied = kvCall(() => this.#native.writeAsync(batch.types, batch.sizes, batch.packed, flags));
      // Tracked: close() waits until it is applied (the native close refuses while it runs).
      return this.#track(kvSettle(applied)).then((lsn) => this.#durability.wait(lsn, sync));
    }
    const lsn = kvCall(() => this.#native.write(batch.types, batch.sizes, batch.packed, flags));
    return this.#durability.wait(lsn, sync);
  }

  /**
   * The entries with keys in a range, in key order (or reversed), as a lazy iterable: `for…of`
   * reads on this thread, `for await…of` on pool threads, in chunks of about 64 KiB. Without a
   * snapshot an iteration sees every write committed before it reaches a key, never an entry
   * twice or out of order. Breaking out of the loop closes the cursor.
   */
  range(options: RangeOptions<Encodable[K]> & { values: false }): RangeIterable<Decoded[K]>;
  range(options: RangeOptions<Encodable[K]> & { keys: false }): RangeIterable<Decoded[V]>;
  range(options?: RangeOptions<Encodable[K]>): RangeIterable<Entry<Decoded[K], Decoded[V]>>;
  range(options?: RangeOptions<Encodable[K]>): RangeIterable<unknown> {
    KvStore.#use(this);
    return makeRange(this.#reader, undefined, rangeBounds(this.#keyCodec, options));
  }

  /** A read view of the store as of now, stable while writes go on. Close it when done. */
  snapshot(): Snapshot<K, V> {
    KvStore.#use(this);
    return new Snapshot<K, V>(
      this.#reader,
      kvCall(() => this.#native.viewOpen()),
    );
  }

  /** Write a checkpoint now (on a pool thread), then drop the log before it. */
  checkpoint(): Promise<void> {
    if (!KvStore.#is(this)) return KvStore.#misuse(this);
    return this.#start(() => this.#native.checkpointAsync());
  }

  /**
   * Write a consistent copy of the store into `destDir` (which must not exist, or be empty) on a
   * pool thread, as of the moment the copy begins there: a write made after this call may or may
   * not be in it, and writes go on meanwhile. The copy opens with `open(destDir)`. DBOS_EEXIST
   * when `destDir` is not empty.
   */
  backup(destDir: string | URL, options?: ProgressOptions): Promise<void> {
    if (!KvStore.#is(this)) return KvStore.#misuse(this);
    return this.#start(() => {
      const dest = pathOf(destDir, 'destDir');
      return this.#native.backupAsync(dest, progressOf(options));
    });
  }

  /**
   * Read every page and verify its checksum and the tree's structure, on a pool thread. Rejects
   * with DBOS_ECORRUPT naming the first bad page.
   */
  check(options?: ProgressOptions): Promise<void> {
    if (!KvStore.#is(this)) return KvStore.#misuse(this);
    return this.#start(() => {
      return this.#native.checkAsync(progressOf(options));
    });
  }

  #start(call: () => Promise<void>): Promise<void> {
    try {
      KvStore.#use(this);
      return this.#track(kvSettle(kvCall(call)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The store's counters now. */
  stats(): KvStats {
    KvStore.#use(this);
    return kvCall(() => this.#native.stats());
  }

  /**
   * Close the store: wait for its async calls, close its snapshots and iterations (using them
   * then throws DBOS_ECLOSED), then sync the log, write every page back and record a clean
   * shutdown on a pool thread. Pending write promises resolve once that is done (or reject with
   * its failure). Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    try {
      KvStore.#use(this, true);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closing ??= this.#closeNow();
    return this.#closing;
  }

  async #closeNow(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    let failure: unknown;
    try {
      await kvSettle(kvCall(() => this.#native.closeAsync()));
    } catch (error) {
      failure = error;
    }
    this.#durability.finish(failure);
    WAITING.delete(this);
    if (failure !== undefined) throw failure;
  }
}

/** The native progress function for `options` (undefined when nothing listens). */
function progressOf(options: unknown): ((done: number, total: number) => boolean) | undefined {
  const given = optionsObject(options, PROGRESS_KEYS, 'options');
  const { onProgress, signal } = given;
  if (onProgress !== undefined && typeof onProgress !== 'function')
    throw typeError(`options.onProgress must be a function (got ${describeValue(onProgress)})`);
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw typeError(`options.signal must be an AbortSignal (got ${describeValue(signal)})`);
  if (signal?.aborted) throw new DbosError('DBOS_ECANCELED', 'the operation was aborted before it started');
  if (onProgress === undefined && signal === undefined) return undefined;
  return (done, total) => {
    if (signal?.aborted) return false;
    if (onProgress === undefined) return true;
    // The binding treats an exception from the listener like `false`: the work stops (DBOS_ECANCELED).
    return (onProgress as ProgressListener)(done, total) !== false;
  };
}

/**
 * Open (by default, create) the store in directory `path`. Synchronous, like lmdb's `open`: it
 * takes the directory's lock and recovers after a crash (replaying the log) before it returns.
 *
 * Throws TypeError DBOS_EINVAL for bad options (unknown keys included), RangeError DBOS_ERANGE
 * for values out of range, and DbosError with the C code otherwise: DBOS_ELOCKED when another
 * process has the store open (`error.holderPid` names it), DBOS_ENOENT with `create: false` and
 * no store there, DBOS_EINVAL when the directory holds something else, DBOS_ECORRUPT when it
 * cannot be recovered, DBOS_ENOTSUP for a newer format, DBOS_EPERM / DBOS_EIO / DBOS_ENOSPC.
 */
export function open<K extends EncodingName = 'utf8', V extends EncodingName = 'utf8'>(
  path: string | URL,
  options?: KvOptions<K, V>,
): KvStore<K, V> {
  return new KvStore<K, V>(OPEN, path as string, options);
}
