// C unit tests and the freestanding check, run from vitest.
//
// Each package's test/c/*.c is linked with the host C closure of the package
// (its core, its host runtime and the cores it builds on; compiled once into
// cached objects, see objects.mjs) and run once at collection time; every "ok NAME" / "FAIL NAME" line it prints
// becomes one vitest test, and one more test checks that the program exited
// cleanly (a crash or a sanitizer report fails it).  DBOS_SANITIZE
// (e.g. "address,undefined") builds the programs with those sanitizers.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { compileObjects, compileObjectsSync, objectPlan } from './objects.mjs';

const require = createRequire(import.meta.url);
const nativeBuild = require('./index.cjs');

const CC = process.env.CC || 'cc';
const RUN_TIMEOUT_MS = 120_000;

export function sanitizers() {
  const value = (process.env.DBOS_SANITIZE || '').trim();
  return value
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

export function cTestFiles(packageDir) {
  const dir = path.join(packageDir, 'test', 'c');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => path.join(dir, f));
}

function compile(args) {
  const result = spawnSync(CC, args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

// The compiler flags of a package's C test objects, and the plans that compile its closure and
// its test programs to cached objects (see objects.mjs).
function testFlags(packageDir, sanitize) {
  const includes = nativeBuild.includeDirs(packageDir).concat([nativeBuild.testHeaderDir]);
  return [...nativeBuild.flags.cTest, ...nativeBuild.flags.sanitize(sanitize)].concat(includes.map((d) => `-I${d}`));
}

function closurePlan(packageDir, sanitize) {
  return objectPlan(packageDir, nativeBuild.sources(packageDir, 'host'), testFlags(packageDir, sanitize));
}

function exePath(packageDir, file, sanitize) {
  const suffix = sanitize.length ? `-${sanitize.join('-')}` : '';
  return path.join(packageDir, '.ctest', path.basename(file, '.c') + suffix);
}

function link(objects, exe, sanitize) {
  const args = [...nativeBuild.flags.cTest, ...nativeBuild.flags.sanitize(sanitize), ...objects, '-o', exe, '-lpthread'];
  const result = compile(args);
  if (!result.ok) throw new Error(`linking ${path.basename(exe)} failed:\n${result.output}`);
  return exe;
}

/**
 * Compile one C test program and link it with the package's host closure; returns the
 * executable's path or throws with the compiler output. Objects are cached (objects.mjs).
 */
export function buildCTest(packageDir, file, sanitize = sanitizers()) {
  const closure = compileObjectsSync(closurePlan(packageDir, sanitize));
  const [program] = compileObjectsSync(objectPlan(packageDir, [file], testFlags(packageDir, sanitize)));
  return link([program, ...closure], exePath(packageDir, file, sanitize), sanitize);
}

/**
 * Build every C test program of a package, compiling on every core: the closure once, then each
 * test's own file. Returns, per file, the executable or the error that stopped it.
 */
async function buildCTests(packageDir, files, sanitize) {
  const flags = testFlags(packageDir, sanitize);
  let closure;
  try {
    closure = await compileObjects(closurePlan(packageDir, sanitize));
  } catch (error) {
    return files.map(() => ({ error }));
  }
  return Promise.all(
    files.map(async (file) => {
      try {
        const [program] = await compileObjects(objectPlan(packageDir, [file], flags));
        return { exe: link([program, ...closure], exePath(packageDir, file, sanitize), sanitize) };
      } catch (error) {
        return { error };
      }
    }),
  );
}

/** Run a built C test; returns its cases and how it ended. */
export function runCTest(exe) {
  const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' };
  const result = spawnSync(exe, [], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS, env });
  const cases = [];
  for (const line of (result.stdout || '').split('\n')) {
    const match = /^(ok|FAIL|skip) (\S+)(?: # (.*))?$/.exec(line);
    if (match) cases.push({ name: match[2], ok: match[1] !== 'FAIL', skipped: match[1] === 'skip' ? match[3] || 'skipped' : null });
  }
  return {
    cases,
    status: result.status,
    signal: result.signal,
    error: result.error ? String(result.error) : null,
    output: `${result.stdout || ''}${result.stderr || ''}`,
  };
}

/**
 * Check that the core (csrc/*.c) compiles with no OS headers at all: only the
 * compiler's own freestanding headers (stdint, stddef, stdbool, stdatomic)
 * and dbos headers are reachable.  Returns one entry per file.
 */
export function checkFreestanding(packageDir) {
  const gccInclude = spawnSync(CC, ['-print-file-name=include'], { encoding: 'utf8' }).stdout.trim();
  const includes = nativeBuild.includeDirs(packageDir);
  const own = nativeBuild.sources(packageDir, 'core').filter((f) => f.startsWith(fs.realpathSync(packageDir) + path.sep));
  return own.map((file) => {
    const args = [...nativeBuild.flags.freestanding, `-isystem${gccInclude}`].concat(
      includes.map((d) => `-I${d}`),
      [file],
    );
    const result = compile(args);
    return { file, ...result };
  });
}

/**
 * Register the package's C tests with vitest.  Call at the top level of a
 * test file with `await`: `await defineCTests(dir, { test, expect })`.
 */
export async function defineCTests(packageDir, { test, expect }) {
  const files = cTestFiles(packageDir);
  const builds = await buildCTests(packageDir, files, sanitizers());
  for (const [index, file] of files.entries()) {
    const base = path.basename(file, '.c');
    const built = builds[index];
    if (built.error) {
      test(`${base}: compiles`, () => {
        throw built.error;
      });
      continue;
    }
    const run = runCTest(built.exe);
    for (const c of run.cases) {
      if (c.skipped) {
        // A case the program skipped is reported as skipped (with why), never as passed.
        test.skip(`${base}: ${c.name} (skipped: ${c.skipped})`, () => {});
        continue;
      }
      test(`${base}: ${c.name}`, () => {
        expect(c.ok, run.output).toBe(true);
      });
    }
    test(`${base}: exits cleanly`, () => {
      expect(run.error, run.output).toBeNull();
      expect(run.signal, run.output).toBeNull();
      expect(run.status, run.output).toBe(0);
    });
  }
}

export function defineFreestandingCheck(packageDir, { test, expect }) {
  for (const entry of checkFreestanding(packageDir)) {
    test(`freestanding: ${path.relative(packageDir, entry.file)}`, () => {
      expect(entry.ok, entry.output).toBe(true);
    });
  }
}

/**
 * The values of C constants as the compiler sees them, so a test can pin every number that C and
 * TypeScript share (opcodes, struct sizes and offsets, flags, limits) to its one source, the C
 * header. `values` maps a name to a C integer expression; `includes` are the headers to include
 * (from the package's closure). Returns each value as a bigint.
 *   cConstants(dir, ['dbos/hypercall_abi.h'], { OP_PREAD: 'DBOS_HC_PREAD', REQUEST: 'sizeof(struct dbos_hc_request)' })
 */
export function cConstants(packageDir, includes, values) {
  const outDir = path.join(packageDir, '.ctest');
  fs.mkdirSync(outDir, { recursive: true });
  const names = Object.keys(values);
  const source = [
    '#include <stdio.h>',
    '#include <stdint.h>',
    '#include <stddef.h>',
    ...includes.map((header) => `#include "${header}"`),
    'int main(void)',
    '{',
    // Signed values print as signed, everything else as unsigned 64-bit.
    ...names.map(
      (name) =>
        `\t{ __typeof__(${values[name]}) v = (${values[name]}); if ((__typeof__(v))-1 < (__typeof__(v))0) printf("%s %lld\\n", ${JSON.stringify(name)}, (long long)v); else printf("%s %llu\\n", ${JSON.stringify(name)}, (unsigned long long)v); }`,
    ),
    '\treturn 0;',
    '}',
  ].join('\n');
  const base = path.join(outDir, `constants-${process.pid}-${Date.now()}`);
  fs.writeFileSync(`${base}.c`, source);
  const includeArgs = nativeBuild.includeDirs(packageDir).map((d) => `-I${d}`);
  let run;
  try {
    const result = compile([...nativeBuild.flags.cTest, ...includeArgs, `${base}.c`, '-o', base]);
    if (!result.ok) throw new Error(`cConstants: compiling failed:\n${result.output}`);
    run = spawnSync(base, [], { encoding: 'utf8' });
  } finally {
    fs.rmSync(base, { force: true });
    fs.rmSync(`${base}.c`, { force: true });
  }
  if (run.status !== 0) throw new Error(`cConstants: the program failed: ${run.stderr}`);
  const out = {};
  for (const line of run.stdout.trim().split('\n')) {
    const [name, value] = line.split(' ');
    out[name] = BigInt(value);
  }
  return out;
}

function nodeIncludeDir() {
  const candidates = [process.env.npm_config_nodedir, path.dirname(path.dirname(process.execPath)), '/usr']
    .filter(Boolean)
    .map((dir) => path.join(dir, 'include', 'node'));
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
  if (!found) throw new Error(`Node's headers (node_api.h) not found in ${candidates.join(', ')}; set npm_config_nodedir`);
  return found;
}

/**
 * Build a Node-API addon that exists only for tests or benchmarks (a workload, a probe of
 * internals) into <package>/.ctest/<name>.node, so such code never ships in the package's addon.
 * `sources` (.c and .cc, relative to the package) are compiled with the package's include dirs,
 * node-addon-api and the addon flags; `withClosure` also compiles the package's host C closure in.
 * Rebuilds only when a source or header is newer than the output. Returns the .node path.
 */
export function buildTestAddon(packageDir, { name, sources, withClosure = false }) {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`buildTestAddon: bad name '${name}'`);
  const outDir = path.join(packageDir, '.ctest');
  fs.mkdirSync(outDir, { recursive: true });
  const output = path.join(outDir, `${name}.node`);
  const files = sources.map((file) => path.resolve(packageDir, file)).concat(withClosure ? nativeBuild.sources(packageDir, 'host') : []);
  const includeDirs = nativeBuild.includeDirs(packageDir);
  const headers = includeDirs.flatMap((dir) => nativeBuild.listFiles(path.join(dir, 'dbos'), '.h'));
  const newest = Math.max(...files.concat(headers).map((file) => fs.statSync(file).mtimeMs));
  if (fs.existsSync(output) && fs.statSync(output).mtimeMs >= newest) return output;
  const addonApi = path.dirname(require.resolve('node-addon-api/package.json', { paths: [packageDir] }));
  const { addon } = nativeBuild.flags;
  const common = [
    ...addon.cflags,
    '-fPIC',
    ...addon.defines.map((d) => `-D${d}`),
    `-I${nodeIncludeDir()}`,
    `-I${addonApi}`,
    ...includeDirs.map((d) => `-I${d}`),
  ];
  const objects = files.map((file, index) => {
    const object = path.join(outDir, `${name}-${index}-${path.basename(file)}.o`);
    const cxx = file.endsWith('.cc') || file.endsWith('.cpp');
    const args = [...common, ...(cxx ? addon.cflags_cc : addon.cflags_c), '-c', file, '-o', object];
    const result = spawnSync(cxx ? process.env.CXX || 'g++' : CC, args, { encoding: 'utf8' });
    if (result.status !== 0)
      throw new Error(`buildTestAddon: compiling ${path.relative(packageDir, file)} failed:\n${result.stdout}${result.stderr}`);
    return object;
  });
  const tmp = `${output}.tmp`;
  const link = spawnSync(process.env.CXX || 'g++', ['-shared', '-pthread', '-o', tmp, ...objects], { encoding: 'utf8' });
  if (link.status !== 0) throw new Error(`buildTestAddon: linking failed:\n${link.stdout}${link.stderr}`);
  fs.renameSync(tmp, output);
  for (const object of objects) fs.rmSync(object, { force: true });
  return output;
}

/** /dev/kvm opens for this process. */
function kvmOpens() {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', fs.constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a package's guest tests must run here: where /dev/kvm opens, and everywhere under
 * DBOS_REQUIRE_KVM=1 (machines meant to have KVM), so a broken runner fails instead of skipping.
 * Says once why they are skipped otherwise.
 */
export function guestTestsRequired() {
  const required = kvmOpens() || process.env.DBOS_REQUIRE_KVM === '1';
  if (!required) console.log('guest tests skipped: /dev/kvm does not open for this process');
  return required;
}
