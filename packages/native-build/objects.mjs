// Object files for the C test programs, compiled once and reused.
//
// Every C test program of a package links the package's whole host closure (its core, its host
// runtime and the cores it builds on: 50+ files for @dbos/kv). Compiling the closure into each
// program made the C tests cost (programs x closure) compiles, minutes under a sanitizer. Here
// each source is compiled once per flag set into <package>/.ctest/obj-<flags>/ and reused until
// it, or a header it included, changes: the compiler writes each object's dependencies (-MMD)
// beside it, the way make does, so a stale object is never linked.
//
// compileObjects runs up to one compiler per core; compileObjectsSync one at a time, for callers
// that cannot await (a test file's top level that builds one program).
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CC = process.env.CC || 'cc';
const JOBS = Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);

/**
 * Where each of `sources` compiles to under `flags` in `packageDir`'s .ctest: one folder per flag
 * set (sanitizers change every object), one object per source path.
 */
export function objectPlan(packageDir, sources, flags) {
  const flagsKey = crypto.createHash('sha1').update(flags.join('\0')).digest('hex').slice(0, 10);
  const dir = path.join(packageDir, '.ctest', `obj-${flagsKey}`);
  return sources.map((source) => {
    const sourceKey = crypto.createHash('sha1').update(source).digest('hex').slice(0, 10);
    const object = path.join(dir, `${path.basename(source, path.extname(source))}-${sourceKey}.o`);
    return { source, object, deps: `${object}.d`, args: [...flags, '-c', source] };
  });
}

/** The files an object was built from, as the compiler listed them in its .d file; null when unknown. */
function dependencies(depsFile) {
  let text;
  try {
    text = fs.readFileSync(depsFile, 'utf8');
  } catch {
    return null;
  }
  const colon = text.indexOf(': ');
  if (colon < 0) return null;
  // Make syntax: "target: dep dep \<newline> dep"; a space inside a path is escaped as "\ ".
  return text
    .slice(colon + 2)
    .replace(/\\\n/g, ' ')
    .split(/(?<!\\) +/)
    .map((name) => name.trim().replace(/\\ /g, ' '))
    .filter(Boolean);
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY; // gone: whatever depended on it is stale
  }
}

/** Whether `item` must be compiled: no object, no dependency list, or something it read is newer. */
export function isStale(item) {
  const built = fs.existsSync(item.object) ? fs.statSync(item.object).mtimeMs : null;
  if (built === null) return true;
  const deps = dependencies(item.deps);
  if (!deps || deps.length === 0) return true;
  return deps.some((dep) => mtime(dep) > built);
}

// The compiler writes to temporary names, renamed into place only on success, so an interrupted
// or failed compile never leaves an object that looks up to date.
function command(item) {
  const tmp = `${item.object}.${process.pid}.tmp`;
  return { tmp, args: [...item.args, '-MMD', '-MF', `${tmp}.d`, '-o', tmp] };
}

function settle(item, tmp, status, output) {
  if (status !== 0) {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(`${tmp}.d`, { force: true });
    throw new Error(`compiling ${path.basename(item.source)} failed:\n${output}`);
  }
  fs.renameSync(`${tmp}.d`, item.deps);
  fs.renameSync(tmp, item.object);
}

/** Compile the stale items of `plan`, one at a time. Returns the object paths, in order. */
export function compileObjectsSync(plan) {
  for (const item of plan.filter(isStale)) {
    fs.mkdirSync(path.dirname(item.object), { recursive: true });
    const { tmp, args } = command(item);
    const result = spawnSync(CC, args, { encoding: 'utf8' });
    if (result.error) throw result.error;
    settle(item, tmp, result.status, `${result.stdout}${result.stderr}`);
  }
  return plan.map((item) => item.object);
}

function compileOne(item) {
  fs.mkdirSync(path.dirname(item.object), { recursive: true });
  const { tmp, args } = command(item);
  return new Promise((resolve, reject) => {
    const child = spawn(CC, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) => {
      try {
        settle(item, tmp, status, output);
        resolve();
      } catch (error) {
        reject(error);
      }
    });
  });
}

/**
 * Compile the stale items of `plan`, up to one compiler per core. Returns the object paths, in
 * order; rejects with the first failure's compiler output once the compilers started have ended.
 */
export async function compileObjects(plan) {
  const queue = plan.filter(isStale);
  let failure = null;
  async function worker() {
    for (let item = queue.shift(); item && !failure; item = queue.shift()) {
      try {
        await compileOne(item);
      } catch (error) {
        failure = failure || error;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(JOBS, queue.length) }, worker));
  if (failure) throw failure;
  return plan.map((item) => item.object);
}
