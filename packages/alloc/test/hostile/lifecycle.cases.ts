// Scripted abuse of @dbos/alloc's lifecycle: closed handles, calls during close(), views kept
// after free, reset and close, buffers moved out of the pool's hands, worker threads (terminated
// mid-churn), and garbage collection of allocators and arenas with work pending.
import { Worker } from 'node:worker_threads';
import { type CaseTable, scenario } from '@dbos/hostile';
import { type Allocation, Allocator } from '../../src/index.js';

const MiB = 2 ** 20;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The worker threads load the built package (the test task builds it first). */
const distUrl = new URL('../../dist/index.js', import.meta.url).href;

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

/** Write and read back a view's first and last byte and every 4 KiB; a view over unmapped memory faults. */
function touch(view: ArrayBufferView): void {
  if (view.buffer.byteLength === 0) return; // detached: nothing left to reach
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  for (let at = 0; at < bytes.length; at += 4096) bytes[at] = ((bytes[at] ?? 0) + 1) & 0xff;
  if (bytes.length > 0) bytes[bytes.length - 1] = 1;
}

const views = ['shared', 'detach'] as const;

export default {
  'a closed allocator: every call is DBOS_ECLOSED, its arenas and allocations are dead': scenario((random) => {
    const allocator = new Allocator({ limitBytes: 4 * MiB, views: views[Math.floor(random() * 2)] });
    const arena = allocator.arena();
    const allocation = allocator.alloc(64);
    const arenaAllocation = arena.alloc(64);
    allocator.close();
    allocator.close();
    const calls: [string, () => unknown][] = [
      ['alloc', () => allocator.alloc(16)],
      ['allocArray', () => allocator.allocArray(Uint8Array, 4)],
      ['allocFloat64Array', () => allocator.allocFloat64Array(4)],
      ['free', () => allocator.free(allocation)],
      ['arena', () => allocator.arena()],
      ['stats', () => allocator.stats()],
      ['check', () => allocator.check()],
      ['trim', () => allocator.trim()],
      ['arena.alloc', () => arena.alloc(8)],
      ['arena.reset', () => arena.reset()],
      ['allocation.bytes', () => allocation.bytes],
      ['allocation.view', () => allocation.view()],
      ['allocation.array', () => allocation.array(Uint32Array)],
      ['arena allocation.bytes', () => arenaAllocation.bytes],
    ];
    for (const [name, fn] of calls) {
      const code = codeOf(fn);
      if (code !== 'DBOS_ECLOSED') throw broken(`${name} after close(): ${code ?? 'no error'}`);
    }
    arena.close();
    if (allocator.status !== 'closed' || arena.status !== 'closed' || allocation.live) throw broken('status after close()');
  }),

  'calls during close(): arguments whose reading closes the allocator': scenario((random) => {
    const allocator = new Allocator({ limitBytes: 8 * MiB, views: views[Math.floor(random() * 2)] });
    const arena = allocator.arena();
    const kept = allocator.alloc(5000);
    const view = kept.bytes;
    const closing = {
      get zero() {
        allocator.close();
        return true;
      },
    };
    const calls: (() => unknown)[] = [
      () => allocator.alloc(100, closing),
      () => allocator.alloc(100_000, closing),
      () => allocator.allocArray(Float64Array, 10, closing),
      () =>
        arena.alloc(100, {
          get align() {
            allocator.close();
            return 16;
          },
        }),
      () => arena.alloc(100, closing),
      () =>
        allocator.arena({
          get chunkBytes() {
            allocator.close();
            return 8192;
          },
        }),
    ];
    codeOf(calls[Math.floor(random() * calls.length)]!);
    touch(view);
    allocator.close();
    touch(view);
  }),

  'views kept after free(), arena reset(), close() and GC stay harmless': scenario(async (random) => {
    const keep: ArrayBufferView[] = [];
    for (let round = 0; round < 4; round++) {
      const allocator = new Allocator({ limitBytes: 8 * MiB, views: views[Math.floor(random() * 2)], junk: random() < 0.3 });
      const arena = allocator.arena({ chunkBytes: 4096 });
      for (let i = 0; i < 20; i++) {
        const allocation =
          random() < 0.5 ? allocator.alloc(1 + Math.floor(random() * 100_000)) : arena.alloc(1 + Math.floor(random() * 10_000));
        keep.push(allocation.bytes, allocation.view(), allocation.array(Float64Array));
        if (random() < 0.5 && allocation.live) {
          try {
            allocator.free(allocation);
          } catch {
            // an arena allocation: freed by reset() only
          }
        }
      }
      for (const view of keep) touch(view);
      if (random() < 0.5) arena.reset();
      if (random() < 0.5) allocator.close(); // else dropped open, with live handles, for the collector
    }
    gc();
    await tick();
    gc();
    for (const view of keep) touch(view);
  }),

  'buffers moved out of the pool (ArrayBuffer.prototype.transfer) never fault, and free() and close() still work': scenario(
    async (random) => {
      const allocator = new Allocator({ limitBytes: 4 * MiB, views: views[Math.floor(random() * 2)] });
      const arena = allocator.arena();
      const allocation = random() < 0.5 ? allocator.alloc(64 + Math.floor(random() * 100_000)) : arena.alloc(64);
      allocation.bytes[0] = 42;
      const buffer = allocation.bytes.buffer as ArrayBuffer & { transfer?: () => ArrayBuffer };
      let moved: ArrayBuffer | undefined;
      try {
        moved = buffer.transfer ? buffer.transfer() : structuredClone(buffer, { transfer: [buffer] });
      } catch (error) {
        if (!(error instanceof Error) || (error.name !== 'DataCloneError' && !(error instanceof TypeError))) throw error; // refused
      }
      // The allocator goes on: its handles are dead or alive, never dangling, and free and close work.
      codeOf(() => allocator.free(allocation));
      codeOf(() => allocator.alloc(100));
      codeOf(() => arena.reset());
      allocator.close();
      gc();
      await tick();
      if (moved) touch(new Uint8Array(moved));
    },
  ),

  'worker threads churn their own allocators and are terminated in the middle of it': scenario(async (random) => {
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.url).then(({ Allocator }) => {
         parentPort.postMessage('ready');
         for (let round = 0; ; round++) {
           const allocator = new Allocator({ limitBytes: 8 * 2 ** 20, views: round % 2 ? 'detach' : 'shared' });
           const arena = allocator.arena();
           const live = [];
           for (let i = 0; i < 2000; i++) {
             const allocation = i % 3 ? allocator.alloc(16 + ((i * 7919) % 70000)) : arena.alloc(16 + (i % 4000));
             allocation.bytes[0] = i;
             live.push(allocation);
             if (live.length > 64) { const old = live.shift(); try { allocator.free(old); } catch {} }
           }
           allocator.trim();
           if (round % 3 === 0) allocator.close(); // else left to the collector, or to terminate()
         }
       });`,
      { eval: true, workerData: { url: distUrl } },
    );
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const allocator = new Allocator({ limitBytes: 8 * MiB });
    const kept: Allocation[] = [];
    for (let i = 0; i < 200; i++) kept.push(allocator.alloc(16 + i * 100));
    await tick(Math.floor(random() * 30));
    await worker.terminate();
    for (const allocation of kept) touch(allocation.bytes);
    for (const allocation of kept) allocator.free(allocation);
    allocator.check();
    allocator.close();
  }),

  'garbage collection of allocators and arenas left open with live allocations': scenario(async (random) => {
    const keep: ArrayBufferView[] = [];
    for (let round = 0; round < 3; round++) {
      const allocator = new Allocator({ limitBytes: 4 * MiB, views: views[Math.floor(random() * 2)] });
      const arena = allocator.arena();
      const allocation = allocator.alloc(1000);
      if (random() < 0.5) keep.push(allocation.bytes, arena.alloc(100).bytes);
    }
    gc();
    await tick();
    gc();
    for (const view of keep) touch(view);
    keep.length = 0;
    gc();
    await tick();
  }),
} satisfies CaseTable;
