// A pool worker: runs the pool's tasks one turn at a time and publishes each turn in its slot of
// the shared memory, where the native scan thread times it and raises the yield flag.
//
// Several tasks may be alive on one worker: a task that awaits yieldNow() while urgent work waits
// is set aside (its async function stays suspended on this thread) and the worker runs another
// task; the pool says when the first goes on. Only one task holds the turn at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { DbosError } from '@dbos/platform';
import { type Priority, type TaskInfo, installTaskContext } from './context.js';
import type { FromWorker, TaskFailure, ToWorker, WorkerSetup } from './protocol.js';

const PRIORITY_NAMES: readonly Priority[] = ['latency', 'normal', 'background'];

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error('worker.ts runs only as a @dbos/scheduler pool worker');
const layout = setup.layout;
const words = new Int32Array(setup.buffer);
const base = layout.headerWords + setup.slot * layout.slotWords;
const yieldWord = base + layout.yield;

interface Running {
  id: number;
  priority: number;
  info: TaskInfo;
  /** Resumed as cancelled: every later shouldYield() is true and yieldNow() rejects. */
  cancelled: boolean;
}

/** The epoch of this worker's turn: odd while a turn runs (the pool made it even before we started). */
let epoch = Atomics.load(words, base + layout.epoch);
let current: Running | null = null;
const setAside = new Map<number, { task: Running; resolve: () => void; reject: (error: unknown) => void }>();
const modules = new Map<string, Promise<Record<string, unknown>>>();

function beginTurn(task: Running): void {
  Atomics.store(words, base + layout.class, task.priority);
  epoch = Atomics.add(words, base + layout.epoch, 1) + 1;
  current = task;
}

function endTurn(): void {
  epoch = Atomics.add(words, base + layout.epoch, 1) + 1;
  current = null;
}

/** Cancelled while set aside (told on resume), or while running (told through the slot). */
function cancelled(task: Running): boolean {
  return task.cancelled || Atomics.load(words, base + layout.cancel) === task.id;
}

function cancelError(task: Running): DbosError {
  return new DbosError('ECANCELED', `task ${task.id} was cancelled`);
}

function post(message: FromWorker): void {
  port?.postMessage(message);
}

installTaskContext({
  // One atomic load (on shared memory V8 makes it a builtin call, not an inlined load). The pool
  // raises the flag of a running task it cancels as well, and a task resumed as cancelled keeps
  // task.cancelled, so the cancel word need not be read here.
  shouldYield(): boolean {
    const task = current;
    if (!task) return false;
    return Atomics.load(words, yieldWord) === epoch || task.cancelled;
  },

  yieldNow(): Promise<void> {
    const task = current;
    if (!task) return Promise.resolve();
    if (cancelled(task)) return Promise.reject(cancelError(task));
    endTurn();
    const waiting = Math.min(Atomics.load(words, layout.waitingBest), Atomics.load(words, base + layout.suspendedBest));
    if (waiting > task.priority) {
      // Nothing as urgent waits: a new turn at once, no message.
      beginTurn(task);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      setAside.set(task.id, { task, resolve, reject });
      post({ type: 'yield', id: task.id });
    });
  },

  currentTask(): TaskInfo | null {
    return current?.info ?? null;
  },
});

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The task's function, or why there is none. */
async function load(module: string, name: string): Promise<((...args: unknown[]) => unknown) | { failure: TaskFailure; message: string }> {
  let loading = modules.get(module);
  if (!loading) {
    loading = import(module) as Promise<Record<string, unknown>>;
    modules.set(module, loading);
  }
  let exports: Record<string, unknown>;
  try {
    exports = await loading;
  } catch (error) {
    modules.delete(module); // a fixed file may load next time
    return { failure: 'load', message: `cannot load ${module}: ${describe(error)}` };
  }
  const fn = exports[name];
  if (typeof fn !== 'function') return { failure: 'export', message: `${module} exports no function named '${name}'` };
  return fn as (...args: unknown[]) => unknown;
}

/** Send a task's outcome; a value or error that cannot be cloned is reported as such. */
function finish(id: number, outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
  try {
    if (outcome.ok) {
      post({ type: 'done', id, ok: true, value: outcome.value });
      return;
    }
    const code = (outcome.error as { code?: unknown } | null)?.code;
    post({ type: 'done', id, ok: false, error: outcome.error, ...(typeof code === 'string' ? { code } : {}) });
  } catch (error) {
    const what = outcome.ok ? 'result' : 'error';
    post({ type: 'done', id, ok: false, failure: 'result', error: `the task's ${what} cannot be cloned: ${describe(error)}` });
  }
}

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const task: Running = {
    id: message.id,
    priority: message.priority,
    info: Object.freeze({ id: message.id, priority: PRIORITY_NAMES[message.priority] ?? 'normal' }),
    cancelled: false,
  };
  beginTurn(task);
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  const fn = await load(message.module, message.name);
  if (typeof fn !== 'function') {
    endTurn();
    post({ type: 'done', id: task.id, ok: false, failure: fn.failure, error: fn.message });
    return;
  }
  try {
    outcome = { ok: true, value: await fn(...message.args) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (current === task) endTurn();
  finish(task.id, outcome);
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'run') {
    void run(message);
    return;
  }
  const entry = setAside.get(message.id);
  if (!entry) return;
  setAside.delete(message.id);
  beginTurn(entry.task);
  entry.task.cancelled ||= message.cancelled;
  if (entry.task.cancelled) entry.reject(cancelError(entry.task));
  else entry.resolve();
});
