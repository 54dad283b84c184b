// defineHostileSuite(): one vitest test per hostile case, each run in a child process, so a
// segfault, an abort or a hang is a failing test that names the case, the seed and the last call.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CaseTable } from './cases.js';

interface VitestLike {
  test: (name: string, fn: () => void, timeout?: number) => void;
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

/** Run one case in a child; returns null when it held, else why it did not. */
export function runHostileCase(modulePath: string, name: string, options: HostileSuiteOptions = {}): string | null {
  const seed = caseSeed(name);
  const runs = options.runs ?? hostileRuns();
  const traceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-hostile-'));
  const traceFile = path.join(traceDir, 'call');
  try {
    return runInChild(modulePath, name, seed, runs, traceFile, options);
  } finally {
    fs.rmSync(traceDir, { recursive: true, force: true });
  }
}

function runInChild(
  modulePath: string,
  name: string,
  seed: number,
  runs: number,
  traceFile: string,
  options: HostileSuiteOptions,
): string | null {
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', ...(options.nodeArgs ?? []), '--import', tsxLoader, runner, modulePath, name, String(seed), String(runs)],
    {
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, DBOS_HOSTILE_CHILD: '1', DBOS_HOSTILE_TRACE: traceFile },
    },
  );
  const replay = `replay: DBOS_HOSTILE_SEED=${process.env.DBOS_HOSTILE_SEED ?? 0} (case seed ${seed}, ${runs} runs)`;
  if (child.error && (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    return `${name}: hung (no result in ${options.timeoutMs ?? 60_000} ms); last call: ${lastCall(traceFile)}; ${replay}`;
  }
  if (child.signal) return `${name}: the process died with ${child.signal}; last call: ${lastCall(traceFile)}; ${replay}`;
  if (child.status === 0) return null;
  const failure = /hostile-failure: ([\s\S]*)$/.exec(child.stderr ?? '');
  const reason = failure
    ? failure[1]!.trim()
    : `exit status ${child.status}; last call: ${lastCall(traceFile)}\n${(child.stderr ?? '').slice(-4000)}`;
  return `${name}: ${reason}\n${replay}`;
}

/**
 * Register one vitest test per case of a cases module (its default export is a CaseTable).
 * Call at the top level of a test file with `await`.
 */
export async function defineHostileSuite(vitest: VitestLike, casesModule: URL | string, options: HostileSuiteOptions = {}): Promise<void> {
  const modulePath = typeof casesModule === 'string' ? casesModule : fileURLToPath(casesModule);
  const table = (await import(pathToFileURL(modulePath).href)).default as CaseTable;
  const timeout = (options.timeoutMs ?? 60_000) + 10_000;
  for (const name of Object.keys(table)) {
    vitest.test(
      `hostile: ${name}`,
      () => {
        const failure = runHostileCase(modulePath, name, options);
        vitest.expect(failure, failure ?? '').toBe(null);
      },
      timeout,
    );
  }
}
