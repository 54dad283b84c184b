// BufferPool: the TypeScript face of dbos/bufferpool.h for engines written in TypeScript.
import { DbosError, callNative, describeValue, fromNative, settleNative, typeError } from '@dbos/platform';
import { FixTable } from './fix-table.js';
import { addon, type NativeBufferPool, type NativeStats } from './native.js';
import { type BufferPoolOptions, openArguments } from './options.js';
import { type FixMode, type Page, type PageOwner, type UnfixOptions, makePage, pageState } from './page.js';
import { toPageId, toPageIdList } from './page-id.js';
import { noteOpened } from './opened.js';

/** Optimistic attempts before `read()` takes a shared fix instead (a page under steady writes). */
const OPTIMISTIC_ATTEMPTS = 8;
/** Async loads (native batches on worker threads) in flight at once; requests made meanwhile form the next batches. */
const LOADS_IN_FLIGHT = 2;
/** Page ids one fixManyAsync() call may name (each becomes a request). */
const ASYNC_LIST_MAX = 65536;
const OPEN = Symbol('open a pool');

/** Counters of one pool: the native pool's, and the batching done on the JavaScript side. */
export interface BufferPoolStats extends NativeStats {
  /** Pages fixed through this BufferPool and not yet unfixed. */
  fixedPages: number;
  /** Native batches the async API issued (each one fix_many call off the JavaScript thread). */
  asyncBatches: number;
  /** Fixes those batches carried. */
  asyncBatchedFixes: number;
  /** The largest batch so far, in pages. */
  asyncBatchPagesMax: number;
  /** Optimistic reads that validated (restarts are the native `optimisticRestarts`). */
  optimisticReads: number;
}

interface Request {
  /** Loaded by itself (its batch failed: it gets its own error). */
  alone?: boolean;
  pid: number;
  mode: FixMode;
  resolve: (page: Page) => void;
  reject: (error: unknown) => void;
}

function modeOf(mode: unknown): FixMode {
  if (mode === undefined || mode === 'shared') return 'shared';
  if (mode === 'exclusive') return 'exclusive';
  throw typeError(`mode must be 'shared' or 'exclusive' (got ${describeValue(mode)})`);
}

function closedError(): DbosError {
  return new DbosError('DBOS_ECLOSED', 'the buffer pool is closed');
}

function busyError(pid: number, mode: FixMode): DbosError {
  return new DbosError(
    'DBOS_EBUSY',
    `page ${pid} is fixed by this pool already: a ${mode} fix would wait for this thread itself ` +
      '(unfix it first, or use the async fix(), which waits)',
  );
}

/**
 * A page file and a pool of memory for its pages (see README.md). Page `pid` lives at a fixed
 * address in one reserved region: a fix of a resident page is a latch on its state word, a miss
 * reads the page into its own address, and clock eviction keeps resident pages within `poolBytes`.
 *
 * One BufferPool belongs to one JavaScript thread. Its asynchronous calls run native work on
 * worker threads; fixes asked for in the same tick are merged into one native batch, so their
 * misses are read together.
 */
