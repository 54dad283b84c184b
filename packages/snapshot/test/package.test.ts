// What ships: the tarball and the entry point hold the product only — no test workload, no test
// entry points, no handle on the addon itself. C engines get include/dbos/snapshot_handle.h.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import * as entry from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

test('the entry point exports the API and nothing test-only', () => {
  expect(Object.keys(entry).sort()).toEqual([
    'IMAGE_FORMAT',
    'PAGE_SIZE',
    'SNAPSHOT_COUNT_MAX',
    'SPACE_SIZE_MAX',
    'Snapshot',
    'SnapshotSpace',
    'WRITER_COUNT_MAX',
    'crc32c',
    'createSpace',
    'imageSize',
    'mechanisms',
    'verifyImage',
  ]);
});

test('the packed tarball has no tests, benchmarks or workload, and has the C engine header', () => {
  const pack = spawnSync('pnpm', ['pack', '--dry-run', '--json'], { cwd: packageDir, encoding: 'utf8' });
  expect(pack.status, pack.stderr).toBe(0);
  const files: string[] = JSON.parse(pack.stdout).files.map((file: { path: string }) => file.path);
  expect(files.filter((file) => /^(test|bench)\/|workload|testing|\.ctest/.test(file))).toEqual([]);
  expect(files).toContain('include/dbos/snapshot_handle.h');
  expect(files).toContain('dist/index.js');
  expect(files.some((file) => file.startsWith('prebuilds/') && file.endsWith('.node'))).toBe(true);
});
