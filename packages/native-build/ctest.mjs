// C unit tests and the freestanding check, run from vitest.
//
// Each package's test/c/*.c is compiled together with the host C closure of
// the package (its core, its host runtime and the cores it builds on) and run
// once at collection time; every "ok NAME" / "FAIL NAME" line it prints
// becomes one vitest test, and one more test checks that the program exited
// cleanly (a crash or a sanitizer report fails it).  DBOS_SANITIZE
// (e.g. "address,undefined") builds the programs with those sanitizers.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const nativeBuild = require('./index.cjs');

const CC = process.env.CC || 'cc';
const RUN_TIMEOUT_MS = 120_000;

export function sanitizers() {
  const value = (process.env.DBOS_SANITIZE || '').trim();
  return value ? value.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

export function cTestFiles(packageDir) {
  const dir = path.join(packageDir, 'test', 'c');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(dir, f));
}

function compile(args) {
  const result = spawnSync(CC, args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

/** Compile one C test program; returns the executable's path or throws with the compiler output. */
export function buildCTest(packageDir, file, sanitize = sanitizers()) {
  const outDir = path.join(packageDir, '.ctest');
  fs.mkdirSync(outDir, { recursive: true });
  const suffix = sanitize.length ? `-${sanitize.join('-')}` : '';
  const exe = path.join(outDir, path.basename(file, '.c') + suffix);
  const includes = nativeBuild.includeDirs(packageDir).concat([nativeBuild.testHeaderDir]);
  const flags = ['-std=gnu11', '-g', '-O1', '-Wall', '-Wextra', '-Wno-unused-parameter', '-pthread'];
  if (sanitize.length) flags.push(`-fsanitize=${sanitize.join(',')}`, '-fno-omit-frame-pointer', '-fno-sanitize-recover=all');
  const args = flags
    .concat(includes.map((d) => `-I${d}`))
    .concat(nativeBuild.sources(packageDir, 'host'), [file, '-o', exe, '-lpthread']);
  const result = compile(args);
  if (!result.ok) throw new Error(`compiling ${path.basename(file)} failed:\n${result.output}`);
  return exe;
}

/** Run a built C test; returns its cases and how it ended. */
export function runCTest(exe) {
  const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' };
  const result = spawnSync(exe, [], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS, env });
  const cases = [];
  for (const line of (result.stdout || '').split('\n')) {
    const match = /^(ok|FAIL) (\S+)$/.exec(line);
    if (match) cases.push({ name: match[2], ok: match[1] === 'ok' });
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
    const args = ['-std=c11', '-ffreestanding', '-nostdinc', `-isystem${gccInclude}`, '-fsyntax-only', '-Wall', '-Wextra', '-Werror', '-Wno-unused-parameter']
      .concat(includes.map((d) => `-I${d}`), [file]);
    const result = compile(args);
    return { file, ...result };
  });
}

/**
 * Register the package's C tests with vitest.  Call at the top level of a
 * test file with `await`: `await defineCTests(dir, { test, expect })`.
 */
export async function defineCTests(packageDir, { test, expect }) {
  for (const file of cTestFiles(packageDir)) {
    const base = path.basename(file, '.c');
    let built;
    try {
      built = { exe: buildCTest(packageDir, file) };
    } catch (err) {
      built = { error: err };
    }
    if (built.error) {
      test(`${base}: compiles`, () => {
        throw built.error;
      });
      continue;
    }
    const run = runCTest(built.exe);
    for (const c of run.cases) {
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
