// What `dbos probe` says about the scheduler comes from the package's own C: the native
// scheduler's line (dbos_sched_mechanism) and the JavaScript tasks' line (dbos_tasks_mechanism).
import { probe } from '@dbos/platform';
import { expect, test } from 'vitest';
import '../src/index.js';
import { addon } from '../src/native.js';

test('importing the package registers its mechanism report', () => {
  const report = probe().mechanisms.scheduler;
  expect(report.loaded).toBe(true);
  expect(report.package).toBe('@dbos/scheduler');
  expect(report.host).toContain(addon.schedMechanism());
  expect(report.host).toContain(addon.tasksMechanism());
  expect(report.guest).toMatch(/^unavailable: /);
});

test('the JavaScript tasks line names what runs: worker threads and the native scan thread', () => {
  expect(addon.schedMechanism().length).toBeGreaterThan(0);
  expect(addon.tasksMechanism()).toMatch(
    /^JavaScript tasks: worker_threads; yield flags in a SharedArrayBuffer raised by a native scan thread/,
  );
});
