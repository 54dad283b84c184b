// Scripted abuse of a pool's lifecycle: calls after close, close from inside a call (an options
// getter, a read's function), close with fixes pending and pages fixed, views moved away with a
// transfer, pools dropped to the garbage collector with pages fixed, and worker threads that
// open pools and are terminated in the middle of async fixes.
import { Worker } from 'node:worker_threads';
import { type CaseTable, scenario } from '@dbos/hostile';
import { BufferPool, type Page } from '../../src/index.js';
import { PAGES, type Target, setup, teardown } from './target.js';

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A broken promise of the API: a plain Error, which the harness reports as a failure. */
function broken(message: string): Error {
  return new Error(message);
}

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
  'a closed pool: every call is DBOS_ECLOSED, every view is detached': scenario(() =>
    withTarget(async ({ pool, kept }) => {
      const views = kept.map((page) => page.data);
      await Promise.all([pool.close(), pool.close()]);
      if (views.some((view) => view.length !== 0)) throw broken('a view survived close()');
      const calls: [string, () => unknown][] = [
        ['fixShared', () => pool.fixShared(3)],
        ['fixExclusive', () => pool.fixExclusive(3)],
        ['fixMany', () => pool.fixMany([3, 4])],
        ['read', () => pool.read(3, () => 0)],
        ['prefetch', () => pool.prefetch([3])],
        ['allocate', () => pool.allocate()],
        ['free', () => pool.free(3)],
        ['stats', () => pool.stats()],
        ['unfix', () => pool.unfix(kept[0] as Page)],
        ['page.data', () => kept[0]?.data],
      ];
      for (const [name, fn] of calls) {
        const code = codeOf(fn);
        if (code !== 'DBOS_ECLOSED') throw broken(`${name} after close(): ${code ?? 'no error'}`);
      }
      for (const [name, promise] of [
        ['fix', pool.fix(3)],
        ['fixManyAsync', pool.fixManyAsync([3])],
        ['flush', pool.flush()],
      ] as const) {
        const code = await codeOfAsync(promise);
        if (code !== 'DBOS_ECLOSED') throw broken(`${name} after close(): ${code ?? 'no error'}`);
      }
    }),
  ),

  'close() from inside a call: an options getter, a pid list, a read function': scenario((random) =>
    withTarget(async ({ pool }) => {
      const which = Math.floor(random() * 4);
      let outcome: string | undefined;
      if (which === 0) {
        const page = pool.fixExclusive(5);
        const view = page.data;
        outcome = codeOf(() =>
          pool.unfix(page, {
            get dirty() {
              void pool.close();
              return true;
            },
          }),
        );
        if (view.length !== 0) throw broken('the view outlived unfix during close');
      } else if (which === 1) {
        const pids = [3, 4, 5];
        Object.defineProperty(pids, 1, {
          get() {
            void pool.close();
            return 4;
          },
        });
        outcome = codeOf(() => pool.fixMany(pids));
      } else if (which === 2) {
        let kept: Uint8Array | undefined;
        outcome = codeOf(() =>
          pool.read(6, (data) => {
            void pool.close();
            kept = data;
            return data[0];
          }),
        );
        if (kept && kept.length !== 0) throw broken('an optimistic view outlived its read');
      } else {
        const pending = pool.fix(7);
        void pool.close();
        outcome = await codeOfAsync(pending);
      }
      if (outcome !== undefined && outcome !== 'DBOS_ECLOSED') throw broken(`close inside a call: ${outcome}`);
      await pool.close();
      if (!pool.closed) throw broken('the pool did not close');
    }),
  ),

  'close() with async fixes and a flush in flight': scenario((random) =>
    withTarget(async ({ pool }) => {
      const fixes = Array.from({ length: 1 + Math.floor(random() * 30) }, (_, i) =>
        pool.fix(1 + ((i * 7) % PAGES), i % 3 === 0 ? 'exclusive' : 'shared'),
      );
      const flush = pool.flush();
      const held = pool.fixExclusive(PAGES); // close() releases it
      const settled = Promise.allSettled([...fixes, flush]);
      if (random() < 0.5) await tick(Math.floor(random() * 5));
      await pool.close();
      for (const outcome of await settled) {
        if (
          outcome.status === 'rejected' &&
          (outcome.reason as { code?: unknown }).code !== 'DBOS_ECLOSED' &&
          (outcome.reason as { code?: unknown }).code !== 'DBOS_EBUSY'
        ) {
          throw outcome.reason;
        }
        if (outcome.status === 'fulfilled' && outcome.value && (outcome.value as Page).fixed) throw broken('a page outlived close()');
      }
      if (held.fixed) throw broken('close() left a page fixed');
    }),
  ),

  'a view moved away (structuredClone transfer): no crash, the page stays safe': scenario(() =>
    withTarget(async ({ pool }) => {
      const page = pool.fixShared(9);
      const buffer = page.data.buffer as ArrayBuffer;
      let moved: ArrayBuffer | undefined;
      const transfer = (buffer as { transfer?: () => ArrayBuffer }).transfer;
      try {
        // Node 22+: transfer() moves the memory into a new buffer (ours is found detached, escaped);
        // Node 20: structuredClone copies an external buffer.
        moved = typeof transfer === 'function' ? transfer.call(buffer) : structuredClone(buffer, { transfer: [buffer] });
      } catch (error) {
        if (!(error instanceof Error)) throw error; // refused on this Node: nothing moved
      }
      const code = codeOf(() => page.release());
      if (code !== undefined && code !== 'DBOS_EBUSY') throw broken(`release after transfer: ${code}`);
      if (moved) new Uint8Array(moved).fill(1); // whatever it points at must still be mapped
      const closing = await codeOfAsync(pool.close());
      if (closing !== undefined && closing !== 'DBOS_EBUSY') throw broken(`close after transfer: ${closing}`);
      if (moved) new Uint8Array(moved).fill(2);
    }),
  ),

  'pools dropped without close(), with and without fixed pages, then collected': scenario(async (random) => {
    await withTarget(async ({ file }) => {
      for (let i = 0; i < 4; i++) {
        const pool = BufferPool.open(file, { poolBytes: 2 ** 20, readOnly: true });
        if (random() < 0.5) pool.fixShared(1 + i); // kept fixed forever: the pool must leak, not unmap
        const view = random() < 0.5 ? pool.fixShared(20).data : null;
        gc();
        await tick();
        gc();
        if (view && view.length > 0) view[0] = view[0] ?? 0;
      }
    });
  }),

  'worker threads open pools and are terminated during async fixes': scenario(async (random) => {
    await withTarget(async ({ file, pool: writer }) => {
      // One pool per file: the writer lets go so the worker's read-only pool may open it.
      await writer.close();
      const source = `
        const { parentPort, workerData } = require('node:worker_threads');
        import(workerData.module).then(async ({ BufferPool }) => {
          const pool = BufferPool.open(workerData.file, { poolBytes: 1 << 20, readOnly: true });
          parentPort.postMessage('open');
          for (;;) {
            const pages = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((pid) => pool.fix(pid + (Date.now() % 30))));
            for (const page of pages) page.release();
          }
        });`;
      const module = new URL('../../dist/index.js', import.meta.url).href;
      const worker = new Worker(source, { eval: true, workerData: { file, module } });
      await new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
      });
      await tick(Math.floor(random() * 20));
      await worker.terminate();
    });
  }),
} satisfies CaseTable;
