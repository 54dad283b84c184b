// The benchmark result contract: every package's bench writes benchmarks/results/<package>.json
// in this shape, and check.ts reads them back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
}

export interface BenchCase {
  /** What was measured, with its configuration ("random 4 KiB read, batch 32, io_uring"). */
  case: string;
  /** "throughput", "latency p99", "stall", … */
  metric: string;
  /** "ops/s", "µs", "ms", "pages/s", … */
  unit: string;
  value: number;
  baseline: { system: string; value: number };
  /** ours / baseline, oriented so that higher is better for us. */
  ratio: number;
  /** The ratio the issue asks for, or null when the case is informational. */
  target: number | null;
  met: boolean | null;
}

/**
 * A line chart a result carries besides its cases: a time series (x in seconds, say throughput or
 * p99 over a run) or a latency distribution (x a percentile, y a latency). The report draws each
 * as a line chart, one line per series; `marks` are labelled vertical rules (a BGSAVE at 0 s).
 */
export interface LineFigure {
  /** Part of the chart's file name: results/charts/<result>-<id>.svg. Lower case, digits, '-'. */
  id: string;
  title: string;
  kind: 'timeseries' | 'distribution';
  x: { title: string };
  y: { title: string; scale?: 'linear' | 'log' };
  series: { name: string; points: [number, number][] }[];
  marks?: { x: number; label: string }[];
}

/**
 * Grouped bars: one group per category (a case, a line of a bench), one bar per system in each
 * group, every value in the one unit `y.title` names (cases of different units go in different
 * figures). `series[i].values[j]` is system i's value in `categories[j]`; null where that system
 * was not measured there. Shows every peer, where a case keeps only the best one.
 */
export interface BarFigure {
  id: string;
  title: string;
  kind: 'bars';
  /** What the categories are ("line"): the title of the category axis; null for none. */
  x: { title: string | null };
  categories: string[];
  /** The unit as the axis title ("ops/s"); `scale: 'log'` when the values span decades (barScale()). */
  y: { title: string; scale?: 'linear' | 'log' };
  series: { name: string; values: (number | null)[] }[];
}

/** A figure a result carries besides its cases, drawn as a chart of its own (charts.ts). */
export type BenchFigure = LineFigure | BarFigure;

/** The y scale for bars of these values: log when the positive ones span more than 20x (a decade and more). */
export function barScale(values: (number | null)[]): 'linear' | 'log' {
  const positive = values.filter((v): v is number => v !== null && Number.isFinite(v) && v > 0);
  if (positive.length < 2 || positive.length < values.filter((v) => v !== null).length) return 'linear';
  return Math.max(...positive) / Math.min(...positive) > 20 ? 'log' : 'linear';
}

/**
 * Build a bars figure: values rounded as a case's are, the y axis titled with the unit, on a log
 * scale when the values span decades (barScale).
 */
export function barFigure(options: {
  id: string;
  title: string;
  categoryTitle: string | null;
  categories: string[];
  unit: string;
  series: { name: string; values: (number | null)[] }[];
}): BarFigure {
  const series = options.series.map((s) => ({ name: s.name, values: s.values.map((v) => (v === null ? null : round(v))) }));
  return {
    id: options.id,
    title: options.title,
    kind: 'bars',
    x: { title: options.categoryTitle },
    categories: options.categories,
    y: { title: options.unit, scale: barScale(series.flatMap((s) => s.values)) },
    series,
  };
}

export interface BenchResult {
  package: string;
  version: string;
  date: string;
  profile: 'quick' | 'full';
  machine: MachineInfo;
  runtime: 'host' | 'guest';
  kvm: 'hardware' | 'pvm' | 'none' | 'not-used';
  cases: BenchCase[];
  notes?: string[];
  figures?: BenchFigure[];
}

/** Where results go: benchmarks/results/, or DBOS_BENCH_RESULTS_DIR for a trial run. */
export const resultsDir = process.env.DBOS_BENCH_RESULTS_DIR ?? fileURLToPath(new URL('../results/', import.meta.url));

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
  };
}

/** The profile from `pnpm bench --full` (DBOS_BENCH_PROFILE=full) or the quick default. */
export function benchProfile(): 'quick' | 'full' {
  return process.env.DBOS_BENCH_PROFILE === 'full' ? 'full' : 'quick';
}

/**
 * The fields every package's result fills the same way: name and version from its package.json,
 * the date, the profile and the machine. `packageJsonUrl`: `new URL('../package.json', import.meta.url)`.
 */
export function resultHeader(packageJsonUrl: URL): Pick<BenchResult, 'package' | 'version' | 'date' | 'profile' | 'machine'> {
  const manifest = JSON.parse(fs.readFileSync(packageJsonUrl, 'utf8')) as { name: string; version: string };
  return {
    package: manifest.name,
    version: manifest.version,
    date: new Date().toISOString(),
    profile: benchProfile(),
    machine: machineInfo(),
  };
}

export type HigherIs = 'better' | 'worse';

/**
 * Build one case. `higherIs` says how the metric reads: for throughput
 * higher is better (ratio = ours / baseline), for latency or stall time
 * higher is worse (ratio = baseline / ours).
 */
export function benchCase(options: {
  case: string;
  metric: string;
  unit: string;
  value: number;
  baseline: { system: string; value: number };
  higherIs: HigherIs;
  target?: number | null;
}): BenchCase {
  const { value, baseline, higherIs } = options;
  const ratio = higherIs === 'better' ? value / baseline.value : baseline.value / value;
  const target = options.target ?? null;
  return {
    case: options.case,
    metric: options.metric,
    unit: options.unit,
    value: round(value),
    baseline: { system: baseline.system, value: round(baseline.value) },
    ratio: round(ratio),
    target,
    met: target === null ? null : ratio >= target,
  };
}

function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  const magnitude = Math.abs(x);
  const digits = magnitude >= 100 ? 1 : magnitude >= 1 ? 3 : 6;
  return Number(x.toFixed(digits));
}

export function writeResult(result: BenchResult): string {
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${result.package.replace(/^@dbos\//, '')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
