// The native half of the scheduler benchmark: builds bench/sched_bench (the load generator, the
// peers and dbos/scheduler.h linked with the package's C closure) and runs one configuration per
// process, so no run inherits another's threads, stacks or timers.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const nativeBuild = require('@dbos/native-build') as {
  sources(dir: string, runtime: string): string[];
  includeDirs(dir: string): string[];
  flags: { warnings: string[] };
};

/** One configuration's line from `sched_bench run` (or its refusal). */
export interface NativeRun {
  system: string;
  notRun?: string;
  scenario: 'steady' | 'bimodal';
  workers: number;
  quantumUs: number;
  load: number;
  shortRate: number;
  durationMs: number;
  arrivals: number;
  shorts: number;
  shortsUnfinished: number;
  drained: boolean;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
  scansFinished: number;
  sparesUsed: number;
  spares: number;
  tasksPerSecond: number;
  workMsPerSecond: number;
  dispatcherPolicy: string;
  dispatcherLateP99Us: number;
  dispatcherLateMaxUs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  priorityFailures?: number;
  createFailures?: number;
  timerSignals?: number;
  preemptSafepoint?: number;
  preemptImmediate?: number;
  switches?: number;
  switchNs?: number;
  mechanism?: string;
}

export interface NativeBuild {
  exe: string;
  /** Null when dbos/scheduler.h's implementation linked; else the linker's first complaint. */
  dbosMissing: string | null;
}

/**
 * Compile bench/*.c with -O2 against the package's host C closure. When the scheduler's sources
 * do not link (yet), build the peers alone (they need no dbos source) and say why dbos is absent.
 */
export function buildNative(packageDir: string): NativeBuild {
  const exe = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-scheduler-bench-')), 'sched_bench');
  const benchSources = fs
    .readdirSync(path.join(packageDir, 'bench'))
    .filter((name) => name.endsWith('.c'))
    .map((name) => path.join(packageDir, 'bench', name));
  const compile = (withDbos: boolean) =>
    spawnSync(
      process.env.CC || 'cc',
      ['-std=gnu11', '-O2', '-pthread', ...nativeBuild.flags.warnings]
        .concat(nativeBuild.includeDirs(packageDir).map((dir) => `-I${dir}`))
        .concat(withDbos ? ['-DSCHED_BENCH_WITH_DBOS', ...nativeBuild.sources(packageDir, 'host')] : [])
        .concat(benchSources, ['-o', exe, '-lm', '-lrt']),
      { encoding: 'utf8' },
    );
  const full = compile(true);
  if (full.status === 0) return { exe, dbosMissing: null };
  const peers = compile(false);
  if (peers.status !== 0) throw new Error(`compiling bench/sched_bench failed:\n${peers.stderr}`);
  const first = full.stderr.split('\n').find((line) => /error|undefined reference/.test(line)) ?? `exit ${full.status}`;
  return { exe, dbosMissing: first.trim() };
}

export function calibrate(exe: string): number {
  const result = spawnSync(exe, ['calibrate'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`sched_bench calibrate failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { iterationsPerUs: number }).iterationsPerUs;
}

export function runNative(exe: string, options: Record<string, string | number>): NativeRun {
  const args = ['run', ...Object.entries(options).map(([key, value]) => `${key}=${value}`)];
  const result = spawnSync(exe, args, { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`sched_bench ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}`);
  const line = result.stdout.split('\n').find((text) => text.startsWith('{'));
  if (!line) throw new Error(`sched_bench ${args.join(' ')} printed no result: ${result.stdout}`);
  return JSON.parse(line) as NativeRun;
}
