// TaskPool: JavaScript functions on worker_threads, by priority class, with a yield flag in shared
// memory that a native thread raises (see README.md, "JavaScript tasks").
//
// The main thread owns every decision: which task a free worker runs next (RunQueue's rank:
// aged first, then class, then arrival), whether a task that reached yieldNow() is set aside for
// waiting work, and when a task that ran too long is reported or its worker terminated. It
// publishes what waits in the shared memory, so the native scan thread can decide on its own,
// every half quantum, which running turn should yield, without a message to anyone.
import { Worker } from 'node:worker_threads';
import { DbosError, callNative, describeValue, typeError } from '@dbos/platform';
import { PRIORITIES, SET_ASIDE_MAX } from './constants.js';
import type { Priority } from './context.js';
import { addon, type NativeTaskTimer } from './native.js';
import {
  type HardLimitReport,
  type PoolSettings,
  type TaskCall,
  type TaskOptions,
  type TaskPoolOptions,
  type TaskSettings,
  poolSettings,
  taskSettings,
} from './options.js';
import type { FromWorker, SlotLayout, ToWorker, WorkerSetup } from './protocol.js';
import { RunQueue, type Waiting, before, rankOf } from './queue.js';

/** A submitted task. */
export interface TaskHandle<T = unknown> {
  /** The pool's id of the task (what pool.terminate() and hard-limit reports take). */
  readonly id: number;
  /** Settles with the task's outcome (see TaskPool.submit). */
  readonly result: Promise<T>;
  /** Same as an abort of the task's signal: true if the task was not settled yet. */
  cancel(): boolean;
  /** Same as pool.terminate(id). */
  terminate(): boolean;
}

/** How close() finishes the tasks still in the pool. */
export type CloseMode = 'drain' | 'cancel';

/** A snapshot of the pool (stats()). */
export interface TaskPoolStats {
  size: number;
  /** Worker threads alive now (workers start on demand). */
  workers: number;
  quantumUs: number;
  /** Tasks waiting for a worker, by class. */
  queued: Record<Priority, number>;
  /** Workers running a task now. */
  running: number;
  /** Tasks set aside by yieldNow(), waiting to go on on their worker. */
  setAside: number;
  submitted: number;
  /** Tasks that finished with a result or an error of their own. */
  completed: number;
  /** Tasks cancelled (signal, cancel(), deadline, close) or terminated. */
  cancelled: number;
  /** Flags raised by the native timer (at most one per turn). */
  yieldsRequested: number;
  /** yieldNow() calls that set the task aside for other work. */
  yieldsTaken: number;
  /** Flags the pool raised at once because a more urgent task arrived with every worker busy. */
  urgentFlags: number;
  /** Turns asked to yield that ran on past their hardLimitMs. */
  hardLimitReports: number;
  /** Workers terminated for a task (terminateAfterMs, terminate()). */
  terminations: number;
  /** Workers that exited on their own (a crash) and were replaced. */
  workerExits: number;
}

type TaskState = 'queued' | 'running' | 'set-aside' | 'ended';

/** A task inside the pool. A class, so every task has one shape (fields listed once, in order). */
class Task implements Waiting {
  readonly module: string;
  readonly name: string;
  readonly args: unknown[];
  readonly priority: number;
  readonly signal: AbortSignal | undefined;
  readonly deadlineMs: number | undefined;
  readonly hardLimitMs: number;
  readonly terminateAfterMs: number;
  since = performance.now();
  live = true;
  state: TaskState = 'queued';
  /** The promise settled (a cancelled task may still run on its worker until it returns). */
  settled = false;
  /** A cancelled task set aside: resumed first, with its yieldNow rejecting. */
  cancelled = false;
  slot: Slot | null = null;
  reportedEpoch = -1;
  cleanup: (() => void) | null = null;
  readonly result: Promise<unknown>;
  resolve: (value: unknown) => void = () => {};
  reject: (error: unknown) => void = () => {};

