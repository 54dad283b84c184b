// The example runs to the end and reports what its column and interner hold.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const example = fileURLToPath(new URL('../main.mjs', import.meta.url));

test('the example interns a column and reports it', () => {
  const run = spawnSync(process.execPath, [example], { encoding: 'utf8', timeout: 60_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  const distinct = /200000 rows, (\d+) distinct hosts/.exec(output);
  expect(Number(distinct?.[1])).toBeGreaterThan(1000);
  expect(Number(distinct?.[1])).toBeLessThanOrEqual(5000);
  expect(output).toMatch(/busiest: host-0\.eu-west\.example\.net \(\d+ rows\)/);
  expect(output).toContain('lookup: found host-0, absent host-99999');
  expect(output).toContain('native-addon example finished');
});
