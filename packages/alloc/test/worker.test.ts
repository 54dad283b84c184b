// Allocators on several Node threads at once: each thread gets its own native cache slot.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { Allocator } from '../src/index.js';

// The worker loads the built package (turbo builds before it tests).
const distUrl = new URL('../dist/index.js', import.meta.url).href;

const churnSource = `
function churn(Allocator, views, seed) {
  const allocator = new Allocator({ views, limitBytes: 16 * 2 ** 20 });
  const window = new Array(256).fill(null);
  let corrupt = 0;
  let x = seed >>> 0;
  for (let i = 0; i < 20000; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    const slot = x & 255;
    const old = window[slot];
    if (old) {
      if (old.bytes[0] !== (seed & 0xff) || old.bytes[old.size - 1] !== (seed & 0xff)) corrupt++;
      allocator.free(old);
    }
    const allocation = allocator.alloc(16 + (x % 9000));
    allocation.bytes[0] = seed & 0xff;
    allocation.bytes[allocation.size - 1] = seed & 0xff;
    window[slot] = allocation;
  }
  for (const allocation of window) if (allocation) allocator.free(allocation);
  const stats = allocator.stats();
  allocator.close();
  return { corrupt, bytesInUse: stats.bytesInUse, allocs: stats.allocCount };
}
`;

test('two threads churn their own allocators concurrently', async () => {
  const worker = new Worker(
    `${churnSource}
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.url).then(({ Allocator }) => {
      parentPort.postMessage([churn(Allocator, 'shared', 0x51), churn(Allocator, 'detach', 0x52)]);
    });`,
    { eval: true, workerData: { url: distUrl } },
  );
  const churn = new Function('Allocator', 'views', 'seed', `${churnSource}; return churn(Allocator, views, seed);`) as (
    allocator: typeof Allocator,
    views: string,
    seed: number,
  ) => { corrupt: number; bytesInUse: number; allocs: number };
  const mine = [churn(Allocator, 'shared', 0x61), churn(Allocator, 'detach', 0x62)];
  const [theirs] = (await once(worker, 'message')) as [typeof mine];
  await worker.terminate();
  for (const result of [...mine, ...theirs]) {
    expect(result.corrupt).toBe(0);
    expect(result.bytesInUse).toBe(0);
    expect(result.allocs).toBeGreaterThan(0);
  }
});
