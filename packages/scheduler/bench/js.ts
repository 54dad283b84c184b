// The JavaScript half of the scheduler benchmark: TaskPool against piscina (a FIFO worker pool)
// on the native workload's shape done in JavaScript (bench/js-tasks.mjs): short tasks of ~20 µs
// of busy work, scans of ~500 ms in 2 µs units that poll shouldYield() and await yieldNow().
// Open loop again: the main thread submits from a schedule computed up front (the same seed, and
// @dbos/benchmarks/workload's Random, for both pools) and measures completion (the result promise
// settling) minus scheduled arrival. Node's timers fire on millisecond boundaries, so arrivals are
// handed over up to ~1 ms late, for both pools alike; that lateness counts in the latency. Fewer
// arrivals than natively: each JavaScript task costs two messages between threads.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Piscina, version as piscinaVersion } from 'piscina';
import { benchCase, type BenchCase } from '@dbos/benchmarks/report';
import { Random } from '@dbos/benchmarks/workload';
import { TaskPool } from '../src/index.js';
import { spin, type ScanWork, type ShortWork } from './js-tasks.mjs';

export interface JavaScriptResult {
  cases: BenchCase[];
  notes: string[];
}

const WORKERS = 2;
const UNIT_US = 2;
const SHORT_UNITS = 10; // 20 µs
const SCAN_UNITS = 250_000; // 500 ms
const LONG_FRACTION = 0.005;
const STEADY_SHORT_RATE = 500;
const SCANS_MAX = 256;
const DRAIN_LIMIT_MS = 20_000;

interface JsSystem {
  name: string;
  quantumUs: number;
  short(work: ShortWork): Promise<unknown>;
  scan(work: ScanWork): Promise<unknown>;
  close(): Promise<void>;
}

interface Arrival {
  atMs: number;
  scan: boolean;
}

interface JsRun {
  system: string;
  quantumUs: number;
  scenario: string;
  shorts: number;
  unfinished: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  tasksPerSecond: number;
  workMsPerSecond: number;
  lateP99Us: number;
}

interface JsScenario {
  key: string;
  label: string;
  steady: boolean;
  /** Short tasks per second (steady) or load (bimodal). */
  rate: number;
  durationMs: number;
}

function schedule(scenario: JsScenario, seed: number): Arrival[] {
  const random = new Random(seed);
  const meanUs = (1 - LONG_FRACTION) * SHORT_UNITS * UNIT_US + LONG_FRACTION * SCAN_UNITS * UNIT_US;
  const perMs = scenario.steady ? scenario.rate / 1000 : (scenario.rate * WORKERS * 1000) / meanUs;
  const arrivals: Arrival[] = [];
  for (let at = 0; ; ) {
    at += -Math.log(random.unit()) / perMs; // exponential gaps: Poisson arrivals
    if (at >= scenario.durationMs) return arrivals;
    arrivals.push({ atMs: at, scan: !scenario.steady && random.unit() < LONG_FRACTION });
  }
}

/**
 * Spin iterations per µs of CPU time (fastest of 5: interruptions only slow a round down). The
 * process's CPU clock stands in for the thread's: nothing else in this process runs meanwhile.
 */
