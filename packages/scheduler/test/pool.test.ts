// TaskPool end to end: results and errors, priority order, the native timer's yield flag,
// yieldNow(), aging, cancellation, deadlines, tasks that never yield, close.
import { DbosError } from '@dbos/platform';
import { afterEach, expect, test } from 'vitest';
import { type HardLimitReport, TaskPool } from '../src/index.js';
import { Gate, Log, TASKS, codeOf, rejection, waitFor } from './helpers.js';

const pools: TaskPool[] = [];

function pool(options: ConstructorParameters<typeof TaskPool>[0] = {}): TaskPool {
  const made = new TaskPool({ module: TASKS, ...options });
  pools.push(made);
  return made;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((made) => made.close({ mode: 'cancel' })));
});

/** A pool of one worker, started and warm (module loaded), so timings start at the task. */
async function warmPool(options: ConstructorParameters<typeof TaskPool>[0] = {}): Promise<TaskPool> {
  const made = pool({ size: 1, ...options });
  await made.run({ name: 'noop' });
  return made;
}

test('runs exported functions with cloned arguments and returns their values', async () => {
  const tasks = pool({ size: 2 });
  expect(await tasks.run({ name: 'add', args: [2, 3] })).toBe(5);
  expect(await tasks.run({ args: [{ deep: [1, 'two', new Map([[3, 4]])] }] })).toEqual({ deep: [1, 'two', new Map([[3, 4]])] });
  expect(await tasks.run({ module: TASKS.href, name: 'add', args: [1n, 2n] })).toBe(3n);
  // A SharedArrayBuffer is shared, not copied: the task's stamp is visible here.
  const log = new Log();
  expect(await tasks.run({ name: 'stamp', args: [log.buffer, 7] })).toBe(1);
  expect(log.tags()).toEqual([7]);
  const info = (await tasks.run({ name: 'info' }, { priority: 'background' })) as { id: number; priority: string };
  expect(info.priority).toBe('background');
  const handle = tasks.submit({ name: 'info' }, { priority: 'latency' });
  expect(await handle.result).toEqual({ id: handle.id, priority: 'latency' });
});

test('priority order: with the worker busy, queued tasks run latency, then normal, then background', async () => {
  const tasks = pool({ size: 1 });
  const gate = new Gate();
  const blocked = tasks.run({ name: 'block', args: [gate.buffer] });
  await waitFor(() => gate.arrived === 1, 10_000, 'the worker to block');
  const log = new Log();
  const order: [string, number][] = [
    ['background', 31],
    ['normal', 21],
    ['latency', 11],
    ['normal', 22],
    ['background', 32],
    ['latency', 12],
  ];
  const done = order.map(([priority, tag]) => tasks.run({ name: 'stamp', args: [log.buffer, tag] }, { priority: priority as 'normal' }));
  expect(tasks.stats().queued).toEqual({ latency: 2, normal: 2, background: 2 });
  gate.open();
  await Promise.all([blocked, ...done]);
  expect(log.tags()).toEqual([11, 12, 21, 22, 31, 32]);
});

test('the native timer raises shouldYield() while a task of the same priority waits, and only then', async () => {
  // (Aging off for the test's duration: an aged background task counts as latency.)
  const tasks = await warmPool({ quantumUs: 1000, agingMs: 60_000 });
  // Alone: 100 quanta pass without the flag.
  const alone = (await tasks.run({ name: 'spinUntilFlag', args: [100] })) as { flagged: boolean };
  expect(alone.flagged).toBe(false);
  // Only less urgent work waiting: a latency task is never asked to yield for a background one.
  const started = new SharedArrayBuffer(4);
  const latency = tasks.run({ name: 'spinUntilFlag', args: [150, started] }, { priority: 'latency' });
  await waitFor(() => Atomics.load(new Int32Array(started), 0) === 1);
  const background = tasks.run({ name: 'noop' }, { priority: 'background' });
  expect(((await latency) as { flagged: boolean }).flagged).toBe(false);
  await background;
  // Work of the same class waiting: the flag goes up within a generous bound (a quantum is 1 ms).
  const before = tasks.stats().yieldsRequested;
  const started2 = new SharedArrayBuffer(4);
  const spinning = tasks.run({ name: 'spinUntilFlag', args: [10_000, started2] });
  await waitFor(() => Atomics.load(new Int32Array(started2), 0) === 1);
  const waitingSince = performance.timeOrigin + performance.now();
  const waiting = tasks.run({ name: 'noop' });
  const result = (await spinning) as { flagged: boolean; at: number };
  await waiting;
  expect(result.flagged).toBe(true);
  expect(result.at - waitingSince).toBeLessThan(1000);
  expect(tasks.stats().yieldsRequested).toBeGreaterThan(before);
});

