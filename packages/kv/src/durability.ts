// The promises of writes waiting to become durable. A write is applied at once; its promise
// waits here until the commit listener reports its LSN written (sync false: in the operating
// system) or synced (sync true: on the device). The JavaScript thread never waits for the disk:
// the commit thread calls the listener, which resolves every satisfied promise in LSN order.
import { DbosError } from '@dbos/platform';

interface Waiter {
  lsn: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Where the store's LSNs stand now (read from the native store). */
export interface LsnSource {
  writtenLsn(): number;
  syncedLsn(): number;
  /** Keep the process alive while promises wait (true) or not (false). */
  holdListener(hold: boolean): void;
}

export class DurabilityQueue {
  // Writes get increasing LSNs, so each queue is in LSN order: satisfied waiters are at the front.
  #written: Waiter[] = [];
  #synced: Waiter[] = [];
  #failure: DbosError | null = null;
  /**
   * The newest LSNs the listener reported. The commit thread calls the listener before it
   * publishes the LSNs the source reads, so a report can reach this thread while the source still
   * reads older values: a write whose LSN became known after that report (one applied on a pool
   * thread) must compare with these too, or it would wait for a report that already came.
   */
  #heardWritten = 0;
  #heardSynced = 0;
  readonly #source: LsnSource;

  constructor(source: LsnSource) {
    this.#source = source;
  }

  /** Promises still waiting. */
  get pending(): number {
    return this.#written.length + this.#synced.length;
  }

  /** The promise of the write at `lsn`: resolved at once when it is durable already. */
  wait(lsn: number, sync: boolean): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const reached = sync ? Math.max(this.#source.syncedLsn(), this.#heardSynced) : Math.max(this.#source.writtenLsn(), this.#heardWritten);
    if (reached > lsn) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (this.pending === 0) this.#source.holdListener(true);
      (sync ? this.#synced : this.#written).push({ lsn, resolve, reject });
    });
  }

  /** The commit listener: resolve what is now durable, in LSN order; reject the rest after a log failure. */
  committed(writtenLsn: number, syncedLsn: number, failure: string): void {
    this.#heardWritten = Math.max(this.#heardWritten, writtenLsn);
    this.#heardSynced = Math.max(this.#heardSynced, syncedLsn);
    const done = [...takeUpTo(this.#written, writtenLsn), ...takeUpTo(this.#synced, syncedLsn)];
    done.sort((a, b) => a.lsn - b.lsn);
    for (const waiter of done) waiter.resolve();
    if (failure !== 'DBOS_OK' && this.#failure === null) {
      this.#failure = new DbosError(failure, `the write-ahead log failed (${failure}): writes not yet durable are lost; reopen the store`);
    }
    if (this.#failure) this.#rejectAll(this.#failure);
    if (this.pending === 0) this.#source.holdListener(false);
  }

  /** The store closed: a clean close made every write durable; a failed one rejects what waits. */
  finish(failure: unknown): void {
    if (failure === undefined) {
      const done = [...this.#written, ...this.#synced].sort((a, b) => a.lsn - b.lsn);
      this.#written = [];
      this.#synced = [];
      for (const waiter of done) waiter.resolve();
      return;
    }
    this.#rejectAll(failure);
  }

  #rejectAll(error: unknown): void {
    const waiting = [...this.#written, ...this.#synced];
    this.#written = [];
    this.#synced = [];
    for (const waiter of waiting) waiter.reject(error);
  }
}

/**
 * Remove and return the waiters at the front of `queue` whose record ends by `reached`. A write's
 * LSN is where its log record starts; the written / synced LSNs are where the last record in the
 * OS / on the device ends (the csrc/kv_wal.c convention). So a record is there once reached > lsn.
 */
function takeUpTo(queue: Waiter[], reached: number): Waiter[] {
  let count = 0;
  while (count < queue.length && (queue[count] as Waiter).lsn < reached) count++;
  return queue.splice(0, count);
}
