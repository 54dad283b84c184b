import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { expect, test } from 'vitest';

const require = createRequire(import.meta.url);
const nativeBuild = require('../index.cjs') as typeof import('@dbos/native-build');
const packagesDir = fileURLToPath(new URL('../..', import.meta.url));
const hypercallDir = path.join(packagesDir, 'hypercall');
const pagetableDir = path.join(packagesDir, 'pagetable');

test("sources lists the closure's core and host runtime, not the guest runtime", () => {
  const files = nativeBuild.sources(hypercallDir, 'host').map((f) => path.relative(packagesDir, f));
  expect(files).toContain(path.join('platform', 'csrc', 'status.c'));
  expect(files).toContain(path.join('platform', 'csrc', 'host', 'platform_memory.c'));
  expect(files).toContain(path.join('hypercall', 'csrc', 'host', 'gateway.c'));
  expect(files.some((f) => f.includes(`${path.sep}guest${path.sep}`))).toBe(false);
  expect(nativeBuild.sources(hypercallDir, 'core').every((f) => path.dirname(f).endsWith('csrc'))).toBe(true);
});

test('the VMM joins only addons that declare a guest runtime', () => {
  const vmm = (dir: string) => nativeBuild.sources(dir, 'host').filter((f) => f.includes(`${path.sep}vmm${path.sep}`));
  expect(vmm(hypercallDir).length).toBeGreaterThan(3);
  expect(vmm(pagetableDir)).toEqual([]);
  expect(() => nativeBuild.sources(hypercallDir, 'vmm' as never)).toThrow(/unknown runtime/);
});

