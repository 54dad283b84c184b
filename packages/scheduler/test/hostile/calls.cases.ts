// Every public call of @dbos/scheduler under hostile arguments. Each case works on one pool of two
// workers over the fixture module; every call's promise is awaited by the harness, so a task that
// settles with an uncoded error (other than the task function's own) fails the case.
import fc from 'fast-check';
import { type CaseTable, call, hostileBuffer, hostileNumber, hostileValue } from '@dbos/hostile';
import { callNative } from '@dbos/platform';
import { TaskPool, currentTask, shouldYield, yieldNow } from '../../src/index.js';
import { addon } from '../../src/native.js';
import { TASKS } from '../helpers.js';
import { callArgument, closeOptions, poolOptions, taskIdArgument, taskOptions } from './values.js';

function setup(): TaskPool {
  return new TaskPool({ module: TASKS, size: 2 });
}

async function teardown(target: unknown): Promise<void> {
  const pool = target as TaskPool;
  await pool.close({ mode: 'cancel' });
  const stats = pool.stats();
  if (stats.workers !== 0 || stats.running !== 0) throw new Error(`close left ${stats.workers} workers, ${stats.running} running`);
}

const lifecycle = { setup, teardown };

/** Stats must stay consistent whatever the calls did. */
function checkStats(pool: TaskPool): void {
  const stats = pool.stats();
  const counts = [stats.running, stats.setAside, stats.queued.latency, stats.queued.normal, stats.queued.background, stats.submitted];
  if (counts.some((count) => !Number.isInteger(count) || count < 0)) throw new Error(`stats out of shape: ${JSON.stringify(stats)}`);
  if (stats.running > stats.size) throw new Error(`${stats.running} running on ${stats.size} workers`);
}

export default {
  'new TaskPool(options)': call([poolOptions], async (_target, options) => {
    const pool = new TaskPool(options as never);
    await pool.close({ mode: 'cancel' });
  }),

  'pool.submit(call, options): the handle, then its result': call(
    [callArgument, taskOptions],
    async (target, what, options) => {
      const pool = target as TaskPool;
      const handle = pool.submit(what as never, options as never);
      if (!Number.isInteger(handle.id) || handle.id <= 0) throw new Error(`task id ${handle.id}`);
      try {
        await handle.result;
      } finally {
        checkStats(pool);
      }
    },
    lifecycle,
  ),

  'pool.run(call, options)': call(
    [callArgument, taskOptions],
    (target, what, options) => (target as TaskPool).run(what as never, options as never),
    lifecycle,
  ),

  'pool.terminate(taskId) with tasks queued and running': call(
    [taskIdArgument, fc.integer({ min: 0, max: 3 })],
    async (target, taskId, queued) => {
      const pool = target as TaskPool;
      const results = Array.from({ length: queued }, () => pool.run({ name: 'untilCancelled', args: [20] }).catch(() => 'settled'));
      pool.terminate(taskId as number);
      await Promise.all(results);
      checkStats(pool);
    },
    lifecycle,
  ),

  'handle.cancel() and handle.terminate() at any point of a task': call(
    [fc.constantFrom('cancel', 'terminate'), fc.integer({ min: 0, max: 4 }), callArgument],
    async (target, how, delayMs, what) => {
      const pool = target as TaskPool;
      const handle = pool.submit({ name: 'untilCancelled', args: [200] });
      let other: Promise<unknown> = Promise.resolve();
      try {
        other = pool.run(what as never).catch((error: unknown) => error);
      } catch {
        // refused synchronously: a coded error, checked by the case below
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (how === 'cancel') handle.cancel();
      else handle.terminate();
      await handle.result.catch(() => undefined);
      await other;
      checkStats(pool);
    },
    lifecycle,
  ),

  'pool.close(options) with tasks in flight': call([closeOptions, fc.integer({ min: 0, max: 3 })], async (_target, options, tasks) => {
    const pool = new TaskPool({ module: TASKS, size: 1 });
    const results = Array.from({ length: tasks }, () => pool.run({ name: 'untilCancelled', args: [30] }).catch(() => 'settled'));
    try {
      await pool.close(options as never);
    } finally {
      await pool.close({ mode: 'cancel' });
      await Promise.all(results);
    }
  }),

  'pool.stats() and the getters': call(
    [hostileValue()],
    (target, argument) => {
      const pool = target as TaskPool;
      (pool.stats as (value: unknown) => unknown)(argument);
      if (pool.size !== 2 || pool.closed || pool.quantumUs !== 1000) throw new Error('getters changed');
    },
    lifecycle,
  ),

  // Not public, but one hostile argument away from a native pointer: the binding must refuse.
  "the addon's NativeTaskTimer(words, slotCount, quantumUs)": call(
    [
      fc.oneof(
        fc.integer({ min: 0, max: 80 }).map((words) => new Int32Array(new SharedArrayBuffer(words * 4))),
        fc.integer({ min: 0, max: 8 }).map((words) => new Int32Array(new SharedArrayBuffer(64 + words * 4), 4 * words)),
        hostileBuffer(256),
        hostileValue(),
      ),
      fc.oneof(fc.integer({ min: 0, max: 300 }), hostileNumber(), hostileValue()),
      fc.oneof(fc.constantFrom(0, 49, 50, 1000, 100_000, 100_001, 2 ** 32 + 50), hostileNumber(), hostileValue()),
    ],
    (_target, words, slotCount, quantumUs) => {
      // As the pool calls it: through @dbos/platform's one conversion of native errors.
      const timer = callNative(() => new addon.NativeTaskTimer(words as Int32Array, slotCount as number, quantumUs as number));
      timer.activate(true);
      timer.stats();
      timer.stop();
      timer.stop();
    },
  ),

  'shouldYield(), yieldNow(), currentTask() outside a task': call([hostileValue()], async (_target, argument) => {
    if ((shouldYield as (value: unknown) => boolean)(argument) !== false) throw new Error('shouldYield() true outside a task');
    await (yieldNow as (value: unknown) => Promise<void>)(argument);
    if ((currentTask as (value: unknown) => unknown)(argument) !== null) throw new Error('a current task outside a task');
  }),
} satisfies CaseTable;
