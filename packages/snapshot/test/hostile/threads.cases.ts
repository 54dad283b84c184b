// @dbos/snapshot in worker threads: used there like on the main thread, and a worker terminated (or
// exiting) while an image streams or loads, a verify runs, or a C engine's writers run — each
// operation's completion then finds its environment gone, which must end nothing but the worker.
import { Worker } from 'node:worker_threads';
import { scenario, type CaseTable } from '@dbos/hostile';
import { MECHANISMS, expectThat, scratchDir } from './support.js';
import type { WorkerTask } from './worker.js';

const workerModule = new URL('./worker.ts', import.meta.url).href;
// Loader hooks are per thread here: the worker registers tsx itself before importing its TypeScript body.
const workerSource = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(workerModule)}); })`;
const CODE = /^(DBOS_E[A-Z]+|E[A-Z0-9]+)$/;

/**
 * Run `task` in a worker (the TypeScript loader comes with the inherited --import). Resolves with the
 * worker once it posted 'started' (or 'done'); an error it posts must be coded.
 */
function start(task: WorkerTask['task'], random: () => number): Promise<{ worker: Worker; message: unknown }> {
  const mechanism = MECHANISMS[Math.floor(random() * MECHANISMS.length)]!;
  const workerData: WorkerTask = { task, mechanism, dir: scratchDir() };
  const worker = new Worker(workerSource, { eval: true, workerData });
  return new Promise((resolve, reject) => {
    worker.once('message', (message: unknown) => {
      const failure = message as { error?: string; code?: unknown };
      if (typeof message === 'object' && message !== null && 'error' in failure) {
        void worker.terminate();
        if (typeof failure.code === 'string' && CODE.test(failure.code)) resolve({ worker, message });
        else reject(new Error(`${task} [${mechanism}] in a worker failed without a code: ${failure.error}`));
        return;
      }
      resolve({ worker, message });
    });
    worker.once('error', (error) => reject(new Error(`${task} [${mechanism}]: the worker died: ${String(error)}`)));
  });
}

/** Terminate a worker after 0–5 ms, with its operation in flight (or just finished). */
async function terminateMidway(task: WorkerTask['task'], random: () => number): Promise<void> {
  const { worker } = await start(task, random);
  await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 6)));
  await worker.terminate();
}

export default {
  'used from a worker thread': scenario(async (random) => {
    const { worker, message } = await start('use', random);
    expectThat(message === 'done' || typeof message === 'object', `the worker finished (${String(message)})`);
    await worker.terminate();
  }),
  'worker.terminate() while writeTo streams': scenario((random) => terminateMidway('writeTo', random)),
  'worker.terminate() while load runs': scenario((random) => terminateMidway('load', random)),
  'worker.terminate() while verifyImage runs': scenario((random) => terminateMidway('verify', random)),
  'worker.terminate() with a C engine writing and snapshots live': scenario((random) => terminateMidway('writers', random)),
  'a worker exits with a write in flight': scenario(async (random) => {
    const { worker } = await start('exit', random);
    await new Promise((resolve) => worker.once('exit', resolve));
  }),
} satisfies CaseTable;
