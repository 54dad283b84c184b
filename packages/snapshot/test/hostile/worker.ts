// The body of the worker threads in threads.cases.ts: it uses @dbos/snapshot in a worker, tells the
// parent when an operation is in flight ('started') and, for `use`, when all went well ('done').
// Any error is posted as `{ error, code }` for the parent to check against the contract.
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { PAGE_SIZE, verifyImage } from '../../src/index.js';
import type { SnapshotMechanism } from '../../src/index.js';
import * as writers from '../support/writers.js';
import { openSpace } from './support.js';

export interface WorkerTask {
  task: 'use' | 'writeTo' | 'load' | 'verify' | 'writers' | 'exit';
  mechanism: SnapshotMechanism;
  dir: string;
}

const { task, mechanism, dir } = workerData as WorkerTask;
const SIZE = 4 << 20;
const post = (message: unknown) => parentPort!.postMessage(message);

async function image(name: string): Promise<string> {
  const file = path.join(dir, `${name}-${process.pid}-${Math.random().toString(36).slice(2)}.img`);
  const space = openSpace(mechanism, SIZE);
  space.write(0, new Uint8Array(SIZE).fill(5));
  const snapshot = space.snapshot();
  await snapshot.writeTo(file);
  snapshot.release();
  space.close();
  return file;
}

async function main(): Promise<void> {
  switch (task) {
    case 'use': {
      const file = await image('use');
      await verifyImage(file);
      const space = openSpace(mechanism, SIZE);
      await space.load(file);
      const snapshot = space.snapshot();
      if (snapshot.readPage(3)[9] !== 5) throw new Error('a worker read the wrong bytes');
      snapshot.release();
      space.close();
      fs.rmSync(file);
      post('done');
      return;
    }
    case 'writeTo': {
      const space = openSpace(mechanism, SIZE);
      const writing = space
        .snapshot()
        .writeTo(path.join(dir, `w-${Math.random()}.img`), { onProgress: () => {}, progressIntervalBytes: 1 });
      post('started');
      await writing;
      return;
    }
    case 'load': {
      const file = await image('load');
      const loading = openSpace(mechanism, SIZE).load(file);
      post('started');
      await loading;
      return;
    }
    case 'verify': {
      const checking = verifyImage(await image('verify'));
      post('started');
      await checking;
      return;
    }
    case 'writers': {
      const space = openSpace(mechanism, 256 * PAGE_SIZE);
      writers.fill(space);
      writers.startWriters(space, { writers: 2 });
      space.snapshot();
      const writing = space.snapshot().writeTo(path.join(dir, `n-${Math.random()}.img`));
      post('started');
      await writing;
      return;
    }
    case 'exit': {
      const space = openSpace(mechanism, SIZE);
      space.snapshot();
      void space.snapshot().writeTo(path.join(dir, `x-${Math.random()}.img`));
      post('started');
      process.exit(0); // in a worker: ends this thread with the write in flight
    }
  }
}

main().catch((error: unknown) => post({ error: String(error), code: (error as { code?: unknown })?.code ?? null }));
