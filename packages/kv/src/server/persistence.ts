// SAVE / BGSAVE state of one server: where dump.rdb goes, whether a background save runs, and
// the counters INFO persistence reports, in Redis's words.
//
// A background save takes a store snapshot (a copy-on-write read view: no fork, no copy of the
// data) in the command's own turn, so the file holds exactly the keys as of the BGSAVE, and then
// streams the RDB from it while clients keep running. The store's WAL and checkpoints remain the
// server's durability; dump.rdb is an export in Redis's format.
import path from 'node:path';
import { DbosError } from '@dbos/platform';
import type { Keyspace } from './keyspace.js';
import type { BinaryStore } from './keyspace.js';
import { RDB_FILE_NAME } from './rdb/file.js';
import { type RdbSaveResult, saveRdb, saveRdbSync } from './rdb/save.js';

export interface PersistenceOptions {
  /** The directory dump.rdb is written to (the server's dir). */
  readonly dir: string;
  readonly store: BinaryStore;
  readonly keyspace: Keyspace;
  /** The server's clock, ms since the epoch (expiry of saved keys, LASTSAVE, the INFO times). */
  readonly now: () => number;
  /** Default "dump.rdb". */
  readonly fileName?: string;
  /** LZF-compress long strings as Redis does by default. Default false (a save is CPU-bound here). */
  readonly compress?: boolean;
}

/** Keys loaded and skipped as expired by the last import (INFO rdb_last_load_keys_*). */
export interface LoadCounts {
  readonly loaded: number;
  readonly expired: number;
}

interface BackgroundSave {
  readonly startedMs: number;
  readonly keysTotal: number;
  readonly pagesCopiedAtStart: number;
  readonly abort: AbortController;
  keysDone: number;
  done: Promise<void>;
}

export class Persistence {
  readonly file: string;
  readonly #store: BinaryStore;
  readonly #keyspace: Keyspace;
  readonly #now: () => number;
  readonly #compress: boolean;
  #changes = 0;
  #changesAtLastSave = 0;
  #lastSaveMs: number;
  #saves = 0;
  #lastBackgroundOk = true;
  #lastBackgroundSeconds = -1;
  #lastCopiedBytes = 0;
  #lastLoad: LoadCounts = { loaded: 0, expired: 0 };
  #lastError: unknown = null;
  #background: BackgroundSave | null = null;
  #closed = false;

  constructor(options: PersistenceOptions) {
    this.file = path.join(options.dir, options.fileName ?? RDB_FILE_NAME);
    this.#store = options.store;
    this.#keyspace = options.keyspace;
    this.#now = options.now;
    this.#compress = options.compress ?? false;
    // As Redis: at startup the data counts as saved.
    this.#lastSaveMs = this.#now();
  }

  /** Count `count` changes to the data (INFO rdb_changes_since_last_save). */
  noteChanges(count = 1): void {
    this.#changes += count;
  }

  /** Record what an import loaded (INFO rdb_last_load_keys_loaded / _expired). */
  noteLoad(counts: LoadCounts): void {
    this.#lastLoad = counts;
  }

  /** True while a background save runs (and has not been stopped). */
  get saving(): boolean {
    return this.#background !== null && !this.#background.abort.signal.aborted;
  }

