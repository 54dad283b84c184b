// The example must run to the end and find every record it wrote.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const example = fileURLToPath(new URL('../records.mjs', import.meta.url));

test('the records example writes, evicts, reopens and reads back', () => {
  const run = spawnSync(process.execPath, [example], { encoding: 'utf8', timeout: 120_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toContain('records example finished');
  expect(output).toMatch(/evictions [1-9]/);
  expect(output).toContain('get(777) = "record 777: ***************************"');
  expect(output).toMatch(/batched lookups: 48\/48 found with [1-4] native batch\(es\)/);
  expect(output).toContain('a second unfix is refused with DBOS_EINVAL');
});
