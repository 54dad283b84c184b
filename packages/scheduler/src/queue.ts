// The pool's run queue: one FIFO per priority class, and the rule that picks the next task.
//
// Rank: a task that has waited `agingMs` or longer is aged and goes before every task that is
// not, whatever its class (so background work is never starved, as in dbos/scheduler.h); among
// aged tasks, or among tasks of one class, the one that waited longest goes first.

/** What the queue needs of a task. */
export interface Waiting {
  /** Class: 0 latency, 1 normal, 2 background. */
  priority: number;
  /** When it began to wait (performance.now(), ms). */
  since: number;
  /** False once cancelled: skipped and dropped when it reaches the head. */
  live: boolean;
}

/** A task's rank at `now`: smaller goes first. Aged tasks rank 0, others 1 + class. */
export function rankOf(task: Waiting, now: number, agingMs: number): number {
  return now - task.since >= agingMs ? 0 : 1 + task.priority;
}

/** True when `a` should run before `b` at `now`. */
export function before(a: Waiting, b: Waiting, now: number, agingMs: number): boolean {
  const rankA = rankOf(a, now, agingMs);
  const rankB = rankOf(b, now, agingMs);
  return rankA !== rankB ? rankA < rankB : a.since < b.since;
}

/** A FIFO over a growable ring: push and shift are O(1). */
class Fifo<T> {
  #items: (T | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length === this.#items.length) {
      const grown: (T | undefined)[] = new Array(this.#items.length * 2);
      for (let i = 0; i < this.#length; i++) grown[i] = this.#items[(this.#head + i) % this.#items.length];
      this.#items = grown;
      this.#head = 0;
    }
    this.#items[(this.#head + this.#length) % this.#items.length] = item;
    this.#length++;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#length--;
    return item;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) % this.#items.length] as T;
  }
}

export const CLASS_COUNT = 3;

/** Tasks waiting for a worker, by class. Cancelled tasks stay in place until they reach a head. */
export class RunQueue<T extends Waiting> {
  readonly #fifos: Fifo<T>[] = [new Fifo(), new Fifo(), new Fifo()];
  /** Live tasks per class (cancelled ones not counted). */
  readonly #counts = [0, 0, 0];
  #size = 0;

  constructor(readonly agingMs: number) {}

  #fifo(priority: number): Fifo<T> {
    const fifo = this.#fifos[priority];
    if (!fifo) throw new RangeError(`RunQueue: no class ${priority}`);
    return fifo;
  }

  #count(priority: number, delta: number): void {
    const count = (this.#counts[priority] ?? 0) + delta;
    if (count < 0) throw new RangeError(`RunQueue: class ${priority} would hold ${count} tasks`);
    this.#counts[priority] = count;
    this.#size += delta;
  }

  /** Live tasks waiting in class `priority`. */
  count(priority: number): number {
    return this.#counts[priority] ?? 0;
  }

  get size(): number {
    return this.#size;
  }

  push(task: T): void {
    this.#fifo(task.priority).push(task);
    this.#count(task.priority, 1);
  }

  /** A queued task was cancelled (task.live is false now): it no longer counts. */
  forget(task: T): void {
    this.#count(task.priority, -1);
    this.#head(task.priority); // drop it now if it was a head, so cancelled tasks do not pile up
  }

  /** The live head of one class, dropping cancelled tasks in front of it. */
  #head(priority: number): T | undefined {
    const fifo = this.#fifo(priority);
    let head = fifo.peek();
    while (head && !head.live) {
      fifo.shift();
      head = fifo.peek();
    }
    return head;
  }

  /** The task that should run next at `now`, left in the queue. */
  peek(now: number): T | undefined {
    if (this.#size === 0) return undefined;
    let best: T | undefined;
    for (let priority = 0; priority < CLASS_COUNT; priority++) {
      const head = this.#head(priority);
      if (head && (!best || before(head, best, now, this.agingMs))) best = head;
    }
    return best;
  }

  /** Take `task` (the one peek returned) out of the queue. */
  take(task: T): void {
    const taken = this.#fifo(task.priority).shift();
    if (taken !== task) throw new Error('RunQueue.take: not the head of its class');
    this.#count(task.priority, -1);
  }

  /** When the first live head that is not aged yet will be (ms, performance.now()), or undefined. */
  nextAging(now: number): number | undefined {
    if (this.#size === 0) return undefined;
    let next: number | undefined;
    for (let priority = 0; priority < CLASS_COUNT; priority++) {
      const head = this.#head(priority);
      if (!head || rankOf(head, now, this.agingMs) === 0) continue;
      const at = head.since + this.agingMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /** Every live task, then empties the queue. */
  drain(): T[] {
    const all: T[] = [];
    for (const fifo of this.#fifos) {
      for (let task = fifo.shift(); task; task = fifo.shift()) if (task.live) all.push(task);
    }
    this.#counts.fill(0);
    this.#size = 0;
    return all;
  }
}
