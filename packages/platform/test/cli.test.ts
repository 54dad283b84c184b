// The `dbos` command: `dbos probe` prints an aligned table, `--json` the probe result.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { probe } from '../src/probe.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

function run(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 30_000 });
}

test('dbos probe prints every fact and every capability', () => {
  const result = run('probe');
  expect(result.status).toBe(0);
  const p = probe();
  for (const label of ['kernel', 'kvm', 'userfaultfd', 'pagemap_scan', 'io_uring', 'thp', 'hugetlb', 'memfd']) {
    expect(result.stdout).toMatch(new RegExp(`^  ${label} +`, 'm'));
  }
  expect(result.stdout).toMatch(new RegExp(`^  kvm +${p.kvm.kind} +`, 'm'));
  for (const capability of Object.keys(p.mechanisms)) expect(result.stdout).toMatch(new RegExp(`^  ${capability} +host +`, 'm'));
});

test('dbos probe loads the @dbos packages installed where it runs, and they report', () => {
  // Run from the repository root, whose package.json depends on every workspace package.
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', cli, 'probe', '--json'], { encoding: 'utf8', timeout: 30_000, cwd: root });
  expect(result.status, result.stderr).toBe(0);
  const parsed = JSON.parse(result.stdout);
  for (const capability of Object.keys(parsed.mechanisms)) {
    expect(parsed.mechanisms[capability].loaded, capability).toBe(true);
    expect(parsed.mechanisms[capability].package).toBe(`@dbos/${capability}`);
  }
});

test('dbos probe --json is the probe result', () => {
  const result = run('probe', '--json');
  expect(result.status).toBe(0);
  const parsed = JSON.parse(result.stdout);
  expect(parsed.kvm.kind).toBe(probe().kvm.kind);
  expect(parsed.mechanisms.hypercall.package).toBe('@dbos/hypercall');
});

test('unknown commands print usage and exit 2', () => {
  const result = run('frobnicate');
  expect(result.status).toBe(2);
  expect(result.stderr).toMatch(/usage: dbos probe/);
});
