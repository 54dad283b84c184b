// @dbos/hypercall in worker threads: used there like on the main thread, and a worker terminated or
// exiting with async batches and guest calls in flight: each completion then finds its environment
// gone, which must end nothing but the worker, and quickly (a guest spinning for a minute included).
// Workers start a TypeScript loader each: these scenarios run fewer times than the others.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { scenario, type CaseTable } from '@dbos/hostile';
import { probe } from '@dbos/platform';
import type { GatewayBackend } from '../../src/gateway.js';
import { expectThat, feedFifo, fixture, guestRuns, sleep } from './support.js';
import type { WorkerTask } from './worker.js';

const backends: GatewayBackend[] = probe().ioUring.available ? ['io_uring', 'threads'] : ['threads'];
const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const CODE = /^(DBOS_E[A-Z]+|E[A-Z0-9]+)$/;

const workerModule = fileURLToPath(new URL('./worker.ts', import.meta.url));
const tsxApi = import.meta.resolve('tsx/esm/api');

/** Run `task` in a worker; resolves once it posted 'started' or 'done'. An error it posts must be coded. */
async function startWorker(
  task: WorkerTask['task'],
  backend: GatewayBackend,
  fifo: boolean,
): Promise<{ worker: Worker; message: unknown }> {
  const files = fixture();
  const workerData: WorkerTask = {
    task,
    backend,
    fifo,
    data: files.data,
    fifoPath: path.join(files.dir, 'fifo'),
    image: (await import('../guest-image.js')).testImagePath,
  };
  // The TypeScript loader is registered in the worker itself: the parent's --import does not reach it.
  const body = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(`file://${workerModule}`)}); })`;
  const worker = new Worker(body, { eval: true, workerData });
  return new Promise((resolve, reject) => {
    worker.once('message', (message: unknown) => {
      const failure = message as { error?: string; code?: unknown };
      if (typeof message === 'object' && message !== null && 'error' in failure) {
        void worker.terminate();
        if (typeof failure.code === 'string' && CODE.test(failure.code)) resolve({ worker, message });
        else reject(new Error(`${task} in a worker failed without a code: ${failure.error}`));
        return;
      }
      resolve({ worker, message });
    });
    worker.once('error', (error) => reject(new Error(`${task}: the worker died: ${String(error)}`)));
  });
}

export default {
  // Once 'terminate called after throwing an instance of Napi::Error': a completion delivered while the worker's environment tore down.
  'worker.terminate() with async batches in flight': scenario(async (random) => {
    const backend = pick(random, backends);
    const { worker } = await startWorker('batches', backend, random() < 0.08);
    await sleep(Math.floor(random() * 6));
    await worker.terminate();
    feedFifo();
  }),
  // Once a hang: ending the worker's environment waited for the guest call, which spins for a minute.
  'worker.terminate() with a guest call running': scenario(async (random) => {
    if (!guestRuns()) return;
    const { worker } = await startWorker('guest-call', 'threads', false);
    await sleep(Math.floor(random() * 6));
    const started = Date.now();
    await worker.terminate();
    expectThat(Date.now() - started < 5000, `terminate to end the guest call, took ${Date.now() - started} ms`);
  }),
  'a worker exits with batches and a guest call in flight': scenario(async (random) => {
    const { worker } = await startWorker('exit', pick(random, backends), false);
    await new Promise((resolve) => worker.once('exit', resolve));
  }),
  'Gateway and Guest used from a worker thread': scenario(async (random) => {
    const { worker, message } = await startWorker('use', pick(random, backends), false);
    expectThat(message === 'done', `the worker finished (${JSON.stringify(message)})`);
    await worker.terminate();
  }),
} satisfies CaseTable;
