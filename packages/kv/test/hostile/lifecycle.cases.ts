// Scripted abuse of a store's lifecycle: calls after close, close from inside a call (an options
// getter, a key's conversion), close with reads, iterations and a backup in flight, and stores
// and snapshots dropped to the garbage collector without close.
import { Worker } from 'node:worker_threads';
import { type CaseTable, scenario } from '@dbos/hostile';
import { open } from '../../src/index.js';
import { type Target, setup, teardown } from './target.js';

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof Error) || typeof (error as { code?: unknown }).code !== 'string') throw error;
    return (error as unknown as { code: string }).code;
  }
  return undefined;
}

async function codeOfAsync(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof Error) || typeof (error as { code?: unknown }).code !== 'string') throw error;
    return (error as unknown as { code: string }).code;
  }
  return undefined;
}

async function withTarget(body: (target: Target) => Promise<void> | void): Promise<void> {
  const target = await setup();
  try {
    await body(target);
  } finally {
    await teardown(target);
  }
}

export default {
  'a closed store: every call is DBOS_ECLOSED, and so are its snapshot and iteration': scenario(() =>
    withTarget(async ({ store, snapshot, iteration }) => {
      await Promise.all([store.close(), store.close()]);
      const calls: [string, () => unknown][] = [
        ['get', () => store.get('k1')],
        ['put', () => store.put('k1', 'x')],
        ['del', () => store.del('k1')],
        ['batch', () => store.batch([{ type: 'del', key: 'k1' }])],
        ['getManySync', () => store.getManySync(['k1'])],
        ['range', () => store.range()],
        ['snapshot', () => store.snapshot()],
        ['stats', () => store.stats()],
        ['snapshot.get', () => snapshot.get('k1')],
        [
          'iteration.next',
          () => {
            for (let i = 0; i < 100; i++) iteration.next();
          },
        ],
      ];
      for (const [name, fn] of calls) {
        const code = codeOf(fn);
        if (code !== 'DBOS_ECLOSED') throw new Error(`${name} after close(): ${code ?? 'no error'}`);
      }
      for (const [name, promise] of [
        ['getMany', store.getMany(['k1'])],
        ['checkpoint', store.checkpoint()],
        ['check', store.check()],
        ['backup', store.backup(`${store.path}-copy`)],
      ] as const) {
        const code = await codeOfAsync(promise);
        if (code !== 'DBOS_ECLOSED') throw new Error(`${name} after close(): ${code ?? 'no error'}`);
      }
    }),
  ),

  'close() from inside a call: an options getter, a key conversion': scenario(() =>
    withTarget(async ({ store }) => {
      const closing: Promise<void>[] = [];
      const options = {
        get sync() {
          closing.push(store.close());
          return true;
        },
      };
      const putCode = codeOf(() => store.put('k1', 'x', options));
      if (putCode !== 'DBOS_ECLOSED') throw new Error(`put after its options getter closed the store: ${putCode ?? 'no error'}`);
      await Promise.all(closing);
    }),
  ),

  'close() with reads, an async iteration and a backup in flight': scenario((random) =>
    withTarget(async ({ store, dir }) => {
      const reads = store.getMany(Array.from({ length: 200 }, (_, i) => `k${i % 40}`));
      const iterate = (async () => {
        let count = 0;
        for await (const _ of store.range()) count++;
        return count;
      })();
      const backup = store.backup(`${dir}/copy-${Math.floor(random() * 1e9)}`);
      const closed = store.close();
      const outcomes = await Promise.allSettled([reads, iterate, backup, closed]);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected' && typeof (outcome.reason as { code?: unknown })?.code !== 'string') throw outcome.reason;
      }
      if (outcomes[3]?.status !== 'fulfilled') throw new Error('close() failed with calls in flight');
    }),
  ),

  'stores, snapshots and iterations dropped to the garbage collector': scenario(() =>
    withTarget(async ({ dir }) => {
      for (let i = 0; i < 3; i++) {
        const store = open(`${dir}/dropped-${i}`);
        await store.put('a', 'b');
        store.snapshot();
        store.range()[Symbol.iterator]().next();
      }
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
      gc();
      // A store dropped with a write in flight is kept until its promise settles.
      const pending = ((): Promise<void> => open(`${dir}/dropped-writing`).put('a', 'b', { sync: true }))();
      gc();
      await pending;
    }),
  ),

  'worker threads open stores and are terminated mid-write, mid-read and mid-backup': scenario((random) =>
    withTarget(async ({ dir }) => {
      const storeDir = `${dir}/worker-${Math.floor(random() * 1e9)}`;
      const source = `
        const { parentPort, workerData } = require('node:worker_threads');
        import(workerData.module).then(async ({ open }) => {
          const store = open(workerData.dir, { sync: false });
          parentPort.postMessage('open');
          for (let round = 0; ; round++) {
            const writes = Array.from({ length: 50 }, (_, i) => store.put('k' + i, 'round ' + round));
            const reads = store.getMany(Array.from({ length: 100 }, (_, i) => 'k' + i));
            const scan = (async () => { for await (const _ of store.range()) {} })();
            const backup = round % 5 === 0 ? store.backup(workerData.dir + '-backup-' + round) : null;
            await Promise.all([...writes, reads, scan, backup]);
          }
        });`;
      const module = new URL('../../dist/index.js', import.meta.url).href;
      const worker = new Worker(source, { eval: true, workerData: { dir: storeDir, module } });
      await new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
      });
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 30)));
      await worker.terminate();
      // Whatever the worker left, the process goes on and other stores work.
      const other = open(`${dir}/after-worker`);
      await other.put('alive', 'yes');
      await other.close();
    }),
  ),
} satisfies CaseTable;