test('a more urgent arrival with every worker busy flags the least urgent turn at once', async () => {
  // A quantum of 100 ms: a flag within it can only be the pool's, not the timer's.
  const tasks = await warmPool({ quantumUs: 100_000, agingMs: 60_000 });
  const started = new SharedArrayBuffer(4);
  const background = tasks.run({ name: 'spinUntilFlag', args: [5_000, started] }, { priority: 'background' });
  await waitFor(() => Atomics.load(new Int32Array(started), 0) === 1);
  const sentAt = performance.timeOrigin + performance.now();
  const urgent = tasks.run({ name: 'noop' }, { priority: 'latency' });
  const result = (await background) as { flagged: boolean; at: number };
  await urgent;
  expect(result.flagged).toBe(true);
  expect(result.at - sentAt).toBeLessThan(5_000);
  expect(tasks.stats().urgentFlags).toBe(1);
  // The same class arriving waits for the quantum instead: no flag from the pool.
  const started2 = new SharedArrayBuffer(4);
  const normal = tasks.run({ name: 'spinUntilFlag', args: [50, started2] });
  await waitFor(() => Atomics.load(new Int32Array(started2), 0) === 1);
  const same = tasks.run({ name: 'noop' });
  expect(((await normal) as { flagged: boolean }).flagged).toBe(false);
  await same;
  expect(tasks.stats().urgentFlags).toBe(1);
});

