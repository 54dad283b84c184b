// Which pages this pool's JavaScript side holds fixed (or has asked native code to fix), per page.
//
// Every fix made through one BufferPool starts on its JavaScript thread, so this table sees all of
// them. It exists because a thread that waits for a latch it holds itself never wakes: a second
// exclusive fix of a page, or a shared fix of a page the same program holds exclusively, would
// hang the event loop inside native code. Synchronous calls that conflict are refused
// (DBOS_EBUSY); asynchronous ones wait here, in JavaScript, until the holder unfixes.
import type { FixMode } from './page.js';

/** An async request waiting for a page: granted (the hold is taken for it) or cancelled (close). */
export interface Waiter {
  mode: FixMode;
  grant: () => void;
  cancel: () => void;
}

interface Entry {
  shared: number;
  exclusive: boolean;
  /** Async requests waiting for this page, first come first served. */
  waiting: Waiter[];
}

export class FixTable {
  readonly #entries = new Map<number, Entry>();
  #exclusive = 0;

  /** Pages held (or being fixed) exclusively. */
  get exclusiveCount(): number {
    return this.#exclusive;
  }

  /** True when `mode` can be granted now without waiting for a holder of this pool. */
  grantable(pid: number, mode: FixMode): boolean {
    const entry = this.#entries.get(pid);
    if (entry === undefined) return true;
    return mode === 'shared' ? !entry.exclusive : !entry.exclusive && entry.shared === 0;
  }

  /** Whether this pool holds (or is fixing) the page exclusively. */
  heldExclusive(pid: number): boolean {
    return this.#entries.get(pid)?.exclusive === true;
  }

  /** Whether this pool holds (or is fixing) the page in any mode. */
  held(pid: number): boolean {
    return this.#entries.has(pid);
  }

  /** Record a grant; the caller checked grantable(). */
  take(pid: number, mode: FixMode): void {
    let entry = this.#entries.get(pid);
    if (entry === undefined) {
      entry = { shared: 0, exclusive: false, waiting: [] };
      this.#entries.set(pid, entry);
    }
    if (mode === 'exclusive') {
      entry.exclusive = true;
      this.#exclusive++;
    } else entry.shared++;
  }

  /** Queue an async request that is granted (take() done) when the page frees up. */
  wait(pid: number, waiter: Waiter): void {
    let entry = this.#entries.get(pid);
    if (entry === undefined) {
      entry = { shared: 0, exclusive: false, waiting: [] };
      this.#entries.set(pid, entry);
    }
    entry.waiting.push(waiter);
  }

  /** Drop one hold; grants the waiters that can go now, in order. */
  drop(pid: number, mode: FixMode): void {
    const entry = this.#entries.get(pid);
    if (entry === undefined) return;
    if (mode === 'exclusive') {
      if (entry.exclusive) this.#exclusive--;
      entry.exclusive = false;
    } else if (entry.shared > 0) entry.shared--;
    for (let next = entry.waiting[0]; next !== undefined; next = entry.waiting[0]) {
      const free = next.mode === 'shared' ? !entry.exclusive : !entry.exclusive && entry.shared === 0;
      if (!free) break;
      entry.waiting.shift();
      if (next.mode === 'exclusive') {
        entry.exclusive = true;
        this.#exclusive++;
      } else entry.shared++;
      next.grant();
    }
    if (!entry.exclusive && entry.shared === 0 && entry.waiting.length === 0) this.#entries.delete(pid);
  }

  /** Cancel every waiting request (the pool is closing). */
  cancelWaiting(): void {
    const cancelled: Waiter[] = [];
    for (const [pid, entry] of this.#entries) {
      cancelled.push(...entry.waiting);
      entry.waiting.length = 0;
      if (!entry.exclusive && entry.shared === 0) this.#entries.delete(pid);
    }
    for (const waiter of cancelled) waiter.cancel();
  }
}
