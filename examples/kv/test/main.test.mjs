// The example must run to the end and print what its writes and reads imply.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const example = fileURLToPath(new URL('../main.mjs', import.meta.url));

test('the order-book example writes, reads, snapshots, backs up and reopens', () => {
  const run = spawnSync(process.execPath, [example], { encoding: 'utf8', timeout: 120_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toContain('wrote 2000 orders for 50 customers');
  const total = /customer 7: 40 orders, total (\d+) \(sum of orders (\d+)\)/.exec(output);
  expect(total, output).not.toBeNull();
  expect(total?.[1]).toBe(total?.[2]);
  expect(output).toContain('the last 3 orders of customer 7: order:007:001957, order:007:001907, order:007:001857');
  expect(output).toContain('order 7: 8 in the snapshot, 1000 now');
  expect(output).toContain('getMany: 48/48 found');
  expect(output).toContain('backup: 2050 entries, order 7 price 1000');
  expect(output).toMatch(/reopened: 2050 entries, customer 7 total \d+/);
  expect(output).toContain('kv example finished');
});
