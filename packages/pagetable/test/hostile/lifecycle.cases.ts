// Scripted abuse of @dbos/pagetable's lifecycle: closed handles, calls during close(), views kept
// after close and after their buffer was moved, worker threads (terminated mid-work, or changing a
// shared page list during a call), and garbage collection of handles with work pending.
import { Worker } from 'node:worker_threads';
import { type CaseTable, scenario } from '@dbos/hostile';
import { DbosError } from '@dbos/platform';
import { FramePool, PAGE_SIZE, Region } from '../../src/index.js';

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

/** Write and read back every page of a view; a view over memory that went away faults here. */
function touch(view: ArrayBufferView): void {
  if (view.buffer.byteLength === 0) return; // detached: nothing left to reach
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  for (let at = 0; at < bytes.length; at += 1024) bytes[at] = ((bytes[at] ?? 0) + 1) & 0xff;
}

/** Every call of a closed region, with valid arguments. */
function closedCalls(region: Region, pool: FramePool): [string, () => unknown][] {
  return [
    ['map', () => region.map([1])],
    ['mapFrames', () => region.mapFrames([1], pool, [0])],
    ['unmap', () => region.unmap([1])],
    ['discard', () => region.discard([1])],
    ['move', () => region.move([1], [2])],
    ['protect', () => region.protect([1], 'read')],
    ['populate', () => region.populate([1])],
    ['view', () => region.view(0, 8)],
    ['dataView', () => region.dataView(0, 8)],
    ['pageInfo', () => region.pageInfo(1)],
    ['isPinned', () => region.isPinned()],
    ['startDirtyTracking', () => region.startDirtyTracking()],
    ['stopDirtyTracking', () => region.stopDirtyTracking()],
    ['dirtyMechanism', () => region.dirtyMechanism],
    ['collectDirty', () => region.collectDirty()],
    ['resetDirty', () => region.resetDirty()],
    ['residentPages', () => region.residentPages()],
    ['stats', () => region.stats()],
  ];
}

/** A value whose reading closes `close` first: the call under way must notice. */
function closing<T>(close: () => void, value: T): { valueOf(): T } {
  return {
    valueOf() {
      close();
      return value;
    },
  };
}

