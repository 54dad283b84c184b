// The example runs to the end and prints what it promises (no timing is asserted: the machine
// may be shared).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

test('node main.mjs --quick: both runs, their statistics and the mechanism line', () => {
  const main = fileURLToPath(new URL('../main.mjs', import.meta.url));
  const child = spawnSync(process.execPath, [main, '--quick'], { encoding: 'utf8', timeout: 170_000 });
  expect(child.status, child.stderr).toBe(0);
  expect(child.stdout).toMatch(/^mechanism: .*JavaScript tasks: worker_threads/m);
  expect(child.stdout).toMatch(/^scan +lookups: p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms$/m);
  expect(child.stdout).toMatch(/^scanWithoutYielding +lookups: p50 [\d.]+ ms/m);
  const pattern = /flags raised: (\d+) by the native timer, (\d+) by the pool for urgent arrivals; yields taken: (\d+)/g;
  const runs = [...child.stdout.matchAll(pattern)].map((match) => ({
    timer: Number(match[1]),
    urgent: Number(match[2]),
    taken: Number(match[3]),
  }));
  expect(runs).toHaveLength(2);
  const [yielding, blocking] = runs;
  // Both runs raise flags (lookups arrive while scans hold every worker); only scans that call
  // yieldNow() take them.
  expect(yielding.timer + yielding.urgent).toBeGreaterThan(0);
  expect(blocking.timer + blocking.urgent).toBeGreaterThan(0);
  expect(yielding.taken).toBeGreaterThan(0);
  expect(blocking.taken).toBe(0);
}, 180_000);
