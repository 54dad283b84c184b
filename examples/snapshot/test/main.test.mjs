// The example must run to the end, and the snapshot's sum must be exact although transfers ran
// during its scan (the live scan's drift is printed, not checked: it could be zero by chance).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const example = fileURLToPath(new URL('../main.mjs', import.meta.url));

test('a scan of a snapshot sums to the exact total while transfers keep running', () => {
  const run = spawnSync(process.execPath, [example], { encoding: 'utf8', timeout: 120_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toContain('space: 512 pages, mechanism epoch');
  const scan = /snapshot scan: sum (\d+), off by (-?\d+) \((\d+) transfers ran during the scan\)/.exec(output);
  expect(scan, output).not.toBeNull();
  expect(scan?.[1]).toBe('262144000');
  expect(scan?.[2]).toBe('0');
  expect(Number(scan?.[3])).toBeGreaterThan(0);
  const copied = /snapshot: taken in \d+ ns, (\d+) pages copied/.exec(output);
  expect(Number(copied?.[1])).toBeGreaterThan(0);
  expect(output).toMatch(/after \d+ transfers the live total is 262144000 \(expected 262144000\)/);
  expect(output).toContain('snapshot example finished');
});