export default {
  'a closed region or pool: every call is DBOS_ECLOSED, close() stays idempotent': scenario((random) => {
    const region = Region.reserve(16 * PAGE_SIZE, { mapped: random() < 0.5 });
    const pool = FramePool.create(4);
    if (random() < 0.5) region.startDirtyTracking();
    region.close();
    region.close();
    for (const [name, fn] of closedCalls(region, pool)) {
      const code = codeOf(fn);
      if (code !== 'DBOS_ECLOSED') throw broken(`${name} on a closed region: ${code ?? 'no error'}`);
    }
    if (!region.closed) throw broken('closed is false after close()');
    pool.close();
    pool.close();
    const live = Region.reserve(16 * PAGE_SIZE);
    for (const [name, fn] of [
      ['release', () => pool.release([0])],
      ['mapFrames of a closed pool', () => live.mapFrames([0], pool, [0])],
    ] as const) {
      const code = codeOf(fn);
      if (code !== 'DBOS_ECLOSED') throw broken(`${name}: ${code ?? 'no error'}`);
    }
    live.close();
  }),

  'calls during close(): arguments whose reading closes the region or the pool': scenario((random) => {
    const region = Region.reserve(32 * PAGE_SIZE, { mapped: true });
    const pool = FramePool.create(8);
    const view = region.view(0, 2 * PAGE_SIZE);
    const closeRegion = () => region.close();
    const closePool = () => pool.close();
    const closer = random() < 0.7 ? closeRegion : closePool;
    const page = closing(closer, 3) as unknown as number;
    const calls: (() => unknown)[] = [
      () => region.map({ first: page, count: 1 }),
      () => region.map([page, 4]),
      () => region.mapFrames({ first: 3, count: 1 }, pool, { first: page, count: 1 }),
      () => region.unmap({ first: 5, count: page }),
      () => region.discard([page]),
      () => region.move([page], [9]),
      () => region.protect([page], 'read'),
      () => region.populate({ first: page, count: 1 }),
      () => region.view(page, 8),
      () => region.pageInfo(page),
      () => region.isPinned({ first: page }),
      () => region.collectDirty({ first: page }),
      () =>
        region.startDirtyTracking({
          get mechanism() {
            closer();
            return 'auto' as const;
          },
        }),
      () =>
        region.map([3], {
          get protection() {
            closer();
            return 'read' as const;
          },
        }),
      () => pool.release({ first: page, count: 1 }),
    ];
    const fn = calls[Math.floor(random() * calls.length)]!;
    codeOf(fn);
    // Whatever the call did, the kept view is either intact or detached, never dangling.
    touch(view);
    region.close();
    pool.close();
    touch(view);
  }),

  'views kept after release(), close() and the loss of every reference to the region': scenario(async (random) => {
    const keep: ArrayBufferView[] = [];
    for (let round = 0; round < 4; round++) {
      const region = Region.reserve(64 * PAGE_SIZE, { mapped: true, hugePages: random() < 0.3 });
      if (random() < 0.5) region.startDirtyTracking({ mechanism: random() < 0.5 ? 'auto' : 'shadow-compare' });
      const bytes = region.view(Math.floor(random() * 60) * PAGE_SIZE, 3 * PAGE_SIZE);
      const data = region.dataView(10 * PAGE_SIZE, PAGE_SIZE);
      keep.push(bytes, bytes.subarray(5, 50), data, new Uint32Array(bytes.buffer, 0, 4));
      if (codeOf(() => region.unmap({ first: 0, count: 64 })) !== 'DBOS_EBUSY') throw broken('unmap under a view was not DBOS_EBUSY');
      region.discard({ first: 0, count: 64 }); // allowed under views: reads zeros
      touch(bytes);
      const ending = random();
      if (ending < 0.3) region.close();
      else if (ending < 0.6) region.release(bytes);
      // else: drop the region with its views alive; the views keep it mapped
    }
    gc();
    await tick();
    gc();
    for (const view of keep) touch(view);
    keep.length = 0;
    gc();
    await tick();
  }),

  'view buffers moved out (ArrayBuffer.prototype.transfer, structuredClone) stay valid after close() and GC': scenario(async (random) => {
    const region = Region.reserve(16 * PAGE_SIZE, { mapped: true });
    const view = region.view(PAGE_SIZE, 2 * PAGE_SIZE);
    view[0] = 7;
    let moved: ArrayBuffer | undefined;
    const transfer = (view.buffer as ArrayBuffer & { transfer?: () => ArrayBuffer }).transfer;
    if (transfer && random() < 0.8) {
      try {
        moved = transfer.call(view.buffer);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // refused: the buffer cannot move
      }
    } else {
      try {
        const buffer = view.buffer as ArrayBuffer;
        moved = structuredClone(buffer, { transfer: [buffer] });
      } catch (error) {
        if (!(error instanceof Error) || error.name !== 'DataCloneError') throw error; // refused
      }
    }
    if (moved && moved.byteLength > 0) {
      // The memory under a moved buffer stays pinned: making it inaccessible is refused.
      const code = codeOf(() => region.unmap([1]));
      if (code !== 'DBOS_EBUSY') throw broken(`unmap under a moved view: ${code ?? 'no error'}`);
    }
    if (random() < 0.5) region.release(view);
    region.close();
    gc();
    await tick();
    gc();
    if (moved) touch(new Uint8Array(moved));
  }),

  'worker threads use the addon, and are terminated in the middle of page operations': scenario(async (random) => {
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.url).then(({ Region, FramePool }) => {
         parentPort.postMessage('ready');
         const pool = FramePool.create(64);
         for (let round = 0; ; round++) {
           const region = Region.reserve(256 * 4096, { mapped: round % 2 === 0, fill: round % 3 === 0 ? { byte: 1, stampIndex: true } : undefined });
           region.map({ first: 0, count: 128 });
           region.mapFrames({ first: 128, count: 64 }, pool, { first: 0, count: 64 });
           region.startDirtyTracking();
           const view = region.view(0, 192 * 4096);
           for (let at = 0; at < view.length; at += 4096) view[at + 9] = round & 0xff;
           region.populate({ first: 0, count: 192 });
           region.collectDirty({ reset: true });
           region.discard({ first: 0, count: 192 });
           if (round % 2) region.close(); // else left to the garbage collector, or to terminate()
         }
       });`,
      { eval: true, workerData: { url: distUrl } },
    );
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // The main thread keeps using the addon while the worker runs, and after it is gone.
    const region = Region.reserve(64 * PAGE_SIZE, { mapped: true });
    const pool = FramePool.create(8);
    const view = region.view(0, PAGE_SIZE);
    await tick(Math.floor(random() * 30));
    region.mapFrames({ first: 8, count: 8 }, pool, { first: 0, count: 8 });
    await worker.terminate();
    touch(view);
    touch(region.view(8 * PAGE_SIZE, 8 * PAGE_SIZE));
    region.mapFrames({ first: 16, count: 8 }, pool, { first: 0, count: 8 });
    region.close();
    pool.close();
  }),

  'a page list in a SharedArrayBuffer that another thread rewrites during the call': scenario(async (random) => {
    const shared = new Uint32Array(new SharedArrayBuffer(64 * 4));
    for (let i = 0; i < shared.length; i++) shared[i] = i;
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const list = new Uint32Array(workerData.buffer);
       parentPort.postMessage('ready');
       for (let x = 1; ; x = (x * 1103515245 + 12345) >>> 0) Atomics.store(list, x % list.length, x & 1 ? 0xffffffff : x % 64);`,
      { eval: true, workerData: { buffer: shared.buffer } },
    );
    await new Promise((resolve) => worker.once('message', resolve));
    const region = Region.reserve(64 * PAGE_SIZE, { mapped: true });
    const pool = FramePool.create(64);
    const view = region.view(0, PAGE_SIZE);
    const operations: ((list: Uint32Array) => unknown)[] = [
      (list) => region.map(list),
      (list) => region.discard(list),
      (list) => region.unmap(list),
      (list) => region.protect(list, 'read-write'),
      (list) => region.populate(list),
      (list) => region.move(list.subarray(0, 32), list.subarray(32)),
      (list) => region.mapFrames(list, pool, list),
      (list) => pool.release(list),
    ];
    for (let i = 0; i < 2000; i++) {
      codeOf(() => operations[Math.floor(random() * operations.length)]!(shared));
      if (i % 100 === 0) await tick();
    }
    await worker.terminate();
    touch(view);
    region.close();
    pool.close();
  }),

  'garbage collection of regions and pools with views, tracking, fault filling and mapped frames': scenario(async (random) => {
    const views: ArrayBufferView[] = [];
    for (let round = 0; round < 3; round++) {
      const pool = FramePool.create(16);
      const region = Region.reserve(64 * PAGE_SIZE, { mapped: true, fill: random() < 0.5 ? { byte: 0x5a } : undefined });
      region.mapFrames({ first: 32, count: 16 }, pool, { first: 0, count: 16 });
      if (random() < 0.5) region.startDirtyTracking();
      const view = region.view(30 * PAGE_SIZE, 4 * PAGE_SIZE); // anonymous and frame pages
      touch(view);
      if (random() < 0.5) views.push(view);
      // pool and region dropped here, open, with their work pending
    }
    gc();
    await tick();
    gc();
    for (const view of views) touch(view);
    views.length = 0;
    gc();
    await tick();
  }),

  'a 16 TiB region: calls over all of it finish quickly, or refuse with DBOS_ENOMEM what would exhaust memory': scenario((random) => {
    const region = Region.reserve(2 ** 44, { mapped: random() < 0.5 });
    const last = region.pageCount - 1;
    region.map([0, last]); // the touched extent spans the whole region
    const all = { first: 0, count: region.pageCount };
    const calls: [string, () => unknown][] = [
      ['map', () => region.map(all)],
      ['unmap', () => region.unmap(all)],
      ['discard', () => region.discard(all)],
      ['protect', () => region.protect(all, 'read-write')],
      ['populate', () => region.populate(all)],
      ['isPinned', () => region.isPinned()],
      ['residentPages', () => region.residentPages()],
      ['startDirtyTracking', () => region.startDirtyTracking({ mechanism: random() < 0.5 ? 'auto' : 'shadow-compare' })],
      ['collectDirty', () => region.collectDirty({ reset: true })],
      ['resetDirty', () => region.resetDirty()],
      ['view of 4 GiB', () => region.release(region.view(0, 2 ** 32))],
      ['move of half', () => region.move({ first: 0, count: 2 ** 31 }, { first: 2 ** 31, count: 2 ** 31 })],
    ];
    for (let i = 0; i < 4; i++) {
      const [name, fn] = calls[Math.floor(random() * calls.length)]!;
      const started = Date.now();
      const code = codeOf(fn);
      const elapsed = Date.now() - started;
      if (elapsed > 5000) throw broken(`${name} over 16 TiB took ${elapsed} ms (${code ?? 'no error'})`);
    }
    region.close();
  }),

  'the error classes: DbosError is what the package throws for operating errors': scenario(() => {
    const region = Region.reserve(4 * PAGE_SIZE);
    try {
      region.protect([0], 'read');
    } catch (error) {
      if (!(error instanceof DbosError)) throw broken('protect of an unmapped page did not throw a DbosError');
    }
    region.close();
  }),
} satisfies CaseTable;
