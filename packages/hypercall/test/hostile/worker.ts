// The body of the worker threads in lifecycle.cases.ts: it uses @dbos/hypercall in a worker and tells
// the parent when work is in flight ('started') or, for `use`, that all went well ('done'). Any error
// is posted as `{ error, code }` for the parent to check against the contract.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Gateway, type GatewayBackend } from '../../src/gateway.js';
import { Guest } from '../../src/guest.js';

export interface WorkerTask {
  task: 'batches' | 'guest-call' | 'use' | 'exit';
  backend: GatewayBackend;
  /** Also keep a read waiting on the FIFO (it ends only when the parent writes). */
  fifo: boolean;
  data: string;
  fifoPath: string;
  image: string;
}

const task = workerData as WorkerTask;
const post = (message: unknown) => parentPort!.postMessage(message);

/** Batches in flight: many reads of one data file on a one-thread pool (or ring), optionally one waiting on the FIFO. */
function startBatches(): Promise<unknown>[] {
  const gateway = new Gateway({ backend: task.backend, threads: 1, queueDepth: 8 });
  const fd = fs.openSync(task.data, 'r');
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 8; i++) {
    const positions = Float64Array.from({ length: 64 }, (_, k) => ((k * 7 + i) % 256) * 4096);
    pending.push(gateway.readBatch(fd, positions, 4096, Buffer.alloc(64 * 4096)));
    pending.push(
      gateway.submit([
        { op: 'pread', fd, buffer: Buffer.alloc(4096), position: i * 4096 },
        { op: 'statx', fd },
      ]),
    );
  }
  if (task.fifo) {
    const fifo = fs.openSync(task.fifoPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    pending.push(gateway.readBatch(fifo, [0], 4096, Buffer.alloc(4096)));
  }
  return pending;
}

async function main(): Promise<void> {
  switch (task.task) {
    case 'batches': {
      const pending = startBatches();
      post('started');
      await Promise.all(pending);
      return;
    }
    case 'guest-call': {
      const guest = Guest.start({ image: task.image, memory: 16 * 1024 * 1024 });
      const running = guest.run('spin_ns', [60e9]); // a minute of guest time: only stop or teardown ends it
      post('started');
      await running;
      return;
    }
    case 'use': {
      const gateway = new Gateway({ backend: task.backend });
      const fd = fs.openSync(task.data, 'r');
      const bytes = await gateway.readBatch(fd, [0, 4096], 4096, Buffer.alloc(8192));
      if (bytes[0] !== 4096 || bytes[1] !== 4096) throw new Error(`a worker's readBatch read ${bytes}`);
      await gateway.close();
      if (Guest.available().available) {
        const guest = Guest.start({ image: task.image, memory: 16 * 1024 * 1024 });
        const sum = await guest.run('add', [40, 2]);
        guest.stop();
        if (sum !== 42n) throw new Error(`a worker's guest computed ${sum}`);
      }
      post('done');
      return;
    }
    case 'exit': {
      startBatches();
      if (Guest.available().available)
        void Guest.start({ image: task.image, memory: 16 * 1024 * 1024 })
          .run('spin_ns', [60e9])
          .catch(() => {});
      post('started');
      process.exit(0); // in a worker: ends this thread with batches and a guest call in flight
    }
  }
}

main().catch((error: unknown) => post({ error: String(error), code: (error as { code?: unknown })?.code ?? null }));
