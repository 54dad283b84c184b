// The memory budget, measured from outside the pool: a child process reads a file eight times
// its pool, and neither its resident set nor (as root, with the cgroup v1 memory controller) its
// cgroup's peak usage, page cache included, grows by much more than the pool.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { BufferPool } from '../src/index.js';
import { MiB, fillPage, scratch } from './helpers.js';

const dir = scratch('rss');
afterAll(() => dir.remove());
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const child = path.join(packageDir, 'test/children/rss.ts');
const poolBytes = 8 * MiB;
const fileBytes = 64 * MiB;
// Room for what else the child allocates while it reads (JavaScript objects, the stats): far less
// than the file, so a pool that kept pages beyond its budget fails. The child runs with a 1 MiB
// young generation, so garbage Page objects do not pass for pool memory.
const slackBytes = 16 * MiB;

async function bigFile(): Promise<string> {
  const file = dir.file('big.pages');
  const pool = BufferPool.open(file, { create: true, poolBytes: 4 * MiB });
  for (let i = 0; i < fileBytes / 4096; i++) {
    const page = pool.allocate();
    fillPage(page.data, page.pid);
    page.release();
  }
  await pool.close();
  return file;
}

const file = await bigFile();

function runChild(prefix: string): { baseline: number; peak: number; residentMax: number; budgetBytes: number; evictions: number } {
  const run = spawnSync(
    'sh',
    ['-c', `${prefix}exec "${process.execPath}" --expose-gc --max-semi-space-size=1 --import tsx "${child}" "${file}" ${poolBytes}`],
    {
      cwd: packageDir,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string);
}

test('resident set: reading a file 8x the pool grows the process by about the pool', () => {
  const report = runChild('');
  expect(report.budgetBytes).toBe(poolBytes);
  expect(report.residentMax).toBeLessThanOrEqual(poolBytes);
  expect(report.evictions).toBeGreaterThan(0);
  expect(report.peak - report.baseline, JSON.stringify(report)).toBeLessThanOrEqual(poolBytes + slackBytes);
});

const cgroupRoot = '/sys/fs/cgroup/memory';
const canUseCgroup = process.getuid?.() === 0 && fs.existsSync(path.join(cgroupRoot, 'cgroup.procs'));

test.skipIf(!canUseCgroup)("cgroup v1: a child's peak usage, page cache included, stays near its resident set (O_DIRECT reads)", () => {
  const group = path.join(cgroupRoot, `dbos-bp-test-${process.pid}`);
  fs.mkdirSync(group);
  try {
    const report = runChild(`echo $$ > ${group}/cgroup.procs; `);
    const cgroupPeak = Number(fs.readFileSync(path.join(group, 'memory.max_usage_in_bytes'), 'utf8'));
    const detail = JSON.stringify({ cgroupPeak, ...report });
    // Everything the child charged (its memory and any page cache its reads filled) beyond what it
    // had when it opened the pool: the pool and some slack, never the file.
    expect(cgroupPeak - report.baseline, detail).toBeLessThanOrEqual(poolBytes + slackBytes);
    expect(cgroupPeak - report.baseline, detail).toBeLessThan(fileBytes / 2);
  } finally {
    fs.rmdirSync(group);
  }
});
