// A full disk (a file-size limit on a child process): the write that cannot be logged is refused
// with a coded error (thrown, or its durability promise rejected), nothing crashes, and after
// reopening without the limit every acknowledged batch is there.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { open } from '../src/index.js';
import { scratch } from './helpers.js';

let space: ReturnType<typeof scratch>;

beforeEach(() => {
  space = scratch('full');
});

afterEach(() => {
  space.remove();
});

test('a full disk: a coded refusal, no crash, acknowledged batches kept', async () => {
  const child = fileURLToPath(new URL('./children/disk-full.ts', import.meta.url));
  const tsx = import.meta.resolve('tsx');
  // SIGXFSZ ignored: writes past the limit fail with EFBIG instead of killing the process.
  const run = spawnSync(
    'sh',
    ['-c', `trap '' XFSZ; ulimit -f 16384; exec "${process.execPath}" --import "${tsx}" "${child}" "${space.dir}"`],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  expect(run.signal, run.stderr).toBeNull();
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout.trim().split('\n').pop() as string) as {
    acked: number;
    failure: { code: string; name: string; how: string } | null;
  };
  expect(report.failure, 'the limit was reached').not.toBeNull();
  expect(report.failure?.name).toBe('DbosError');
  expect(report.failure?.code).toMatch(/^DBOS_E(NOSPC|IO)$/);
  if (report.failure?.how === 'open') return; // the limit hit before the store existed: nothing to check
  expect(report.acked).toBeGreaterThan(0);
  const store = open(space.dir, { create: false });
  try {
    for (let round = 0; round < report.acked; round++) {
      expect(store.get(`r${String(round).padStart(6, '0')}-15`), `acknowledged round ${round}`).toBeDefined();
    }
    await store.check();
  } finally {
    await store.close();
  }
});
