import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { expect, test } from 'vitest';

const require = createRequire(import.meta.url);
const nativeBuild = require('../index.cjs') as typeof import('../index.d.ts');
const packagesDir = fileURLToPath(new URL('../..', import.meta.url));
const hypercallDir = path.join(packagesDir, 'hypercall');

test('sources lists the core and the host runtime, not the guest runtime', () => {
  const files = nativeBuild.sources(hypercallDir, 'host').map((f) => path.relative(hypercallDir, f));
  expect(files).toContain(path.join('csrc', 'status.c'));
  expect(files).toContain(path.join('csrc', 'host', 'platform_memory.c'));
  expect(files.some((f) => f.includes(`${path.sep}guest${path.sep}`))).toBe(false);
  expect(nativeBuild.sources(hypercallDir, 'core').every((f) => path.dirname(f).endsWith('csrc'))).toBe(true);
});

test('gyp helpers give relative paths that include bindings and napi.h', () => {
  const sources = nativeBuild.gypSources(hypercallDir).split(' ');
  expect(sources).toContain(path.join('binding', 'addon.cc'));
  expect(sources.every((f) => !path.isAbsolute(f))).toBe(true);
  const includes = nativeBuild.gypIncludes(hypercallDir).split(' ');
  expect(includes).toContain('include');
  expect(includes.some((dir) => require('node:fs').existsSync(path.join(hypercallDir, dir, 'napi.h')))).toBe(true);
});

test('closure puts dependencies first', () => {
  const closure = nativeBuild.nativeClosure(hypercallDir);
  expect(closure[closure.length - 1]).toBe(require('node:fs').realpathSync(hypercallDir));
});