  constructor(
    readonly id: number,
    settings: TaskSettings,
  ) {
    this.module = settings.module;
    this.name = settings.name;
    this.args = settings.args;
    this.priority = settings.priority;
    this.signal = settings.signal;
    this.deadlineMs = settings.deadlineMs;
    this.hardLimitMs = settings.hardLimitMs;
    this.terminateAfterMs = settings.terminateAfterMs;
    this.result = new Promise<unknown>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

interface Slot {
  readonly index: number;
  /** The first word of this slot in the shared memory. */
  readonly base: number;
  worker: Worker | null;
  /** Terminated by the pool, its exit not seen yet. */
  exiting: boolean;
  /** The task holding the worker's turn. */
  current: Task | null;
  setAside: Task[];
  /** Why the worker died, if an 'error' event said. */
  cause: unknown;
}

/** The built worker beside this module; from the sources (a TypeScript loader), the built one too. */
function workerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../dist/worker.js', here) : new URL('./worker.js', here);
}

const TASK_ID_MAX = 0x7fff_ffff; // ids live in an Int32Array word (the cancel word)

function cancelError(id: number, cause?: unknown): DbosError {
  return new DbosError('ECANCELED', `task ${id} was cancelled`, cause === undefined ? undefined : { cause });
}

function closedError(what: string): DbosError {
  return new DbosError('DBOS_ECLOSED', `${what}: the task pool is closed`);
}

/**
 * A pool of worker threads that runs JavaScript functions by priority: 'latency' before 'normal'
 * before 'background', a task that waited `agingMs` before all that did not. Long tasks poll
 * shouldYield() (one shared-memory load, raised by a native timer) and `await yieldNow()` so
 * waiting work of their class or a more urgent one runs on their worker in the meantime.
 */
export class TaskPool {
  readonly #settings: PoolSettings;
  readonly #layout: SlotLayout;
  readonly #buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  #timer: NativeTaskTimer | null;
  readonly #slots: Slot[] = [];
  readonly #queue: RunQueue<Task>;
  readonly #tasks = new Map<number, Task>();
  /** Unsettled tasks per signal, with the one listener they share. */
  readonly #signals = new WeakMap<AbortSignal, { tasks: Set<Task>; onAbort: () => void }>();
  #nextId = 1;
  #busy = 0;
  #closed = false;
  #closing: Promise<void> | null = null;
  #finishClose: (() => void) | null = null;
  #finalizing = false;
  #agingTimer: NodeJS.Timeout | null = null;
  #agingAt = Number.POSITIVE_INFINITY;
  #monitor: NodeJS.Timeout | null = null;
  #monitorTickMs = Number.POSITIVE_INFINITY;
  #yieldsRequestedAtStop = 0;
  readonly #counters = {
    submitted: 0,
    completed: 0,
    cancelled: 0,
    yieldsTaken: 0,
    urgentFlags: 0,
    hardLimitReports: 0,
    terminations: 0,
    workerExits: 0,
  };

  constructor(options?: TaskPoolOptions) {
    this.#settings = poolSettings(options);
    this.#layout = addon.tasksLayout;
    const layout = this.#layout;
    const wordCount = layout.headerWords + this.#settings.size * layout.slotWords;
    this.#buffer = new SharedArrayBuffer(wordCount * 4);
    this.#words = new Int32Array(this.#buffer);
    this.#words[layout.waitingBest] = layout.classNone;
    for (let index = 0; index < this.#settings.size; index++) {
      const slot: Slot = {
        index,
        base: layout.headerWords + index * layout.slotWords,
        worker: null,
        exiting: false,
        current: null,
        setAside: [],
        cause: undefined,
      };
      this.#words[slot.base + layout.suspendedBest] = layout.classNone;
      this.#slots.push(slot);
    }
    this.#queue = new RunQueue<Task>(this.#settings.agingMs);
    const words = this.#words;
    const { size, quantumUs } = this.#settings;
    this.#timer = callNative(() => new addon.NativeTaskTimer(words, size, quantumUs), 'task pool');
  }

  /** Worker threads the pool runs at most. */
  get size(): number {
    return this.#settings.size;
  }

