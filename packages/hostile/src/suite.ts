// defineHostileSuite(): one vitest test per hostile case, each run in a child process, so a
// segfault, an abort or a hang is a failing test that names the case, the seed and the last call.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CaseTable } from './cases.js';

type TestFunction = (name: string, fn: () => void | Promise<void>, timeout?: number) => void;
interface VitestLike {
  /** vitest's `test`; its `concurrent` form, when there, runs the cases side by side. */
  test: TestFunction & { concurrent?: TestFunction };
  expect: (value: unknown, message?: string) => { toBe(expected: unknown): void };
}

/** Options of {@link defineHostileSuite}. */
export interface HostileSuiteOptions {
  /** Calls (or scenario iterations) per case; default DBOS_HOSTILE_RUNS, else 40 (CI budget). */
  runs?: number;
  /** Extra Node flags for the child, e.g. ['--expose-gc'] (always given). */
  nodeArgs?: string[];
  /** Per-case time limit; a case still running then is a hang. Default 60 s. */
  timeoutMs?: number;
}

/** Calls per case: DBOS_HOSTILE_RUNS, or 40; DBOS_HOSTILE_LONG=1 multiplies by 25 (the long mode). */
export function hostileRuns(fallback = 40): number {
  const configured = Number(process.env.DBOS_HOSTILE_RUNS);
  const runs = Number.isInteger(configured) && configured > 0 ? configured : fallback;
  return process.env.DBOS_HOSTILE_LONG === '1' ? runs * 25 : runs;
}

/** The seed of a case: fixed per case name (CI is reproducible), shifted by DBOS_HOSTILE_SEED. */
export function caseSeed(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const shift = Number(process.env.DBOS_HOSTILE_SEED ?? 0) >>> 0;
  return (hash ^ shift) | 0;
}

const runner = fileURLToPath(new URL('./runner.ts', import.meta.url));
const tsxLoader = import.meta.resolve('tsx');

/** The call a child was making when it died. */
function lastCall(traceFile: string): string {
  try {
    return fs.readFileSync(traceFile, 'utf8') || '(before the first call)';
  } catch {
    return '(before the first call)';
  }
}

/** Run one case in a child; resolves to null when it held, else to why it did not. */
export async function runHostileCase(modulePath: string, name: string, options: HostileSuiteOptions = {}): Promise<string | null> {
  const seed = caseSeed(name);
  const runs = options.runs ?? hostileRuns();
  const traceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-hostile-'));
  const traceFile = path.join(traceDir, 'call');
  try {
    return await runInChild(modulePath, name, seed, runs, traceFile, options);
  } finally {
    fs.rmSync(traceDir, { recursive: true, force: true });
  }
}

interface ChildEnd {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  timedOut: boolean;
}

// Children at once, across every suite of this process: one per core. A child is mostly Node's
// start-up and the loader compiling the cases, so cases of one file run side by side and a
// package's hostile suite takes about 1 / cores of the time it took one child at a time.
const CHILDREN_MAX = Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
let childrenRunning = 0;
const childQueue: (() => void)[] = [];

async function childSlot(): Promise<() => void> {
  if (childrenRunning >= CHILDREN_MAX) await new Promise<void>((resolve) => childQueue.push(resolve));
  childrenRunning++;
  return () => {
    childrenRunning--;
    childQueue.shift()?.();
  };
}

async function spawnChild(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ChildEnd> {
  const release = await childSlot();
  try {
    return await new Promise<ChildEnd>((resolve, reject) => {
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      let timedOut = false;
      child.stderr.setEncoding('utf8');
      // Keep the tail only: a child that floods stderr cannot grow this process without bound.
      child.stderr.on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-64 * 1024);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (status, signal) => {
        clearTimeout(timer);
        resolve({ status, signal, stderr, timedOut });
      });
    });
  } finally {
    release();
  }
}

async function runInChild(
  modulePath: string,
  name: string,
  seed: number,
  runs: number,
  traceFile: string,
  options: HostileSuiteOptions,
): Promise<string | null> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const child = await spawnChild(
    ['--expose-gc', ...(options.nodeArgs ?? []), '--import', tsxLoader, runner, modulePath, name, String(seed), String(runs)],
    { ...process.env, DBOS_HOSTILE_CHILD: '1', DBOS_HOSTILE_TRACE: traceFile },
    timeoutMs,
  );
  const replay = `replay: DBOS_HOSTILE_SEED=${process.env.DBOS_HOSTILE_SEED ?? 0} (case seed ${seed}, ${runs} runs)`;
  if (child.timedOut) return `${name}: hung (no result in ${timeoutMs} ms); last call: ${lastCall(traceFile)}; ${replay}`;
  if (child.signal) return `${name}: the process died with ${child.signal}; last call: ${lastCall(traceFile)}; ${replay}`;
  if (child.status === 0) return null;
  const failure = /hostile-failure: ([\s\S]*)$/.exec(child.stderr);
  const reason = failure
    ? failure[1]!.trim()
    : `exit status ${child.status}; last call: ${lastCall(traceFile)}\n${child.stderr.slice(-4000)}`;
  return `${name}: ${reason}\n${replay}`;
}

/**
 * Register one vitest test per case of a cases module (its default export is a CaseTable).
 * Call at the top level of a test file with `await`.
 */
export async function defineHostileSuite(vitest: VitestLike, casesModule: URL | string, options: HostileSuiteOptions = {}): Promise<void> {
  const modulePath = typeof casesModule === 'string' ? casesModule : fileURLToPath(casesModule);
  const table = (await import(pathToFileURL(modulePath).href)).default as CaseTable;
  const names = Object.keys(table);
  // A case may wait for a free core behind every other case of the file: its limit covers that.
  const timeout = (options.timeoutMs ?? 60_000) * Math.ceil(names.length / CHILDREN_MAX) + 10_000;
  const define = vitest.test.concurrent ?? vitest.test;
  for (const name of names) {
    define(
      `hostile: ${name}`,
      async () => {
        const failure = await runHostileCase(modulePath, name, options);
        vitest.expect(failure, failure ?? '').toBe(null);
      },
      timeout,
    );
  }
}
