// `dbos-native guest-image` (@dbos/native-build's CLI), the way an engine author builds an image:
// entries named relative to the shell's directory, the image's path on stdout, then booted by path.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect, test } from 'vitest';
import { Guest } from '../src/guest.js';
import { guestRuns } from './guest-helpers.js';
import { packageDir } from './guest-image.js';

const require = createRequire(import.meta.url);
const cli = path.join(path.dirname(require.resolve('@dbos/native-build/package.json')), 'bin', 'dbos-native.cjs');
const outDir = path.join(packageDir, '.guest', 'cli');

function dbosNative(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: path.join(packageDir, 'test'), encoding: 'utf8' });
}

test('guest-image builds an image from a package and entry files and prints its path', () => {
  const run = dbosNative(['guest-image', '--name', 'cli', '--out', outDir, '..', 'guest/basic.c']);
  expect(run.stderr).toMatch(/guest image (built|up to date)/);
  expect(run.status, run.stderr).toBe(0);
  const image = run.stdout.trim();
  expect(image).toBe(path.join(outDir, 'cli.bin'));
  expect(fs.statSync(image).size).toBeGreaterThan(4096);
  if (!guestRuns) return;
  const guest = Guest.start({ image, memory: 16 * 1024 * 1024 });
  try {
    expect(guest.entries()).toEqual(expect.arrayContaining(['add', 'whoami', 'spin_ns']));
    expect(guest.entries()).not.toContain('crash'); // only the entries named
    expect(guest.runSync('add', [40, 2])).toBe(42n);
  } finally {
    guest.stop();
  }
});

test('guest-image refuses what the guest cannot run unless the function is named', () => {
  const refused = dbosNative(['guest-image', '--name', 'cli-crash', '--out', `${outDir}-crash`, '..', 'guest/crash.c']);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toMatch(/crash uses an instruction PVM cannot run in ring 0/);
  const allowed = dbosNative([
    'guest-image',
    '--name',
    'cli-crash',
    '--out',
    `${outDir}-crash`,
    '--allow-pvm-forbidden',
    'crash',
    '..',
    'guest/crash.c',
  ]);
  expect(allowed.status, allowed.stderr).toBe(0);
});

test('bad usage exits 2 with the usage line', () => {
  for (const args of [['guest-image', '..'], ['guest-image', '--bogus', '..', 'guest/basic.c'], ['frobnicate']]) {
    const run = dbosNative(args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/usage: dbos-native/);
  }
});