  /** The time quantum, microseconds. */
  get quantumUs(): number {
    return this.#settings.quantumUs;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queue a task and return its handle at once. Throws TypeError / RangeError for a bad call or
   * bad options, and DbosError DBOS_ECLOSED after close(). `result` resolves with the function's
   * return value (awaited, cloned back), or rejects with: the task's own error (thrown or
   * rejected inside the task, cloned back); ECANCELED (signal, cancel(), terminate());
   * DBOS_ETIMEDOUT (deadlineMs passed, or terminateAfterMs); DBOS_ECLOSED (close in 'cancel'
   * mode); DBOS_ENOENT (the module or its export cannot be loaded); TypeError DBOS_EINVAL (the
   * arguments or the result cannot be cloned); EOWNERDEAD (the worker died under the task).
   */
  submit<T = unknown>(call: TaskCall, options?: TaskOptions): TaskHandle<T> {
    if (this.#closed) throw closedError('submit');
    const settings = taskSettings(call, options, this.#settings);
    const id = this.#nextId;
    this.#nextId = id === TASK_ID_MAX ? 1 : id + 1;
    const task = new Task(id, settings);
    this.#counters.submitted++;
    const handle: TaskHandle<T> = {
      id,
      result: task.result as Promise<T>,
      cancel: () => this.#cancel(task, cancelError(id)),
      terminate: () => this.terminate(id),
    };
    const signal = settings.signal;
    if (signal?.aborted) {
      task.state = 'ended';
      this.#counters.cancelled++;
      this.#settle(task, false, cancelError(id, signal.reason));
      return handle;
    }
    this.#watch(task);
    this.#tasks.set(id, task);
    this.#queue.push(task);
    this.#dispatch();
    if (task.state === 'queued') this.#preemptFor(task);
    return handle;
  }

  /** submit(call, options).result, with every refusal as a rejected promise. */
  run<T = unknown>(call: TaskCall, options?: TaskOptions): Promise<T> {
    try {
      return this.submit<T>(call, options).result;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Stop a task now. Queued or set aside: cancelled (ECANCELED), as by its signal. Running: its
   * worker is terminated (the task rejects with ECANCELED, tasks set aside on that worker with
   * EOWNERDEAD) and a fresh worker takes its place. Also ends a cancelled task that still runs.
   * Returns false when no such task is in the pool.
   */
  terminate(taskId: number): boolean {
    if (typeof taskId !== 'number' || !Number.isInteger(taskId)) throw typeError(`taskId must be an integer, not ${describeValue(taskId)}`);
    const task = this.#tasks.get(taskId);
    if (!task || task.state === 'ended') return false;
    if (task.state === 'running' && task.slot) {
      if (task.slot.exiting) return false; // terminated already
      this.#terminateWorker(task.slot, new DbosError('ECANCELED', `task ${taskId} was terminated`));
      return true;
    }
    return this.#cancel(task, new DbosError('ECANCELED', `task ${taskId} was terminated`));
  }

  stats(): TaskPoolStats {
    const queued = {} as Record<Priority, number>;
    PRIORITIES.forEach((name, index) => {
      queued[name] = this.#queue.count(index);
    });
    let workers = 0;
    let setAside = 0;
    for (const slot of this.#slots) {
      if (slot.worker) workers++;
      setAside += slot.setAside.length;
    }
    const timer = this.#timer;
    return {
      size: this.#settings.size,
      workers,
      quantumUs: this.#settings.quantumUs,
      queued,
      running: this.#busy,
      setAside,
      ...this.#counters,
      yieldsRequested: timer ? callNative(() => timer.stats().yieldsRequested, 'task pool stats') : this.#yieldsRequestedAtStop,
    };
  }

  /**
   * Refuse new tasks, finish the rest, stop every worker and the native timer (joined). 'drain'
   * (default) lets queued and running tasks finish; 'cancel' rejects them with DBOS_ECLOSED and
   * terminates the workers. Idempotent: every call returns the same promise; a 'cancel' during a
   * drain cancels what is left. A drain waits for tasks that never end: use 'cancel' (or
   * terminateAfterMs) for those.
   */
  close(options?: { mode?: CloseMode }): Promise<void> {
    let mode: CloseMode;
    try {
      if (options !== undefined && (options === null || typeof options !== 'object'))
        throw typeError(`options must be an object, not ${describeValue(options)}`);
      const given = options?.mode;
      if (given !== undefined && given !== 'drain' && given !== 'cancel')
        throw typeError(`mode must be 'drain' or 'cancel', not ${describeValue(given)}`);
      mode = given ?? 'drain';
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closed = true;
    this.#closing ??= new Promise<void>((resolve) => {
      this.#finishClose = resolve;
    });
    if (mode === 'cancel' && !this.#finalizing) this.#cancelEverything();
    this.#closeIfIdle();
    return this.#closing;
  }

  // ---- Dispatch ---------------------------------------------------------------------------------

  /** Give every free worker its next task; start workers for waiting tasks. */
  #dispatch(): void {
    const now = performance.now();
    for (const slot of this.#slots) {
      if (slot.current || slot.exiting) continue;
      if (!slot.worker && this.#queue.size === 0) continue;
      while (!slot.current) {
        const next = this.#pick(slot, now);
        if (!next || !this.#start(slot, next)) break;
      }
    }
    this.#publish(now);
  }

  /** The task `slot` should run next: the queue's best or one set aside there, or none. */
  #pick(slot: Slot, now: number): Task | undefined {
    let best: Task | undefined;
    for (const task of slot.setAside) {
      if (task.cancelled) return task; // let it unwind first
      if (!best || before(task, best, now, this.#settings.agingMs)) best = task;
    }
    const queued = this.#queue.peek(now);
    if (queued && (!best || before(queued, best, now, this.#settings.agingMs))) best = queued;
    return best;
  }

  /** Hand `task` to `slot`'s worker; false if it could not be sent (the task failed). */
  #start(slot: Slot, task: Task): boolean {
    let message: ToWorker;
    if (task.state === 'queued') {
      this.#queue.take(task);
      message = { type: 'run', id: task.id, priority: task.priority, module: task.module, name: task.name, args: task.args };
    } else {
      slot.setAside.splice(slot.setAside.indexOf(task), 1);
      message = { type: 'resume', id: task.id, cancelled: task.cancelled };
    }
    if (!slot.worker && !this.#spawn(slot)) {
      task.state = 'ended';
      this.#tasks.delete(task.id);
      this.#settle(task, false, new DbosError('DBOS_EAGAIN', `task ${task.id}: no worker thread could be started`, { cause: slot.cause }));
      return false;
    }
    try {
      slot.worker?.postMessage(message);
    } catch (error) {
      task.state = 'ended';
      this.#tasks.delete(task.id);
      this.#settle(task, false, Object.assign(typeError(`task ${task.id}: its arguments cannot be cloned to a worker`), { cause: error }));
      return false;
    }
    task.state = 'running';
    task.slot = slot;
    slot.current = task;
    if (this.#busy++ === 0) this.#timer?.activate(true);
    slot.worker?.ref();
    this.#publishSetAside(slot, performance.now());
    if (Number.isFinite(task.hardLimitMs) || Number.isFinite(task.terminateAfterMs)) this.#watchLimits(task);
    return true;
  }

  /**
   * Every worker is busy and `task` is more urgent than some of them: ask the least urgent turn to
   * yield now instead of at the end of its quantum (the quantum shares a class's time among its
   * tasks; it does not make urgent work wait behind less urgent work). One turn per arrival.
   */
  #preemptFor(task: Task): void {
    const layout = this.#layout;
    let target: Slot | undefined;
    for (const slot of this.#slots) {
      const running = slot.current;
      if (!running || slot.exiting || running.priority <= task.priority) continue;
      if (target && (target.current?.priority ?? 0) >= running.priority) continue;
      const epoch = Atomics.load(this.#words, slot.base + layout.epoch);
      if ((epoch & 1) === 0 || Atomics.load(this.#words, slot.base + layout.yield) === epoch) continue; // not running, or asked already
      target = slot;
    }
    if (!target) return;
    const epoch = Atomics.load(this.#words, target.base + layout.epoch);
    // If that turn ended meanwhile, the flag names an old epoch and stops nothing.
    if (epoch & 1) {
      Atomics.store(this.#words, target.base + layout.yield, epoch);
      this.#counters.urgentFlags++;
    }
  }

  /** The worker's turn ended (done, set aside): it is free. */
  #release(slot: Slot): void {
    if (!slot.current) return;
    slot.current = null;
    if (--this.#busy === 0) this.#timer?.activate(false);
    if (slot.setAside.length === 0) slot.worker?.unref();
  }

  #spawn(slot: Slot): boolean {
    const layout = this.#layout;
    // A fresh worker continues the slot's epoch from an even value, so a flag the scan thread
    // raised for the old worker can never match a turn of the new one.
    if (Atomics.load(this.#words, slot.base + layout.epoch) & 1) Atomics.add(this.#words, slot.base + layout.epoch, 1);
    Atomics.store(this.#words, slot.base + layout.cancel, 0);
    Atomics.store(this.#words, slot.base + layout.suspendedBest, layout.classNone);
    const setup: WorkerSetup = { buffer: this.#buffer, slot: slot.index, layout };
    let worker: Worker;
    try {
      worker = new Worker(workerUrl(), { workerData: setup });
    } catch (error) {
      slot.cause = error;
      return false;
    }
    slot.worker = worker;
    slot.cause = undefined;
    worker.on('message', (message: FromWorker) => this.#onMessage(slot, message));
    worker.on('error', (error) => {
      slot.cause = error;
    });
    worker.on('exit', (code) => this.#onExit(slot, worker, code));
    worker.unref();
    return true;
  }

  // ---- Messages from workers --------------------------------------------------------------------

  #onMessage(slot: Slot, message: FromWorker): void {
    const task = this.#tasks.get(message.id);
    if (message.type === 'yield') {
      if (task && slot.current === task) this.#onYield(slot, task);
      else slot.worker?.postMessage({ type: 'resume', id: message.id, cancelled: false } satisfies ToWorker);
      return;
    }
    if (!task || task.slot !== slot) return;
    if (slot.current === task) this.#release(slot);
    else {
      slot.setAside.splice(slot.setAside.indexOf(task), 1); // returned without awaiting its yieldNow
      this.#publishSetAside(slot, performance.now());
    }
    task.state = 'ended';
    this.#tasks.delete(task.id);
    if (!task.settled) {
      this.#counters.completed++;
      if (message.ok) this.#settle(task, true, message.value);
      else this.#settle(task, false, this.#taskError(task, message));
    }
    this.#dispatch();
    this.#closeIfIdle();
  }

  /** yieldNow() found work waiting: set the task aside if that work ranks before it, else go on. */
  #onYield(slot: Slot, task: Task): void {
    const now = performance.now();
    task.since = now; // behind everything of its class that waits now
    const next = this.#pick(slot, now);
    const room = slot.setAside.length < SET_ASIDE_MAX || next?.state === 'set-aside';
    if (!next || !room || !before(next, task, now, this.#settings.agingMs)) {
      // Cancelled while its yield was on the way: it goes on as cancelled, to unwind.
      slot.worker?.postMessage({ type: 'resume', id: task.id, cancelled: task.settled } satisfies ToWorker);
      return;
    }
    this.#counters.yieldsTaken++;
    this.#release(slot);
    task.state = 'set-aside';
    task.cancelled = task.settled; // cancelled while running: resume it first, to unwind
    slot.setAside.push(task);
    slot.worker?.ref();
    this.#dispatch();
  }

  /** The error a failed task rejects with. */
  #taskError(task: Task, message: Extract<FromWorker, { ok: false }>): unknown {
    const text = typeof message.error === 'string' ? message.error : describeValue(message.error);
    switch (message.failure) {
      case 'load':
      case 'export':
        return new DbosError('DBOS_ENOENT', `task ${task.id}: ${text}`);
      case 'result':
        return typeError(`task ${task.id}: ${text}`);
      default: {
        const error = message.error;
        if (message.code && error instanceof Error && (error as { code?: unknown }).code === undefined) {
          Object.defineProperty(error, 'code', { value: message.code, enumerable: true, writable: true, configurable: true });
        }
        return error;
      }
    }
  }

  #onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return;
    if (!slot.exiting && !this.#finalizing) this.#counters.workerExits++;
    const victims = slot.current ? [slot.current, ...slot.setAside] : [...slot.setAside];
    this.#release(slot);
    slot.setAside = [];
    slot.worker = null;
    slot.exiting = false;
    for (const task of victims) {
      task.state = 'ended';
      this.#tasks.delete(task.id);
      if (!task.settled) {
        this.#counters.cancelled++;
        const cause = slot.cause === undefined ? {} : { cause: slot.cause };
        this.#settle(task, false, new DbosError('EOWNERDEAD', `task ${task.id}: its worker exited (code ${code})`, cause));
      }
    }
    this.#publishSetAside(slot, performance.now());
    if (!this.#finalizing) this.#dispatch();
    this.#closeIfIdle();
  }

  // ---- Cancellation, deadlines, limits -------------------------------------------------------------

  #settle(task: Task, ok: boolean, value: unknown): void {
    if (task.settled) return;
    task.settled = true;
    task.cleanup?.();
    task.cleanup = null;
    if (ok) task.resolve(value);
    else task.reject(value);
  }

  /**
   * Arm the task's signal and deadline. Tasks that share a signal share one listener (a request's
   * signal may cover thousands of tasks; one listener each would trip Node's leak warning).
   */
  #watch(task: Task): void {
    const signal = task.signal;
    if (signal) {
      let watched = this.#signals.get(signal);
      if (!watched) {
        const tasks = new Set<Task>();
        const onAbort = (): void => {
          this.#signals.delete(signal);
          for (const each of tasks) this.#cancel(each, cancelError(each.id, signal.reason));
        };
        watched = { tasks, onAbort };
        this.#signals.set(signal, watched);
        signal.addEventListener('abort', onAbort, { once: true });
      }
      watched.tasks.add(task);
    }
    const deadline =
      task.deadlineMs === undefined
        ? null
        : setTimeout(() => {
            this.#cancel(task, new DbosError('DBOS_ETIMEDOUT', `task ${task.id} missed its deadline of ${task.deadlineMs} ms`));
          }, task.deadlineMs);
    if (!signal && !deadline) return;
    task.cleanup = () => {
      if (deadline) clearTimeout(deadline);
      const watched = signal ? this.#signals.get(signal) : undefined;
      if (!signal || !watched) return;
      watched.tasks.delete(task);
      if (watched.tasks.size > 0) return;
      this.#signals.delete(signal);
      signal.removeEventListener('abort', watched.onAbort);
    };
  }

  /** Reject the task now; a running one is told through its slot and ends at its next yield point. */
  #cancel(task: Task, error: unknown): boolean {
    if (task.settled) return false;
    this.#counters.cancelled++;
    this.#settle(task, false, error);
    const slot = task.slot;
    switch (task.state) {
      case 'queued':
        task.live = false;
        task.state = 'ended';
        this.#queue.forget(task);
        this.#tasks.delete(task.id);
        this.#publish(performance.now());
        this.#closeIfIdle();
        break;
      case 'running':
        if (slot) {
          // Tell the task (its yieldNow rejects) and raise its flag, so shouldYield() turns true.
          Atomics.store(this.#words, slot.base + this.#layout.cancel, task.id);
          const epoch = Atomics.load(this.#words, slot.base + this.#layout.epoch);
          if (epoch & 1) Atomics.store(this.#words, slot.base + this.#layout.yield, epoch);
        }
        break;
      case 'set-aside':
        task.cancelled = true;
        if (slot) this.#publishSetAside(slot, performance.now());
        break;
      default:
        break;
    }
    return true;
  }

  #terminateWorker(slot: Slot, error: unknown): void {
    if (slot.exiting || !slot.worker) return;
    slot.exiting = true;
    this.#counters.terminations++;
    const task = slot.current;
    if (task && !task.settled) {
      this.#counters.cancelled++;
      this.#settle(task, false, error);
    }
    void slot.worker.terminate();
  }

  /** Watch the running turns of tasks with limits, often enough for the smallest limit. */
  #watchLimits(task: Task): void {
    const tickMs = Math.max(1, Math.min(100, Math.min(task.hardLimitMs, task.terminateAfterMs) / 4));
    if (this.#monitor && tickMs >= this.#monitorTickMs) return;
    if (this.#monitor) clearInterval(this.#monitor);
    this.#monitorTickMs = tickMs;
    this.#monitor = setInterval(() => this.#checkLimits(), tickMs);
    this.#monitor.unref();
  }

  /** One look at every running turn: how long it ran is published by the scan thread. */
  #checkLimits(): void {
    const layout = this.#layout;
    let watched = 0;
    for (const slot of this.#slots) {
      const task = slot.current;
      if (!task || slot.exiting || !(Number.isFinite(task.hardLimitMs) || Number.isFinite(task.terminateAfterMs))) continue;
      watched++;
      const epoch = Atomics.load(this.#words, slot.base + layout.epoch);
      if ((epoch & 1) === 0 || Atomics.load(this.#words, slot.base + layout.ranEpoch) !== epoch) continue;
      const ranMs = Atomics.load(this.#words, slot.base + layout.ranUs) / 1000;
      if (ranMs >= task.terminateAfterMs) {
        this.#report(task, ranMs, task.terminateAfterMs, true);
        this.#terminateWorker(
          slot,
          new DbosError(
            'DBOS_ETIMEDOUT',
            `task ${task.id} ran ${ranMs} ms without a yield point (terminateAfterMs ${task.terminateAfterMs})`,
          ),
        );
      } else if (
        ranMs >= task.hardLimitMs &&
        task.reportedEpoch !== epoch &&
        Atomics.load(this.#words, slot.base + layout.yield) === epoch
      ) {
        // The flag names this turn: the task was asked to yield and runs on.
        task.reportedEpoch = epoch;
        this.#counters.hardLimitReports++;
        this.#report(task, ranMs, task.hardLimitMs, false);
      }
    }
    if (watched === 0 && this.#monitor) {
      clearInterval(this.#monitor);
      this.#monitor = null;
      this.#monitorTickMs = Number.POSITIVE_INFINITY;
    }
  }

  #report(task: Task, ranMs: number, limitMs: number, terminated: boolean): void {
    const listener = this.#settings.onHardLimit;
    if (!listener) return;
    const report: HardLimitReport = {
      taskId: task.id,
      priority: PRIORITIES[task.priority] ?? 'normal',
      module: task.module,
      name: task.name,
      ranMs,
      limitMs,
      terminated,
    };
    try {
      listener(report);
    } catch (error) {
      process.emitWarning(`@dbos/scheduler: onHardLimit threw: ${error instanceof Error ? error.message : describeValue(error)}`);
    }
  }

  // ---- What waits, in the shared memory --------------------------------------------------------

  /** The class a waiting task counts as for the scan thread: aged tasks as the most urgent. */
  #waitingClass(task: Task | undefined, now: number): number {
    if (!task) return this.#layout.classNone;
    if (task.cancelled) return 0;
    return rankOf(task, now, this.#settings.agingMs) === 0 ? 0 : task.priority;
  }

  #publishSetAside(slot: Slot, now: number): void {
    let best = this.#layout.classNone;
    for (const task of slot.setAside) best = Math.min(best, this.#waitingClass(task, now));
    Atomics.store(this.#words, slot.base + this.#layout.suspendedBest, best);
  }

  /** Publish what waits, and wake up again when the oldest waiting task ages. */
  #publish(now: number): void {
    Atomics.store(this.#words, this.#layout.waitingBest, this.#waitingClass(this.#queue.peek(now), now));
    let next = this.#queue.nextAging(now) ?? Number.POSITIVE_INFINITY;
    for (const slot of this.#slots) {
      for (const task of slot.setAside) {
        if (!task.cancelled && rankOf(task, now, this.#settings.agingMs) !== 0) next = Math.min(next, task.since + this.#settings.agingMs);
      }
    }
    if (next >= this.#agingAt && this.#agingTimer) return;
    if (this.#agingTimer) clearTimeout(this.#agingTimer);
    this.#agingTimer = null;
    this.#agingAt = next;
    if (!Number.isFinite(next)) return;
    this.#agingTimer = setTimeout(() => this.#onAging(), Math.max(0, next - now) + 1);
    this.#agingTimer.unref();
  }

  #onAging(): void {
    this.#agingTimer = null;
    this.#agingAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    for (const slot of this.#slots) this.#publishSetAside(slot, now);
    this.#publish(now);
  }

  // ---- Closing ----------------------------------------------------------------------------------

  #cancelEverything(): void {
    for (const task of this.#queue.drain()) {
      task.live = false;
      task.state = 'ended';
      this.#tasks.delete(task.id);
      this.#counters.cancelled++;
      this.#settle(task, false, closedError(`task ${task.id}`));
    }
    for (const slot of this.#slots) {
      for (const task of slot.current ? [slot.current, ...slot.setAside] : slot.setAside) {
        if (task.settled) continue;
        this.#counters.cancelled++;
        this.#settle(task, false, closedError(`task ${task.id}`));
      }
      if (slot.worker && !slot.exiting) {
        slot.exiting = true;
        void slot.worker.terminate();
      }
    }
    this.#publish(performance.now());
  }

  /** After close(): once no task is left, stop the workers and join the native timer. */
  #closeIfIdle(): void {
    if (!this.#closed || this.#finalizing || this.#tasks.size > 0) return;
    this.#finalizing = true;
    void this.#finalize();
  }

  async #finalize(): Promise<void> {
    if (this.#agingTimer) clearTimeout(this.#agingTimer);
    if (this.#monitor) clearInterval(this.#monitor);
    this.#agingTimer = null;
    this.#monitor = null;
    await Promise.all(this.#slots.map((slot) => slot.worker?.terminate()));
    const timer = this.#timer;
    if (timer) {
      this.#yieldsRequestedAtStop = timer.stats().yieldsRequested;
      timer.stop(); // joined: the scan thread no longer reads the shared memory
      this.#timer = null;
    }
    this.#finishClose?.();
  }
}