function calibrate(): number {
  const iterations = 10_000_000;
  spin(iterations);
  let best = 0;
  for (let round = 0; round < 5; round++) {
    const start = process.cpuUsage();
    spin(iterations);
    const used = process.cpuUsage(start);
    best = Math.max(best, iterations / (used.user + used.system));
  }
  return best;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function runScenario(system: JsSystem, scenario: JsScenario, arrivals: Arrival[], iterationsPerUnit: number): Promise<JsRun> {
  const stop = new SharedArrayBuffer(4);
  const progress = new SharedArrayBuffer(SCANS_MAX * 16 * 4);
  const stopWord = new Int32Array(stop);
  const progressWords = new Int32Array(progress);
  const shortWork: ShortWork = { iterationsPerUnit, units: SHORT_UNITS };
  const scans: Promise<unknown>[] = [];
  const shorts: Promise<void>[] = [];
  const latenciesUs: number[] = [];
  const lateUs: number[] = [];
  let ending = false;
  let shortsDoneInWindow = 0;
  let scansDoneInWindow = 0;
  const start = performance.now() + 20;
  const windowEnd = start + scenario.durationMs;

  const submitScan = () => {
    if (scans.length >= SCANS_MAX) return;
    const done = system.scan({ iterationsPerUnit, units: SCAN_UNITS, stop, progress, slot: scans.length }).then(() => {
      if (performance.now() <= windowEnd && Atomics.load(stopWord, 0) === 0) scansDoneInWindow++;
      if (scenario.steady && !ending) submitScan(); // one scan per worker at all times
    });
    scans.push(done);
  };
  const submitShort = (arrivalAt: number) => {
    shorts.push(
      system.short(shortWork).then(() => {
        const now = performance.now();
        latenciesUs.push((now - arrivalAt) * 1000);
        if (now <= windowEnd) shortsDoneInWindow++;
      }),
    );
  };

  await sleep(Math.max(0, start - performance.now()));
  if (scenario.steady) for (let i = 0; i < WORKERS; i++) submitScan();
  let next = 0;
  while (next < arrivals.length) {
    const now = performance.now();
    while (next < arrivals.length && start + arrivals[next]!.atMs <= now) {
      const arrival = arrivals[next++]!;
      lateUs.push((now - start - arrival.atMs) * 1000);
      if (arrival.scan) submitScan();
      else submitShort(start + arrival.atMs);
    }
    if (next < arrivals.length) await sleep(Math.max(0, start + arrivals[next]!.atMs - performance.now()));
  }
  await sleep(Math.max(0, windowEnd - performance.now()));
  let scanUnits = 0;
  for (let slot = 0; slot < scans.length; slot++) scanUnits += Atomics.load(progressWords, slot * 16);
  const workUnits = scanUnits + shortsDoneInWindow * SHORT_UNITS;
  const tasksInWindow = shortsDoneInWindow + scansDoneInWindow;

  const drained = await Promise.race([Promise.all(shorts).then(() => true), sleep(DRAIN_LIMIT_MS).then(() => false)]);
  ending = true;
  Atomics.store(stopWord, 0, 1);
  await Promise.all(scans);
  latenciesUs.sort((a, b) => a - b);
  lateUs.sort((a, b) => a - b);
  const seconds = scenario.durationMs / 1000;
  return {
    system: system.name,
    quantumUs: system.quantumUs,
    scenario: scenario.key,
    shorts: shorts.length,
    unfinished: drained ? 0 : shorts.length - latenciesUs.length,
    p50Us: percentile(latenciesUs, 50),
    p99Us: percentile(latenciesUs, 99),
    p999Us: percentile(latenciesUs, 99.9),
    maxUs: latenciesUs.at(-1) ?? 0,
    tasksPerSecond: tasksInWindow / seconds,
    workMsPerSecond: (workUnits * UNIT_US) / 1000 / seconds,
    lateP99Us: percentile(lateUs, 99),
  };
}

function piscinaSystem(tasksUrl: string): JsSystem {
  const pool = new Piscina({ filename: tasksUrl, minThreads: WORKERS, maxThreads: WORKERS, idleTimeout: 60_000 });
  return {
    name: 'piscina',
    quantumUs: 0,
    short: (work) => pool.run(work, { name: 'short' }),
    scan: (work) => pool.run(work, { name: 'scan' }),
    close: () => pool.destroy(),
  };
}

function taskPoolSystem(tasksUrl: string, quantumUs: number): JsSystem {
  // Scans yield every 2 µs, so no turn comes near the default hard limit: nothing is reported.
  const pool = new TaskPool({ size: WORKERS, quantumUs, module: tasksUrl });
  return {
    name: 'dbos TaskPool',
    quantumUs,
    short: (work) => pool.run({ name: 'short', args: [work] }, { priority: 'latency' }),
    scan: (work) => pool.run({ name: 'scan', args: [work] }, { priority: 'background' }),
    close: () => pool.close(),
  };
}

/** JIT both the tasks and the pool's own paths before anything is timed. */
async function warmUp(system: JsSystem, iterationsPerUnit: number): Promise<void> {
  const stop = new SharedArrayBuffer(4);
  const progress = new SharedArrayBuffer(64);
  const work: ShortWork = { iterationsPerUnit, units: SHORT_UNITS };
  for (let round = 0; round < 20; round++) {
    await Promise.all([
      system.scan({ iterationsPerUnit, units: 500, stop, progress, slot: 0 }),
      ...Array.from({ length: 20 }, () => system.short(work)),
    ]);
  }
}

function fmt(us: number): string {
  return us >= 10_000 ? `${(us / 1000).toFixed(0)} ms` : us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`;
}

export async function runJavaScript(packageDir: string, profile: 'quick' | 'full'): Promise<JavaScriptResult> {
  const full = profile === 'full';
  if (!fs.existsSync(path.join(packageDir, 'dist', 'worker.js')))
    return { cases: [], notes: ['JavaScript tasks: not run — dist/worker.js is missing (build the package first: pnpm run build).'] };
  const tasksUrl = pathToFileURL(path.join(packageDir, 'bench', 'js-tasks.mjs')).href;
  const iterationsPerUs = calibrate();
  const iterationsPerUnit = Math.round(iterationsPerUs * UNIT_US);
  const scenarios: JsScenario[] = [
    {
      key: 'js-steady',
      label: `JavaScript, steady: a 500 ms scan on every worker, ${STEADY_SHORT_RATE} short tasks/s`,
      steady: true,
      rate: STEADY_SHORT_RATE,
      durationMs: full ? 10_000 : 2_000,
    },
    ...[0.5, 0.7].map((load) => ({
      key: `js-bimodal-${load * 100}`,
      label: `JavaScript, bimodal 99.5 % 20 µs / 0.5 % 500 ms, ${load * 100} % load`,
      steady: false,
      rate: load,
      durationMs: full ? 15_000 : 3_000,
    })),
  ];
  const quanta = full ? [50, 200, 1000] : [200, 1000];
  const cases: BenchCase[] = [];
  const table = [
    '| scenario | system | short p50 | short p99 | short p99.9 | short max | tasks/s | work ms/s | arrival late p99 |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const scenario of scenarios) {
    const arrivals = schedule(scenario, 7);
    const runs: JsRun[] = [];
    for (const make of [() => piscinaSystem(tasksUrl), ...quanta.map((q) => () => taskPoolSystem(tasksUrl, q))]) {
      const system = make();
      await warmUp(system, iterationsPerUnit);
      const run = await runScenario(system, scenario, arrivals, iterationsPerUnit);
      await system.close();
      runs.push(run);
      const name = run.quantumUs ? `${run.system} q=${run.quantumUs} µs` : run.system;
      const unfinished = run.unfinished ? ` (${run.unfinished} unfinished)` : '';
      table.push(
        `| ${scenario.key} | ${name} | ${fmt(run.p50Us)} | ${fmt(run.p99Us)} | ${fmt(run.p999Us)} | ${fmt(run.maxUs)}${unfinished} | ` +
          `${run.tasksPerSecond.toFixed(0)} | ${run.workMsPerSecond.toFixed(0)} | ${fmt(run.lateP99Us)} |`,
      );
      console.log(
        `${scenario.key.padEnd(14)} ${name.padEnd(26)} p50 ${fmt(run.p50Us).padStart(8)} p99 ${fmt(run.p99Us).padStart(8)} ` +
          `p99.9 ${fmt(run.p999Us).padStart(8)} ${run.tasksPerSecond.toFixed(0)} tasks/s, ${run.workMsPerSecond.toFixed(0)} work ms/s`,
      );
    }
    const fifo = runs.find((run) => run.system === 'piscina')!;
    for (const run of runs.filter((r) => r.quantumUs))
      cases.push(
        benchCase({
          case: `${scenario.label}, quantum ${run.quantumUs} µs: TaskPool vs piscina`,
          metric: 'short-task latency p99',
          unit: 'µs',
          value: run.p99Us,
          baseline: { system: `piscina ${piscinaVersion}, ${WORKERS} threads (FIFO)`, value: fifo.p99Us },
          higherIs: 'worse',
          target: 10,
        }),
      );
  }
  const notes = [
    `JavaScript tasks (${WORKERS} workers each; spin calibrated at ${iterationsPerUs.toFixed(0)} iterations per µs of CPU on the main thread; short = ${SHORT_UNITS} units of ${UNIT_US} µs, ` +
      `scan = ${SCAN_UNITS} units polling shouldYield() after each; latency = result settled on the main thread − scheduled arrival; ` +
      'each pool warmed up (JIT) before its window):\n\n' +
      table.join('\n'),
  ];
  return { cases, notes };
}
