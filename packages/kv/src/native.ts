// The @dbos/kv addon, typed: binding/kv_store.cc makes NativeKv, binding/kv_read.cc its views and
// cursors, binding/kv_maintain.cc the long calls, binding/kv_constants.cc the constants of dbos/kv.h.
import { loadAddon } from '@dbos/platform';

/** struct dbos_kv_stats, field by field in camelCase, plus the binding's open handles. */
export interface NativeStats {
  /** Keys in the store. */
  entries: number;
  /** Levels of the B+tree (1 for a single leaf). */
  treeHeight: number;
  /** Pages in the page file, header included. */
  pages: number;
  /** Of which free for reuse. */
  freePages: number;
  /** Bytes per page. */
  pageSize: number;
  /** Bytes on disk: pages.db, the log and checkpoints. */
  fileBytes: number;
  /** Bytes of log since the last checkpoint. */
  walBytes: number;
  /** The newest LSN in the operating system (survives kill -9). */
  writtenLsn: number;
  /** The newest LSN on the device (survives power loss). */
  syncedLsn: number;
  /** LSN of the newest checkpoint. */
  checkpointLsn: number;
  /** Checkpoints written since open. */
  checkpoints: number;
  /** Log writes since open. */
  groupCommits: number;
  /** Log fdatasyncs since open. */
  syncs: number;
  /** Pages copied for checkpoints and views since open. */
  epochPagesCopied: number;
  /** Page copies in memory now: open snapshots and checkpoints, and closed snapshots' copies not yet freed in the background. */
  epochPagesHeld: number;
  /** Page fixes served from memory. */
  cacheHits: number;
  /** Page reads from the file. */
  cacheMisses: number;
  /** Bytes of pages in memory now. */
  residentBytes: number;
  /** The buffer pool's budget. */
  cacheBytes: number;
  /** Optimistic page reads that started again (a writer changed the page meanwhile). */
  optimisticRestarts: number;
  /** Log records replayed when the store was opened. */
  recoveredRecords: number;
  /** Read views (snapshots) open now. */
  openViews: number;
  /** Cursors (iterations in progress) open now. */
  openCursors: number;
}

/** binding/kv_read.cc: a dbos_kv_view. */
export interface NativeView {
  /** Closes the cursors reading it, then the view; idempotent. DBOS_EBUSY while an async call reads it. */
  close(): void;
}

/** binding/kv_read.cc: a dbos_kv_cursor. Chunks are records `[u32 key size][u32 0][u64 value size][key][value]`, 8-byte aligned. */
export interface NativeCursor {
  /** The next chunk of entries, or null at the end of the range (on this thread). */
  next(): Buffer | null;
  /** The same on a pool thread. */
  nextAsync(): Promise<Buffer | null>;
  /** Idempotent; DBOS_EBUSY while a nextAsync runs. */
  close(): void;
}

/** binding/kv_store.cc: one open store. */
export interface NativeKv {
  /** Apply operations atomically (types: 1 put, 2 del); returns the write's LSN. */
  /** A batch packed: each key then its value in `bytes`; `sizes[2i]`, `sizes[2i + 1]` the key and value sizes of operation i. */
  write(types: Uint8Array, sizes: Uint32Array, bytes: Uint8Array, flags: number): number;
  /**
   * The same, checked and copied now, applied on a pool thread after the batches queued before it:
   * resolves with the write's LSN once applied. Every other call of this store (reads, write,
   * views, cursors, stats, maintenance) first waits until the queued batches are applied.
   */
  /** `write`'s packed batch, copied now and applied on a pool thread. */
  writeAsync(types: Uint8Array, sizes: Uint32Array, bytes: Uint8Array, flags: number): Promise<number>;
  /** The value (a string when asString), or undefined when absent. */
  /** With `into`, a value that fits is read into it and its size returned (a number). */
  get(key: Uint8Array, view: NativeView | undefined, asString: boolean, into?: Uint8Array): Buffer | string | number | undefined;
  /** The values of `keys`, looked up on a pool thread. */
  getManyAsync(keys: Uint8Array[], view: NativeView | undefined, asString: boolean): Promise<(Buffer | string | undefined)[]>;
  writtenLsn(): number;
  syncedLsn(): number;
  /** Keep the process alive (true) while durability promises wait for the commit listener. */
  holdListener(hold: boolean): void;
  viewOpen(): NativeView;
  cursorOpen(
    view: NativeView | undefined,
    low: Uint8Array | undefined,
    lowInclusive: boolean,
    high: Uint8Array | undefined,
    highInclusive: boolean,
    reverse: boolean,
  ): NativeCursor;
  checkpointAsync(): Promise<void>;
  /** onProgress(doneBytes, totalBytes) on this thread; returning false cancels (DBOS_ECANCELED). */
  backupAsync(destDir: string, onProgress: ProgressFunction | undefined): Promise<void>;
  checkAsync(onProgress: ProgressFunction | undefined): Promise<void>;
  stats(): NativeStats;
  mechanism(): string;
  /** Closes every cursor and view, then the store on a pool thread. DBOS_EBUSY while async calls run. */
  closeAsync(): Promise<void>;
}

export type ProgressFunction = (doneBytes: number, totalBytes: number) => boolean;

/** Called on the JavaScript thread after group commits: the newest LSNs and the log's failure code ('DBOS_OK' when none). */
export type CommitListener = (writtenLsn: number, syncedLsn: number, failure: string) => void;

export interface KvAddon {
  NativeKv: new (
    dir: string,
    flags: number,
    pageSize: number,
    cacheBytes: number | bigint,
    checkpointWalBytes: number | bigint,
    waitForLockMs: number,
    onCommit: CommitListener,
  ) => NativeKv;
  /** DBOS_KV_KEY_MAX: bytes a key may have. */
  keyMax: number;
  /** DBOS_KV_VALUE_MAX: bytes a value may have. */
  valueMax: number;
  /** DBOS_KV_BATCH_MAX: operations one write may carry. */
  batchMax: number;
  cacheBytesDefault: number;
  checkpointWalBytesDefault: number;
  flagCreate: number;
  flagReadOnly: number;
  flagBuffered: number;
  flagSync: number;
  opPut: number;
  opDel: number;
}

export const addon = loadAddon<KvAddon>(import.meta.url);
