// The example must run to the end; queries that finish must have checked results and count their
// allocations right; the overload must reject some queries with DBOS_ENOMEM, never exceed the
// limit, and leave a pool that serves the same queries alone and ends with every page free.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const example = fileURLToPath(new URL('../main.mjs', import.meta.url));

test('per-query arenas under a hard limit: overload is DBOS_ENOMEM for some queries, the rest finish checked', () => {
  const run = spawnSync(process.execPath, [example], { encoding: 'utf8', timeout: 60_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toContain('pool: limit 8.0 MiB, 8.0 MiB pre-faulted');

  const finished = [
    ...output.matchAll(/query (\d+) \(days \d+-\d+\): (\d+) orders of (\d+) customers, (\d+) allocations .*checked: (\w+)/g),
  ];
  const rejected = [...output.matchAll(/query (\d+) \(days \d+-\d+\): rejected with DBOS_ENOMEM after (\d+) bytes/g)];
  for (const [, , rows, groups, allocations, checked] of finished) {
    expect(Number(rows)).toBeGreaterThan(0);
    expect(Number(allocations)).toBe(Number(rows) + Number(groups) + 1); // a node per order, a group per customer, the table
    expect(checked).toBe('true');
  }
  for (const [, , requested] of rejected) expect(Number(requested)).toBeGreaterThan(0);

  const overload =
    /overload: (\d+) queries at once: (\d+) finished, (\d+) rejected with DBOS_ENOMEM; peak arena memory (\d+) of (\d+) bytes/.exec(output);
  expect(overload, output).not.toBeNull();
  const [queries, finishedAtOnce, rejectedCount, peak, limit] = overload.slice(1).map(Number);
  expect(rejectedCount).toBeGreaterThan(0);
  expect(finishedAtOnce + rejectedCount).toBe(queries);
  expect(rejected).toHaveLength(rejectedCount);
  expect(peak).toBeGreaterThan(0);
  expect(peak).toBeLessThanOrEqual(limit);

  // Every rejected query finished when retried alone, and every query finished exactly once.
  expect(output).toContain(`retry alone: ${rejectedCount} of ${rejectedCount} finished`);
  expect(finished.map((match) => Number(match[1])).sort((a, b) => a - b)).toEqual(Array.from({ length: queries }, (_, i) => i + 1));

  const after = /pool after: (\d+) bytes in arenas, (\d+) in use, (\d+) of (\d+) pages free, largest free run (\d+) pages/.exec(output);
  expect(after, output).not.toBeNull();
  const [arenaBytes, inUse, free, total, largestRun] = after.slice(1).map(Number);
  expect([arenaBytes, inUse]).toEqual([0, 0]);
  expect(free).toBe(total);
  expect(largestRun).toBe(total);
  expect(output).toContain('alloc example finished');
});
