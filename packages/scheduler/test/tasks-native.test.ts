// The JavaScript tasks' scan thread (csrc/tasks_*.c) tested from C: test/fixtures/c/test_tasks_timer.c,
// built with the package's closure and run here, under the sanitizers DBOS_SANITIZE names
// (DBOS_SANITIZE=thread for TSan, address,undefined for ASan and UBSan).
import { fileURLToPath } from 'node:url';
import { buildCTest, runCTest, sanitizers } from '@dbos/native-build/ctest';
import { expect, test } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const source = fileURLToPath(new URL('./fixtures/c/test_tasks_timer.c', import.meta.url));

test(`the scan thread's C tests${sanitizers().length ? ` under ${sanitizers().join(', ')}` : ''}`, () => {
  const run = runCTest(buildCTest(packageDir, source));
  expect(run.error, run.output).toBeNull();
  expect(run.signal, run.output).toBeNull();
  expect(run.status, run.output).toBe(0);
  const names = run.cases.map((entry) => entry.name);
  expect(names).toEqual([
    'test_bad_input',
    'test_flag_for_equal_priority',
    'test_no_flag_without_urgent_work',
    'test_inactive_sleeps',
    'test_stop_joins',
    'test_races_with_a_worker',
    'test_mechanism',
  ]);
  for (const entry of run.cases) expect(entry.ok, `${entry.name}\n${run.output}`).toBe(true);
}, 300_000);
