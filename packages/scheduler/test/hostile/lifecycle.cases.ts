// Scripted abuse of a TaskPool's lifecycle: close in either mode while tasks of every kind run
// (set aside, cancelled, runaway, dying), cancellation racing with dispatch and completion, pools
// dropped without close() and collected, and pools inside worker threads that are terminated
// mid-work (the native scan thread must be joined before the shared memory goes away).
import { Worker } from 'node:worker_threads';
import { scenario } from '@dbos/hostile';
import { TaskPool } from '../../src/index.js';
import { TASKS } from '../helpers.js';

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The worker threads load the built package (the test task builds it first). */
const distUrl = new URL('../../dist/index.js', import.meta.url).href;

/** A broken promise of the API: a plain Error, which the harness reports as a failure. */
function broken(message: string): Error {
  return new Error(message);
}

const CODES = new Set(['ECANCELED', 'EOWNERDEAD', 'DBOS_ECLOSED', 'DBOS_ETIMEDOUT']);

/** Every task of the mix settles with its value or one of the pool's codes. */
async function settleAll(results: Promise<unknown>[]): Promise<void> {
  for (const outcome of await Promise.allSettled(results)) {
    if (outcome.status === 'fulfilled') continue;
    const code = (outcome.reason as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !CODES.has(code)) throw broken(`a task rejected with ${String(outcome.reason)} (code ${String(code)})`);
  }
}

/** A mix of every kind of task, some with signals and limits that fire at random. */
function submitMix(pool: TaskPool, random: () => number, count: number): Promise<unknown>[] {
  const results: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const pick = random();
    const priority = (['latency', 'normal', 'background'] as const)[Math.floor(random() * 3)];
    const controller = new AbortController();
    if (random() < 0.2) setTimeout(() => controller.abort(), Math.floor(random() * 20));
    const options = { priority, signal: controller.signal, ...(random() < 0.2 ? { deadlineMs: 1 + Math.floor(random() * 30) } : {}) };
    if (pick < 0.3) results.push(pool.run({ name: 'cooperative', args: [Math.floor(random() * 30)] }, options));
    else if (pick < 0.5) results.push(pool.run({ name: 'add', args: [i, 1] }, options));
    else if (pick < 0.6) results.push(pool.run({ name: 'untilCancelled', args: [50] }, options));
    else if (pick < 0.7) results.push(pool.run({ name: 'forever' }, { ...options, terminateAfterMs: 20 + Math.floor(random() * 30) }));
    else if (pick < 0.75) results.push(pool.run({ name: 'exitWorker', args: [1] }, options));
    else if (pick < 0.85) {
      const handle = pool.submit({ name: 'spin', args: [Math.floor(random() * 5)] }, options);
      if (random() < 0.5) setTimeout(() => handle.terminate(), Math.floor(random() * 10));
      results.push(handle.result);
    } else results.push(pool.run({ name: 'noop' }, options));
  }
  for (const result of results) result.catch(() => undefined); // settled later, all at once
  return results;
}

export default {
  'close() in either mode while every kind of task is in flight; each task settles with a value or a pool code': scenario(
    async (random) => {
      const pool = new TaskPool({ module: TASKS, size: 1 + Math.floor(random() * 3), quantumUs: random() < 0.5 ? 50 : 1000, agingMs: 5 });
      const results = submitMix(pool, random, 5 + Math.floor(random() * 20));
      await tick(Math.floor(random() * 30));
      const mode = random() < 0.5 ? 'drain' : 'cancel';
      await pool.close({ mode });
      await settleAll(results);
      const stats = pool.stats();
      if (stats.workers !== 0 || stats.running !== 0 || stats.setAside !== 0)
        throw broken(`closed pool still holds work: ${JSON.stringify(stats)}`);
      await pool.close();
    },
  ),

  'a pool keeps its counts right through cancellations, terminations and dying workers': scenario(async (random) => {
    const pool = new TaskPool({ module: TASKS, size: 1 + Math.floor(random() * 2) });
    const results = submitMix(pool, random, 10 + Math.floor(random() * 20));
    await settleAll(results);
    await tick(5);
    const stats = pool.stats();
    const queued = stats.queued.latency + stats.queued.normal + stats.queued.background;
    if (queued !== 0) throw broken(`${queued} tasks still queued after every task settled`);
    if (stats.submitted !== results.length) throw broken(`submitted ${stats.submitted}, expected ${results.length}`);
    if (stats.completed + stats.cancelled !== results.length)
      throw broken(`completed ${stats.completed} + cancelled ${stats.cancelled} != ${results.length}`);
    // Still usable after all that.
    if ((await pool.run({ name: 'add', args: [2, 3] })) !== 5) throw broken('the pool answers wrong after the mix');
    await pool.close({ mode: random() < 0.5 ? 'drain' : 'cancel' });
  }),

  'pools dropped without close() and collected, with tasks in flight': scenario(async (random) => {
    for (let round = 0; round < 2; round++) {
      const pool = new TaskPool({ module: TASKS, size: 1, quantumUs: 50 });
      submitMix(pool, random, 4);
    }
    gc();
    await tick(10);
    gc();
  }),

  'pools inside worker threads, terminated in the middle of their tasks': scenario(async (random) => {
    const code = `
      import { workerData, parentPort } from 'node:worker_threads';
      const { TaskPool } = await import(workerData.dist);
      const pool = new TaskPool({ module: workerData.tasks, size: 2, quantumUs: 50 });
      parentPort.postMessage('started');
      for (let round = 0; !workerData.close || round < 3; round++) {
        await Promise.allSettled([
          pool.run({ name: 'cooperative', args: [5] }),
          pool.run({ name: 'spin', args: [1] }, { priority: 'latency' }),
          pool.run({ name: 'forever' }, { terminateAfterMs: 10 }),
        ]);
      }
      await pool.close({ mode: 'cancel' });
    `;
    const close = random() < 0.3;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), {
      workerData: { dist: distUrl, tasks: TASKS.href, close },
    });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    let failure: unknown;
    worker.on('error', (error) => {
      failure = error;
    });
    await new Promise<void>((resolve) => {
      worker.once('message', () => resolve());
      worker.once('exit', () => resolve());
    });
    await tick(Math.floor(random() * 40));
    if (!close || random() < 0.5) await worker.terminate();
    await exited;
    if (failure) throw broken(`the worker failed: ${String(failure)}`);
  }),
};