test('await yieldNow() sets a long task aside so a latency task runs on its worker', async () => {
  const tasks = await warmPool();
  const log = new Log();
  const long = tasks.run({ name: 'cooperative', args: [400, log.buffer, 1] });
  await waitFor(() => tasks.stats().running === 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const urgent = tasks.run({ name: 'stamp', args: [log.buffer, 2] }, { priority: 'latency' });
  await urgent;
  expect(log.tags()).toEqual([2]); // the long task has not finished when the latency one did
  expect(await long).toBeGreaterThanOrEqual(1);
  expect(log.tags()).toEqual([2, 1]);
  expect(tasks.stats().yieldsTaken).toBeGreaterThanOrEqual(1);
});

test('equal priorities take turns: two cooperative tasks on one worker both yield', async () => {
  const tasks = await warmPool({ quantumUs: 1000 });
  const [first, second] = await Promise.all([
    tasks.run({ name: 'cooperative', args: [150] }),
    tasks.run({ name: 'cooperative', args: [150] }),
  ]);
  expect(first).toBeGreaterThanOrEqual(1);
  expect(second).toBeGreaterThanOrEqual(1);
});

test('aging: a background task that waited agingMs runs before latency tasks that arrived after it', async () => {
  for (const [agingMs, backgroundAt] of [
    [50, 0],
    [60_000, 10],
  ] as const) {
    const tasks = pool({ size: 1, agingMs });
    const gate = new Gate();
    const blocked = tasks.run({ name: 'block', args: [gate.buffer] });
    await waitFor(() => gate.arrived === 1);
    const log = new Log();
    const background = tasks.run({ name: 'stamp', args: [log.buffer, 99] }, { priority: 'background' });
    const latency = Array.from({ length: 10 }, (_, i) => tasks.run({ name: 'stamp', args: [log.buffer, i] }, { priority: 'latency' }));
    await new Promise((resolve) => setTimeout(resolve, 120)); // every queued task is older than 50 ms now
    gate.open();
    await Promise.all([blocked, background, ...latency]);
    expect(log.tags().indexOf(99), `agingMs ${agingMs}`).toBe(backgroundAt);
  }
});

test('cancellation: a queued task never runs; a running one is told and unwinds at its next yield point', async () => {
  const tasks = pool({ size: 1 });
  const gate = new Gate();
  const blocked = tasks.run({ name: 'block', args: [gate.buffer] });
  await waitFor(() => gate.arrived === 1);
  const log = new Log();
  const controller = new AbortController();
  const queued = tasks.run({ name: 'stamp', args: [log.buffer, 5] }, { signal: controller.signal });
  controller.abort(new Error('no longer needed'));
  const error = await rejection(queued);
  expect(error).toBeInstanceOf(DbosError);
  expect(codeOf(error)).toBe('ECANCELED');
  expect((error as Error).cause).toBeInstanceOf(Error);
  // An already aborted signal: rejected at once.
  expect(codeOf(await rejection(tasks.run({ name: 'noop' }, { signal: AbortSignal.abort() })))).toBe('ECANCELED');
  gate.open();
  await blocked;
  expect(log.tags()).toEqual([]);
  // Running: rejected at once; the task sees shouldYield() and its yieldNow() throws.
  const running = new AbortController();
  const spinning = tasks.submit({ name: 'untilCancelled', args: [30_000] }, { signal: running.signal });
  await waitFor(() => tasks.stats().running === 1);
  running.abort();
  expect(codeOf(await rejection(spinning.result))).toBe('ECANCELED');
  expect(spinning.cancel()).toBe(false); // already settled
  // The worker is free again once the task unwound.
  expect(await tasks.run({ name: 'add', args: [1, 1] })).toBe(2);
  expect(tasks.stats().cancelled).toBe(3);
});

test('a task cancelled while set aside is resumed first, and unwinds at its yieldNow()', async () => {
  const tasks = await warmPool();
  const log = new Log();
  const aside = tasks.submit({ name: 'untilCancelledLogged', args: [30_000, log.buffer, 1] });
  await waitFor(() => tasks.stats().running === 1);
  // A latency task takes the worker: the first task is set aside at its next yield point.
  const urgent = tasks.run({ name: 'cooperative', args: [400, log.buffer, 2] }, { priority: 'latency' });
  await waitFor(() => tasks.stats().setAside === 1);
  aside.cancel();
  expect(codeOf(await rejection(aside.result))).toBe('ECANCELED');
  // The cancelled task ranks first: the latency task is asked to yield, the cancelled one
  // resumes, its yieldNow() throws, it unwinds; then the latency task finishes.
  expect(await urgent).toBeGreaterThanOrEqual(1);
  expect(log.tags()).toEqual([1, 2]);
  expect(tasks.stats()).toMatchObject({ setAside: 0, running: 0 });
});

test('one signal over many tasks: one listener, every task cancelled by one abort', async () => {
  const tasks = pool({ size: 1 });
  const gate = new Gate();
  const blocked = tasks.run({ name: 'block', args: [gate.buffer] });
  await waitFor(() => gate.arrived === 1);
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  process.on('warning', onWarning);
  try {
    const controller = new AbortController();
    const results = Array.from({ length: 200 }, () => rejection(tasks.run({ name: 'noop' }, { signal: controller.signal })));
    controller.abort();
    for (const error of await Promise.all(results)) expect(codeOf(error)).toBe('ECANCELED');
    // Tasks that settle normally take their share of the listener away with them.
    const later = new AbortController();
    gate.open();
    await blocked;
    await Promise.all(Array.from({ length: 50 }, () => tasks.run({ name: 'noop' }, { signal: later.signal })));
    later.abort(); // nothing left to cancel
    await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    process.off('warning', onWarning);
  }
  expect(warnings.map((warning) => warning.name)).not.toContain('MaxListenersExceededWarning');
  expect(tasks.stats().cancelled).toBe(200);
});

test('deadlines: a task not finished by deadlineMs rejects with DBOS_ETIMEDOUT, queued or running', async () => {
  const tasks = pool({ size: 1 });
  const gate = new Gate();
  const blocked = tasks.run({ name: 'block', args: [gate.buffer] });
  await waitFor(() => gate.arrived === 1);
  const queued = rejection(tasks.run({ name: 'noop' }, { deadlineMs: 30 }));
  expect(codeOf(await queued)).toBe('DBOS_ETIMEDOUT');
  gate.open();
  await blocked;
  const running = await rejection(tasks.run({ name: 'untilCancelled', args: [30_000] }, { deadlineMs: 50 }));
  expect(running).toBeInstanceOf(DbosError);
  expect(codeOf(running)).toBe('DBOS_ETIMEDOUT');
  expect(await tasks.run({ name: 'add', args: [2, 2] }, { deadlineMs: 10_000 })).toBe(4);
});

test('throwing tasks reject with their own error (class, message, code kept)', async () => {
  const tasks = pool({ size: 1 });
  const error = await rejection(tasks.run({ name: 'fail', args: ['boom', 'E_APP'] }));
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).toBe('boom');
  expect(codeOf(error)).toBe('E_APP');
  const range = await rejection(tasks.run({ name: 'rejectLater', args: ['late'] }));
  expect(range).toBeInstanceOf(RangeError);
  expect(await rejection(tasks.run({ name: 'throwValue', args: [42] }))).toBe(42);
  expect(tasks.stats().completed).toBe(3);
});