  /** LASTSAVE: Unix seconds of the last successful save (the server's start before any). */
  get lastSaveSeconds(): number {
    return Math.floor(this.#lastSaveMs / 1000);
  }

  /** Why the last failed save failed (Redis only logs it; the reply says just "ERR"). */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** SAVE: write dump.rdb now, blocking. DBOS_EBUSY while a background save runs. */
  saveSync(): RdbSaveResult {
    this.#checkIdle();
    this.#saves++;
    const nowMs = this.#now();
    const changes = this.#changes;
    this.#keyspace.settle(); // the snapshot holds every command before this one
    const snapshot = this.#store.snapshot();
    try {
      const result = saveRdbSync(
        this.file,
        {
          keyCount: this.#keyspace.size(),
          expiringCount: this.#keyspace.expiringCount(),
          entries: this.#keyspace.liveEntries(snapshot, nowMs),
        },
        { nowMs, compress: this.#compress },
      );
      this.#saved(changes);
      this.#lastBackgroundOk = true;
      return result;
    } catch (error) {
      this.#lastError = error;
      throw error;
    } finally {
      snapshot.close();
    }
  }

  /**
   * BGSAVE: take the snapshot now and write dump.rdb from it in the background. Returns the
   * save's completion (which callers may ignore: the outcome lands in INFO). DBOS_EBUSY while
   * another background save runs.
   */
  startBackgroundSave(): Promise<void> {
    this.#checkIdle();
    this.#saves++;
    const nowMs = this.#now();
    const changes = this.#changes;
    const pagesCopiedAtStart = this.#store.stats().epochPagesCopied;
    this.#keyspace.settle(); // the snapshot holds every command before this one
    const snapshot = this.#store.snapshot();
    const job: BackgroundSave = {
      startedMs: nowMs,
      keysTotal: this.#keyspace.size(),
      pagesCopiedAtStart,
      abort: new AbortController(),
      keysDone: 0,
      done: Promise.resolve(),
    };
    const source = {
      keyCount: job.keysTotal,
      expiringCount: this.#keyspace.expiringCount(),
      // Read on pool threads: the main thread only encodes (bench/rdb-save.ts: faster, and shorter stalls).
      entries: this.#keyspace.liveEntriesAsync(snapshot, nowMs),
    };
    this.#background = job;
    job.done = (async () => {
      try {
        await saveRdb(this.file, source, {
          nowMs,
          compress: this.#compress,
          signal: job.abort.signal,
          onProgress: (keys) => {
            job.keysDone = keys;
          },
        });
        this.#saved(changes);
        this.#lastBackgroundOk = true;
      } catch (error) {
        this.#lastError = error;
        this.#lastBackgroundOk = false;
      } finally {
        this.#lastCopiedBytes = this.#copiedBytesSince(job);
        this.#lastBackgroundSeconds = this.#secondsSince(job.startedMs);
        if (this.#background === job) this.#background = null;
        try {
          snapshot.close();
        } catch {
          // Still busy (a pool read not yet returned) or the store is closed: its close() ends the view.
        }
      }
    })();
    return job.done;
  }

  /** INFO persistence's fields from current_cow_peak to rdb_last_load_keys_loaded, in Redis 7.0's order. */
  infoFields(): [string, string | number][] {
    const job = this.#background;
    const copiedBytes = job === null ? 0 : this.#copiedBytesSince(job);
    const progress = job === null || job.keysTotal === 0 ? 0 : (100 * job.keysDone) / job.keysTotal;
    return [
      // No fork: "copy-on-write" here is the store's copies of pages written while the save's view is open.
      ['current_cow_peak', copiedBytes],
      ['current_cow_size', copiedBytes],
      ['current_cow_size_age', 0],
      ['current_fork_perc', Math.min(100, progress).toFixed(2)],
      ['current_save_keys_processed', job?.keysDone ?? 0],
      ['current_save_keys_total', job?.keysTotal ?? 0],
      ['rdb_changes_since_last_save', this.#changes - this.#changesAtLastSave],
      ['rdb_bgsave_in_progress', job === null ? 0 : 1],
      ['rdb_last_save_time', this.lastSaveSeconds],
      ['rdb_last_bgsave_status', this.#lastBackgroundOk ? 'ok' : 'err'],
      ['rdb_last_bgsave_time_sec', this.#lastBackgroundSeconds],
      ['rdb_current_bgsave_time_sec', job === null ? -1 : this.#secondsSince(job.startedMs)],
      ['rdb_saves', this.#saves],
      ['rdb_last_cow_size', this.#lastCopiedBytes],
      ['rdb_last_load_keys_expired', this.#lastLoad.expired],
      ['rdb_last_load_keys_loaded', this.#lastLoad.loaded],
    ];
  }

  /**
   * Stop a running background save now, without waiting (SHUTDOWN, as Redis kills its child): its
   * image is never renamed into place, so a SAVE right after cannot be overwritten by it.
   */
  stopBackgroundSave(): void {
    this.#background?.abort.abort();
  }

  /** Stop a running background save (its temporary file is removed) and wait for it. Call before closing the store. */
  async close(): Promise<void> {
    this.#closed = true;
    const job = this.#background;
    if (job === null) return;
    job.abort.abort();
    await job.done;
  }

  #checkIdle(): void {
    if (this.#closed) throw new DbosError('DBOS_ECLOSED', 'the server is closing');
    // A stopped save still winding down does not block a new one: it can no longer replace the file.
    if (this.#background !== null && !this.#background.abort.signal.aborted) {
      throw new DbosError('DBOS_EBUSY', 'Background save already in progress');
    }
  }

  #saved(changesAtStart: number): void {
    this.#changesAtLastSave = changesAtStart;
    this.#lastSaveMs = this.#now();
  }

  #secondsSince(startedMs: number): number {
    return Math.floor(this.#now() / 1000) - Math.floor(startedMs / 1000);
  }

  #copiedBytesSince(job: BackgroundSave): number {
    try {
      const stats = this.#store.stats();
      return (stats.epochPagesCopied - job.pagesCopiedAtStart) * stats.pageSize;
    } catch {
      return 0; // the store is closing; the figure is informational
    }
  }
}
