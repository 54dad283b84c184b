// The README's first command ends with `pnpm demo`: it must run to the end on this machine and
// report the mechanism each step really used.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const demo = fileURLToPath(new URL('../demo.mjs', import.meta.url));

test('the demo runs every step without a failure', () => {
  const run = spawnSync(process.execPath, [demo], { encoding: 'utf8', timeout: 120_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toContain('demo finished');
  expect(output).not.toContain('failed:');
  expect(output).toMatch(/backend (io_uring|threads): read pages 3, 0, 2, 1 in one call \(4096, 4096, 4096, 4096 bytes\) → "DACB"/);
  expect(output).toContain('reports its errno name instead of throwing: ENOENT');
  expect(output).toMatch(/pages written = \[7, 300, 301, 999\]/);
  expect(output).toContain('read [1,2,3] at the other');
  expect(output).toContain('a double free is refused with DBOS_EINVAL');
  expect(output).toContain('the snapshot still says "hello"');
  expect(output).toMatch(/10 lookups while two 300 ms scans held both workers: slowest [0-9.]+ ms/);
  expect(output).toMatch(/256 async fixes read back with 0 wrong pages/);
  expect(output).toContain('the snapshot still reads "v0" while the store reads "changed" after reopening');
  expect(output).toContain(
    'range from user:0990, limit 5: user:0990, user:0991, user:0992, user:0993, user:0994; 1000 entries after reopening',
  );
  expect(output).toMatch(/guest computed 40 \+ 2 = 42|guest runtime unavailable here: /);
});
