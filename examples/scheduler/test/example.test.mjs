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
  const yields = [...child.stdout.matchAll(/yields requested by the native timer: (\d+), taken: (\d+)/g)].map((match) => [
    Number(match[1]),
    Number(match[2]),
  ]);
  expect(yields).toHaveLength(2);
  // Scans that yield take the flags; scans that never call yieldNow() take none.
  expect(yields[0]?.[1]).toBeGreaterThan(0);
  expect(yields[1]?.[1]).toBe(0);
}, 180_000);