test('addon flags come from one list', () => {
  expect(nativeBuild.gypFlags('cflags').split(' ')).toEqual(expect.arrayContaining(['-Wall', '-Wextra']));
  expect(nativeBuild.gypFlags('defines')).toContain('NAPI_VERSION=8');
  expect(() => nativeBuild.gypFlags('nope')).toThrow(/no addon flag list/);
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

test('cConstants reads C constants as the compiler sees them', async () => {
  const { cConstants } = await import('../ctest.mjs');
  const platformDir = path.join(packagesDir, 'platform');
  const values = cConstants(platformDir, ['dbos/status.h'], {
    OK: 'DBOS_OK',
    EINVAL: 'DBOS_EINVAL',
    COUNT: 'DBOS_STATUS_COUNT',
    MINUS: '-5',
  });
  expect(values).toEqual({ OK: 0n, EINVAL: 1n, COUNT: BigInt(values.COUNT!), MINUS: -5n });
  expect(values.COUNT! > 10n).toBe(true);
  expect(() => cConstants(platformDir, ['dbos/status.h'], { BAD: 'NO_SUCH_CONSTANT' })).toThrow(/compiling failed/);
});

test('buildTestAddon builds a loadable addon outside the package addon', async () => {
  const { buildTestAddon } = await import('../ctest.mjs');
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-test-addon-'));
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'scratch', dbos: { native: { dependencies: ['@dbos/platform'] } } }),
  );
  fs.mkdirSync(path.join(dir, 'node_modules', '@dbos'), { recursive: true });
  fs.symlinkSync(path.join(packagesDir, 'platform'), path.join(dir, 'node_modules', '@dbos', 'platform'));
  fs.symlinkSync(
    path.dirname(require.resolve('node-addon-api/package.json', { paths: [path.join(packagesDir, 'platform')] })),
    path.join(dir, 'node_modules', 'node-addon-api'),
  );
  fs.writeFileSync(
    path.join(dir, 'addon.cc'),
    '#include <napi.h>\n#include "dbos/binding.h"\nstatic Napi::Value Name(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), dbos_status_name(DBOS_EINVAL)); }\n' +
      'static Napi::Object Init(Napi::Env env, Napi::Object exports) { exports.Set("name", Napi::Function::New(env, Name)); return exports; }\nNODE_API_MODULE(scratch, Init)\n',
  );
  const built = buildTestAddon(dir, { name: 'scratch', sources: ['addon.cc'], withClosure: true });
  expect((require(built) as { name(): string }).name()).toBe('DBOS_EINVAL');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the C harness reports ok, FAIL and skip (with why), and never counts a skip as ok', async () => {
  const { runCTest } = await import('../ctest.mjs');
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-ctest-'));
  fs.writeFileSync(
    path.join(dir, 't.c'),
    '#include "dbos_test.h"\nstatic void passes(void) { CHECK(1); }\nstatic void fails(void) { CHECK_EQ(1, 2); }\n' +
      'static void skips(void) { SKIP("no such mechanism here"); }\nstatic void fails_then_skips(void) { CHECK(0); SKIP("late"); }\n' +
      'int main(void) { RUN_TEST(passes); RUN_TEST(fails); RUN_TEST(skips); RUN_TEST(fails_then_skips); return TEST_EXIT_STATUS(); }\n',
  );
  const exe = path.join(dir, 't');
  const built = spawnSync('cc', ['-I', nativeBuild.testHeaderDir, path.join(dir, 't.c'), '-o', exe], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
  const run = runCTest(exe);
  expect(run.cases).toEqual([
    { name: 'passes', ok: true, skipped: null },
    { name: 'fails', ok: false, skipped: null },
    { name: 'skips', ok: true, skipped: 'no such mechanism here' },
    { name: 'fails_then_skips', ok: false, skipped: null },
  ]);
  expect(run.status).toBe(1);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('C test objects are compiled once and again only when a source or a header it includes changes', async () => {
  const { objectPlan, compileObjects, compileObjectsSync, isStale } = await import('../objects.mjs');
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-objects-'));
  try {
    const header = path.join(dir, 'value.h');
    const source = path.join(dir, 'one.c');
    fs.writeFileSync(header, '#define VALUE 1\n');
    fs.writeFileSync(source, '#include "value.h"\nint one(void) { return VALUE; }\n');
    const plan = objectPlan(dir, [source], ['-O1', `-I${dir}`]);
    const [object] = await compileObjects(plan);
    expect(fs.existsSync(object as string)).toBe(true);
    expect(plan.map(isStale)).toEqual([false]);
    // The header is newer than the object: stale, and the sync path rebuilds it.
    const earlier = new Date(Date.now() - 60_000);
    fs.utimesSync(object as string, earlier, earlier);
    fs.utimesSync(source, earlier, earlier);
    expect(plan.map(isStale)).toEqual([true]);
    compileObjectsSync(plan);
    expect(plan.map(isStale)).toEqual([false]);
    // Other flags are another object; a failed compile leaves no object that looks built.
    const broken = path.join(dir, 'broken.c');
    fs.writeFileSync(broken, 'int broken(void) { return }\n');
    const brokenPlan = objectPlan(dir, [broken], ['-O1']);
    expect(brokenPlan[0]?.object).not.toBe(plan[0]?.object);
    await expect(compileObjects(brokenPlan)).rejects.toThrow(/compiling broken.c failed/);
    expect(fs.existsSync(brokenPlan[0]?.object as string)).toBe(false);
    expect(() => compileObjectsSync(brokenPlan)).toThrow(/compiling broken.c failed/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every package with a guest runtime links into a guest image (its closure, no entries)', () => {
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const withGuest = fs.readdirSync(packagesDir).filter((name) => fs.existsSync(path.join(packagesDir, name, 'csrc', 'guest')));
  expect(withGuest).toEqual(expect.arrayContaining(['hypercall', 'pagetable', 'alloc', 'snapshot']));
  for (const name of withGuest) {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), `dbos-guest-${name}-`));
    const built = nativeBuild.buildGuestImage(path.join(packagesDir, name), { name: 'link-check', outDir, force: true });
    expect(fs.statSync(built.image).size).toBeGreaterThan(4096);
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}, 120_000);