test('a task that never yields is reported, then terminated; a fresh worker takes over', async () => {
  const reports: HardLimitReport[] = [];
  const tasks = pool({ size: 1, onHardLimit: (report) => reports.push(report) });
  await tasks.run({ name: 'noop' });
  // Alone, nothing asks it to yield: not reported (a long turn harms no one while nothing waits).
  const alone = tasks.submit({ name: 'spin', args: [80] }, { hardLimitMs: 20 });
  expect(await alone.result).toBe(80);
  expect(reports).toEqual([]);
  const runaway = tasks.submit({ name: 'forever' }, { hardLimitMs: 30, terminateAfterMs: 300 });
  const waiting = tasks.run({ name: 'add', args: [1, 1] }); // raises the runaway's flag
  const error = await rejection(runaway.result);
  expect(error).toBeInstanceOf(DbosError);
  expect(codeOf(error)).toBe('DBOS_ETIMEDOUT');
  expect(reports.map((report) => report.terminated)).toEqual([false, true]);
  expect(reports[0]).toMatchObject({ taskId: runaway.id, name: 'forever', priority: 'normal', limitMs: 30 });
  expect(reports[0]!.ranMs).toBeGreaterThanOrEqual(30);
  expect(reports[1]!.ranMs).toBeGreaterThanOrEqual(300);
  expect(await waiting).toBe(2); // ran on the fresh worker
  const stats = tasks.stats();
  expect(stats.hardLimitReports).toBe(1);
  expect(stats.terminations).toBe(1);
  expect(await tasks.run({ name: 'add', args: [3, 4] })).toBe(7);
});

test('terminate(id): a running task loses its worker, a queued one is cancelled, an unknown id is false', async () => {
  const tasks = pool({ size: 1 });
  const runaway = tasks.submit({ name: 'forever' });
  const queued = tasks.submit({ name: 'noop' });
  await waitFor(() => tasks.stats().running === 1);
  expect(queued.terminate()).toBe(true);
  expect(codeOf(await rejection(queued.result))).toBe('ECANCELED');
  expect(tasks.terminate(runaway.id)).toBe(true);
  expect(codeOf(await rejection(runaway.result))).toBe('ECANCELED');
  expect(tasks.terminate(runaway.id)).toBe(false);
  expect(tasks.terminate(123_456)).toBe(false);
  expect(await tasks.run({ name: 'add', args: [1, 2] })).toBe(3);
  expect(tasks.stats().terminations).toBe(1);
});

test('a worker that dies under its tasks: EOWNERDEAD for them, the pool goes on', async () => {
  const tasks = await warmPool();
  // A task set aside on the worker dies with it too.
  const aside = tasks.run({ name: 'cooperative', args: [2000] });
  await waitFor(() => tasks.stats().running === 1);
  const dying = tasks.run({ name: 'exitWorker', args: [7] });
  const [asideError, dyingError] = await Promise.all([rejection(aside), rejection(dying)]);
  expect(codeOf(dyingError)).toBe('EOWNERDEAD');
  expect(codeOf(asideError)).toBe('EOWNERDEAD');
  expect(tasks.stats().workerExits).toBe(1);
  expect(await tasks.run({ name: 'add', args: [5, 5] })).toBe(10);
});

test('close(): drain finishes every task, cancel rejects them; both stop every worker; idempotent', async () => {
  const draining = pool({ size: 2 });
  const results = Array.from({ length: 6 }, (_, i) => draining.run({ name: 'spin', args: [10 + i] }));
  const closed = draining.close();
  expect(draining.close()).toBe(closed);
  expect(draining.closed).toBe(true);
  await closed;
  expect(await Promise.all(results)).toEqual([10, 11, 12, 13, 14, 15]);
  expect(draining.stats()).toMatchObject({ workers: 0, running: 0, completed: 6 });
  expect(() => draining.submit({ name: 'noop' })).toThrow(DbosError);
  expect(codeOf(await rejection(draining.run({ name: 'noop' })))).toBe('DBOS_ECLOSED');

  const cancelling = pool({ size: 1 });
  const runaway = rejection(cancelling.run({ name: 'forever' }));
  const queued = rejection(cancelling.run({ name: 'noop' }));
  await waitFor(() => cancelling.stats().running === 1);
  const drain = cancelling.close();
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(cancelling.stats().running).toBe(1); // a drain waits for the runaway...
  await cancelling.close({ mode: 'cancel' }); // ...a cancel ends it
  await drain;
  expect(codeOf(await runaway)).toBe('DBOS_ECLOSED');
  expect(codeOf(await queued)).toBe('DBOS_ECLOSED');
  expect(cancelling.stats()).toMatchObject({ workers: 0, running: 0 });
});

test('100 000 tiny tasks all complete', async () => {
  const tasks = pool();
  const count = 100_000;
  const results: Promise<unknown>[] = new Array(count);
  for (let i = 0; i < count; i++) results[i] = tasks.run({ name: 'add', args: [i, 1] }, { priority: i % 7 === 0 ? 'latency' : 'normal' });
  const values = (await Promise.all(results)) as number[];
  let sum = 0;
  for (const value of values) sum += value;
  expect(sum).toBe((count * (count + 1)) / 2);
  expect(tasks.stats()).toMatchObject({ completed: count, running: 0, queued: { latency: 0, normal: 0, background: 0 } });
}, 60_000);
