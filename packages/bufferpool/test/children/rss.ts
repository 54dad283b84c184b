// Child of rss.test.ts: reads every page of a file larger than its pool, twice, and reports its
// resident memory (VmRSS) before and at its peak, with the pool's own count.
import fs from 'node:fs';
import { BufferPool } from '../../src/index.js';
import { pageMismatch } from '../helpers.js';

const [file, poolBytesText] = process.argv.slice(2) as [string, string];

function rssBytes(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kib = /VmRSS:\s+(\d+) kB/.exec(status);
  return kib ? Number(kib[1]) * 1024 : 0;
}

const pool = BufferPool.open(file, { poolBytes: Number(poolBytesText) });
(globalThis as { gc?: () => void }).gc?.();
const baseline = rssBytes();
let peak = baseline;
let residentMax = 0;
const count = pool.pageCount - 1;
for (let pass = 0; pass < 2; pass++) {
  for (let i = 0; i < count; i++) {
    const pid = pass === 0 ? i + 1 : count - i;
    const page = pool.fixShared(pid);
    if (pageMismatch(page.data, pid, 0, 61) !== -1) throw new Error(`page ${pid} differs`);
    page.release();
    // Collect the garbage of the reads so far (Page objects, views) now and then: what stays is the pool's.
    if (i % 1024 === 0) (globalThis as { gc?: () => void }).gc?.();
    if (i % 128 === 0) {
      peak = Math.max(peak, rssBytes());
      residentMax = Math.max(residentMax, pool.stats().residentBytes);
    }
  }
}
peak = Math.max(peak, rssBytes());
const stats = pool.stats();
await pool.close();
console.log(
  JSON.stringify({
    baseline,
    peak,
    residentMax,
    budgetBytes: stats.budgetPages * pool.pageSize,
    misses: stats.misses,
    evictions: stats.evictions,
  }),
);