export class BufferPool {
  readonly #native: NativeBufferPool;
  readonly #table = new FixTable();
  readonly #live = new Set<Page>();
  readonly #owner: PageOwner;
  readonly #pending = new Set<Promise<unknown>>();
  #queue: Request[] = [];
  #scheduled = false;
  /** Loads in flight. */
  #loading = 0;
  /** Pages per async batch: a quarter of the pool, so two batches in flight never crowd out the pages held. */
  readonly #batchMax: number;
  #closing: Promise<void> | null = null;
  readonly #counters = {
    asyncBatches: 0,
    asyncBatchedFixes: 0,
    asyncBatchPagesMax: 0,
    optimisticReads: 0,
  };
  /** Bytes per page in the file (header included). */
  readonly pageSize: number;
  /** Bytes of a page that `Page.data` shows (the page minus its header). */
  readonly payloadSize: number;

  private constructor(token: symbol, native: NativeBufferPool) {
    if (token !== OPEN) throw typeError('buffer pools are made by BufferPool.open(), not by new BufferPool()');
    this.#native = native;
    this.pageSize = native.pageSize;
    this.payloadSize = native.payloadSize;
    this.#batchMax = Math.max(1, Math.min(addon.batchMax, Math.floor(native.stats().budgetPages / 4)));
    this.#owner = { unfix: (page, options) => this.unfix(page, options) };
  }

  /**
   * Open (or with `create`, create) a page file. Throws TypeError / RangeError for bad options,
   * RangeError DBOS_ERANGE for a page size other than the file's, DbosError with the C code
   * otherwise: DBOS_ENOENT (no such file), DBOS_EINVAL (not a page file), DBOS_ECORRUPT (a damaged
   * header), DBOS_ENOTSUP (a newer format), DBOS_EPERM / DBOS_EIO (opening the file failed).
   */
  static open(path: string | URL, options?: BufferPoolOptions): BufferPool {
    const args = openArguments(path, options);
    const native = callNative(
      () => new addon.NativeBufferPool(args.path, args.pageSize, args.poolBytes, args.flags, args.evictBatch),
      `open ${args.path}`,
    );
    const pool = new BufferPool(OPEN, native);
    noteOpened(pool);
    return pool;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Pages in the file (ids below this exist; allocate() grows it). */
  get pageCount(): number {
    return this.#call(() => this.#native.pageCount());
  }

  /** The mechanism this pool runs on (I/O backend, direct or buffered I/O, how pages are discarded). */
  get mechanism(): string {
    return this.#call(() => this.#native.mechanism());
  }

  /** Fix a page for reading; waits for its read when it is not resident. */
  fixShared(pid: number | bigint): Page {
    return this.#fixSync(pid, 'shared');
  }

  /** Fix a page for writing; waits for its read when it is not resident. */
  fixExclusive(pid: number | bigint): Page {
    return this.#fixSync(pid, 'exclusive');
  }

  /**
   * Unfix a page: its view is detached first. An exclusive fix is written back later (before
   * eviction or at flush) unless `dirty: false`. A second unfix of the same Page is DBOS_EINVAL.
   */
  unfix(page: Page, options?: UnfixOptions): void {
    const state = pageState(page);
    if (state === undefined) throw typeError(`unfix() takes a Page (got ${describeValue(page)})`);
    if (state.owner !== this.#owner) throw new DbosError('DBOS_EINVAL', 'unfix(): the page belongs to another buffer pool');
    const dirty = dirtyOf(options, page.mode);
    if (state.data === null) {
      if (this.#closing !== null) throw new DbosError('DBOS_ECLOSED', `page ${page.pid} was unfixed by the pool's close()`);
      throw new DbosError('DBOS_EINVAL', `page ${page.pid} is not fixed: unfixed twice`);
    }
    this.#release(page, dirty);
  }

  /**
   * Optimistic read: `fn` sees the page without a latch and its result counts only if no
   * writer changed the page (and it was not evicted) in the meantime; otherwise `fn` runs again.
   * So `fn` must be synchronous, have no effects beyond its result, and tolerate reading a
   * page that is being changed (an exception it throws from an inconsistent read is dropped with
   * the attempt). After a few restarts the read takes a shared fix. The view is detached when
   * `fn` returns.
   */
  read<T>(pid: number | bigint, fn: (data: Uint8Array, pid: number) => T): T {
    const id = toPageId(pid);
    if (typeof fn !== 'function') throw typeError(`read() needs a function (got ${describeValue(fn)})`);
    this.#open();
    if (this.#table.heldExclusive(id)) throw busyError(id, 'shared');
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
      const [view, version] = this.#call(() => this.#native.optimisticBegin(id));
      let result: T | undefined;
      let failure: unknown;
      let failed = false;
      try {
        result = fn(new Uint8Array(view), id);
      } catch (error) {
        failure = error;
        failed = true;
      }
      // Not #call: a pool closed by `fn` itself still detaches the view (close() waits for this).
      if (callNative(() => this.#native.optimisticEnd(view, id, version))) {
        if (failed) throw failure;
        this.#counters.optimisticReads++;
        return checkedResult(result as T);
      }
    }
    const page = this.#fixSync(id, 'shared');
    try {
      return checkedResult(fn(page.data, id));
    } finally {
      if (page.fixed) this.#release(page, false);
    }
  }

  /**
   * Fix every page of `pids` in one native call: all misses are read together. All or none:
   * on an error no page stays fixed. A page listed twice is DBOS_EBUSY in exclusive mode.
   */
  fixMany(pids: readonly (number | bigint)[] | ArrayLike<number>, mode: FixMode = 'shared'): Page[] {
    const fixMode = modeOf(mode);
    const ids = toPageIdList(pids, addon.batchMax);
    this.#open();
    let taken = 0;
    try {
      for (; taken < ids.length; taken++) {
        const id = ids[taken] as number;
        if (!this.#table.grantable(id, fixMode)) throw busyError(id, fixMode);
        this.#table.take(id, fixMode);
      }
      const buffers = this.#call(() => this.#native.fixMany(ids, fixMode === 'exclusive'));
      return buffers.map((buffer, i) => this.#adopt(ids[i] as number, fixMode, buffer));
    } catch (error) {
      for (let i = 0; i < taken; i++) this.#table.drop(ids[i] as number, fixMode);
      throw error;
    }
  }

  /**
   * Fix a page without blocking the JavaScript thread. Fixes asked for in the same tick share
   * one native batch run on a worker thread, so a program with independent lookups keeps many
   * reads in flight. A fix that conflicts with one this pool holds waits for its unfix.
   */
  async fix(pid: number | bigint, mode: FixMode = 'shared'): Promise<Page> {
    const id = toPageId(pid);
    const fixMode = modeOf(mode);
    this.#open();
    return new Promise<Page>((resolve, reject) => this.#request({ pid: id, mode: fixMode, resolve, reject }));
  }

  /** `fix()` of every page of `pids` (at most 65536); rejects with the first error (the other pages are unfixed). */
  async fixManyAsync(pids: readonly (number | bigint)[] | ArrayLike<number>, mode: FixMode = 'shared'): Promise<Page[]> {
    const fixMode = modeOf(mode);
    const ids = toPageIdList(pids, ASYNC_LIST_MAX);
    this.#open();
    const fixes = Array.from(
      ids,
      (id) => new Promise<Page>((resolve, reject) => this.#request({ pid: id, mode: fixMode, resolve, reject })),
    );
    const settled = await Promise.allSettled(fixes);
    const failed = settled.find((outcome) => outcome.status === 'rejected');
    if (failed === undefined) return settled.map((outcome) => (outcome as PromiseFulfilledResult<Page>).value);
    for (const outcome of settled) if (outcome.status === 'fulfilled' && outcome.value.fixed) this.#release(outcome.value, false);
    throw (failed as PromiseRejectedResult).reason;
  }

  /**
   * Start reading the missing pages of `pids` (one submission) and return at once; a later fix
   * of one of them waits for that read instead of issuing another. Nothing stays fixed.
   */
  prefetch(pids: readonly (number | bigint)[] | ArrayLike<number>): void {
    const ids = toPageIdList(pids, addon.batchMax);
    this.#call(() => this.#native.prefetch(ids));
  }

  /** A new page, fixed exclusively, its payload zeroed: from the file's free list, or the file grows. */
  allocate(): Page {
    this.#open();
    const [pid, buffer] = this.#call(() => this.#native.allocate());
    this.#table.take(pid, 'exclusive');
    return this.#adopt(pid, 'exclusive', buffer);
  }

  /** Give a page back to the file's free list (allocate() reuses it). A page this pool holds fixed is DBOS_EBUSY. */
  free(pid: number | bigint): void {
    const id = toPageId(pid);
    this.#open();
    if (this.#table.held(id)) throw new DbosError('DBOS_EBUSY', `page ${id} is fixed: unfix it before free()`);
    this.#call(() => this.#native.free(id));
  }

  /**
   * Write every dirty page back and sync the file (off the JavaScript thread). Refused with
   * DBOS_EBUSY while this pool holds pages exclusively: the flush would wait for them, and a
   * caller awaiting it before unfixing them would wait forever.
   */
  async flush(): Promise<void> {
    this.#open();
    const held = this.#table.exclusiveCount;
    if (held > 0) throw new DbosError('DBOS_EBUSY', `flush(): ${held} page(s) fixed exclusively here; unfix them first`);
    await this.#track(settleNative(this.#call(() => this.#native.flushAsync())));
  }

  /** Counters: hits, misses, evictions, reads and writes in flight, resident bytes, and the batching. */
  stats(): BufferPoolStats {
    const native = this.#call(() => this.#native.stats());
    return { ...native, fixedPages: this.#live.size, ...this.#counters };
  }

  /**
   * Close the pool: fixes still pending are rejected with DBOS_ECLOSED, pages still fixed are
   * unfixed (their views detached; exclusive ones count as dirty), every dirty page is written
   * back and the file is closed. Idempotent: every call returns the same promise. Every other
   * call made after close() throws DBOS_ECLOSED.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Let the synchronous call that may have called close() (a read's function, an options
    // getter) finish first: it detaches what it made.
    await null;
    const queued = this.#queue;
    this.#queue = [];
    for (const request of queued) {
      this.#table.drop(request.pid, request.mode);
      request.reject(closedError());
    }
    this.#table.cancelWaiting();
    // Unfix first: a flush in flight waits for the pages held exclusively here.
    this.#releaseAll();
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    this.#releaseAll();
    await settleNative(callNative(() => this.#native.closeAsync()));
  }

  #releaseAll(): void {
    for (const page of [...this.#live]) {
      try {
        this.#release(page, page.mode === 'exclusive');
      } catch {
        // An escaped view: its page stays fixed and closeAsync() says so (DBOS_EBUSY).
      }
    }
  }

  #open(): void {
    if (this.#closing !== null) throw closedError();
  }

  #call<T>(call: () => T, context?: string): T {
    this.#open();
    return callNative(call, context);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    const forget = () => this.#pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  #fixSync(pid: unknown, mode: FixMode): Page {
    const id = toPageId(pid);
    this.#open();
    if (!this.#table.grantable(id, mode)) throw busyError(id, mode);
    this.#table.take(id, mode);
    let buffer: ArrayBuffer;
    try {
      buffer = this.#native.fix(id, mode === 'exclusive');
    } catch (error) {
      this.#table.drop(id, mode);
      throw fromNative(error);
    }
    return this.#adopt(id, mode, buffer);
  }

  #adopt(pid: number, mode: FixMode, buffer: ArrayBuffer): Page {
    const page = makePage(this.#owner, pid, mode, buffer);
    this.#live.add(page);
    return page;
  }

  /**
   * Detach and unfix. The page handle is dead afterwards whatever happens; the fix table keeps
   * the page held when native code kept it fixed (an escaped view), so no later fix here waits
   * for a latch that is never released.
   */
  #release(page: Page, dirty: boolean): void {
    const state = pageState(page);
    if (state === undefined || state.data === null) return;
    state.data = null;
    this.#live.delete(page);
    let unfixed: boolean;
    try {
      unfixed = this.#native.unfix(state.buffer, page.pid, page.mode === 'exclusive', dirty);
    } catch (error) {
      throw fromNative(error);
    }
    if (!unfixed) {
      throw new DbosError(
        'DBOS_EBUSY',
        `page ${page.pid}: its view was moved out of the pool (ArrayBuffer.prototype.transfer()), so the page stays fixed for as long as the pool is open`,
      );
    }
    this.#table.drop(page.pid, page.mode);
  }

  #request(request: Request): void {
    if (this.#table.grantable(request.pid, request.mode)) {
      this.#table.take(request.pid, request.mode);
      this.#enqueue(request);
      return;
    }
    this.#table.wait(request.pid, {
      mode: request.mode,
      grant: () => this.#enqueue(request),
      cancel: () => request.reject(closedError()),
    });
  }

  #enqueue(request: Request): void {
    this.#queue.push(request);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#dispatch());
  }

  #dispatch(): void {
    this.#scheduled = false;
    while (this.#loading < LOADS_IN_FLIGHT && this.#queue.length > 0) {
      let count = 1;
      if (this.#queue[0]?.alone !== true) {
        while (count < this.#batchMax && count < this.#queue.length && this.#queue[count]?.alone !== true) count++;
      }
      this.#load(this.#queue.splice(0, count));
    }
  }

  /**
   * One batch: its pages are read in on a worker thread (one native fix_many, every miss
   * submitted at once), then fixed here, where they are unfixed too (latches belong to threads).
   * A failed batch is split, so each error reaches its own request.
   */
  #load(batch: Request[]): void {
    if (this.#closing !== null) {
      for (const request of batch) this.#fail(request, closedError());
      return;
    }
    const ids = Float64Array.from(new Set(batch.map((request) => request.pid)));
    let native: Promise<void>;
    try {
      native = this.#native.loadAsync(ids);
    } catch (error) {
      for (const request of batch) this.#fail(request, fromNative(error));
      return;
    }
    this.#loading++;
    this.#counters.asyncBatches++;
    this.#counters.asyncBatchedFixes += batch.length;
    this.#counters.asyncBatchPagesMax = Math.max(this.#counters.asyncBatchPagesMax, ids.length);
    const done = settleNative(native).then(
      () => {
        for (const request of batch) this.#finish(request);
      },
      (error: unknown) => {
        if (batch.length === 1 || this.#closing !== null) for (const request of batch) this.#fail(request, error);
        else {
          for (const request of batch) request.alone = true;
          this.#queue.unshift(...batch);
        }
      },
    );
    this.#track(
      done.finally(() => {
        this.#loading--;
        this.#dispatch();
      }),
    );
  }

  #finish(request: Request): void {
    if (this.#closing !== null) {
      this.#fail(request, closedError());
      return;
    }
    const mode = request.mode;
    try {
      const buffer = callNative(() => this.#native.fix(request.pid, mode === 'exclusive'));
      request.resolve(this.#adopt(request.pid, mode, buffer));
    } catch (error) {
      this.#fail(request, error);
    }
  }

  #fail(request: Request, error: unknown): void {
    this.#table.drop(request.pid, request.mode);
    request.reject(error);
  }
}

function dirtyOf(options: unknown, mode: FixMode): boolean {
  if (options === undefined) return mode === 'exclusive';
  if (typeof options !== 'object' || options === null) throw typeError(`options must be an object (got ${describeValue(options)})`);
  const dirty = (options as { dirty?: unknown }).dirty;
  if (dirty === undefined) return mode === 'exclusive';
  if (typeof dirty !== 'boolean') throw typeError(`options.dirty must be a boolean (got ${describeValue(dirty)})`);
  if (dirty && mode === 'shared') throw new DbosError('DBOS_EINVAL', 'a shared fix cannot be dirty: fix the page exclusively to change it');
  return dirty;
}

function checkedResult<T>(result: T): T {
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    throw typeError('read(): fn returned a promise; the view is gone when it settles, so fn must be synchronous');
  }
  return result;
}
