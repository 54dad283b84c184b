// The benchmark report: benchmarks/REPORT.md with one SVG chart per result file under
// benchmarks/results/charts/, and the one summary table the root README opens with. Everything
// here is rendered from benchmarks/results/*.json; no number is typed by hand.
import path from 'node:path';
import { figureSpec, ratioChartSpec, renderSvg, verdictOf } from './charts.ts';
import type { BenchResult } from './report.ts';

export interface NamedResult {
  /** The result file's base name: "kv" for benchmarks/results/kv.json. */
  name: string;
  result: BenchResult;
}

export function formatValue(value: number): string {
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return String(value);
}

export function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return `${value}`;
  return `${value >= 10 ? value.toFixed(1) : value >= 0.1 ? value.toFixed(2) : value.toPrecision(2)}×`;
}

function target(c: BenchResult['cases'][number]): string {
  const verdict = verdictOf(c);
  return verdict === 'no target' ? '—' : `${c.target}× ${verdict === 'met' ? 'met' : '**missed**'}`;
}

/** "2026-12-07, quick profile, host runtime, KVM not-used; AMD EPYC, 2 cores, 23.5 GiB, Linux …, Node v20…". */
export function runLine(r: BenchResult): string {
  const m = r.machine;
  return (
    `${r.date.slice(0, 10)}, ${r.profile} profile, runtime ${r.runtime}, KVM ${r.kvm}; ` +
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node ?? '?'}`
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** A peer's name without the run's remark: "lmdb 3.5.6 (best peer)" → "lmdb 3.5.6". */
function peerName(system: string): string {
  return system.replace(/ \([^)]*\)$/, '');
}

/** Fixed bounds an issue set ("bound 150 µs", "budget") stand where a peer would; they are not systems. */
const BOUND = /^(bound|budget)\b|\bbound$/i;

/** The systems most cases were compared with, most used first; fixed bounds are counted apart. */
function describePeers(systems: string[]): string {
  const counts = new Map<string, number>();
  let bounds = 0;
  for (const system of systems) {
    if (BOUND.test(system)) bounds++;
    else counts.set(system, (counts.get(system) ?? 0) + 1);
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([system]) => system);
  // Semicolons: system names contain commas ("FIFO pthread pool, 2 workers").
  const shown = ranked.slice(0, 3).join('; ') + (ranked.length > 3 ? `; ${ranked.length - 3} more` : '');
  return bounds ? `${shown}${shown ? '; ' : ''}fixed bounds` : shown;
}

/**
 * One row per result file: what it was compared with, how many targets it met, and the spread of
 * its ratios (ours / peer, higher is better). `link(name)` gives the anchor of its full section.
 */
export function renderSummaryTable(results: NamedResult[], link: (name: string) => string): string {
  const lines = [
    '| package | compared with | cases | targets met | ratio, lowest · median · highest | run |',
    '|---|---|---:|:---:|:---:|---|',
  ];
  for (const { name, result: r } of results) {
    const ratios = r.cases.map((c) => c.ratio).filter((x) => Number.isFinite(x));
    const targeted = r.cases.filter((c) => c.met !== null);
    const met = targeted.filter((c) => c.met).length;
    const shown = describePeers(r.cases.map((c) => peerName(c.baseline.system)));
    const spread = ratios.length
      ? `${formatRatio(Math.min(...ratios))} · ${formatRatio(median(ratios))} · ${formatRatio(Math.max(...ratios))}`
      : '—';
    const verdict = targeted.length ? `${met} of ${targeted.length}` : '—';
    lines.push(
      `| [${r.package}](${link(name)}) | ${shown} | ${r.cases.length} | ${verdict} | ${spread} | ${r.date.slice(0, 10)}, ${r.profile}, ${r.machine.cpu}, ${r.machine.cores} cores |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Every case of one result: both systems, the ratio and the verdict, numbered as on its chart. */
export function renderCaseTable(r: BenchResult): string {
  const lines = ['| # | case | dbos | peer | ratio | target |', '|---:|---|---:|---|---:|:---:|'];
  r.cases.forEach((c, index) => {
    lines.push(
      `| ${index + 1} | ${c.case} | ${formatValue(c.value)} ${c.unit} | ${c.baseline.system}: ${formatValue(c.baseline.value)} ${c.unit} | ${formatRatio(c.ratio)} | ${target(c)} |`,
    );
  });
  return `${lines.join('\n')}\n`;
}

/** The chart file of a result, relative to benchmarks/. */
export function chartPath(name: string): string {
  return path.join('results', 'charts', `${name}.svg`);
}

/** The chart file of one of a result's figures, relative to benchmarks/. */
export function figurePath(name: string, id: string): string {
  return path.join('results', 'charts', `${name}-${id}.svg`);
}

/** The charts, keyed by their path relative to benchmarks/: each result's ratios, then its figures. */
export async function renderCharts(results: NamedResult[]): Promise<Map<string, string>> {
  const charts = new Map<string, string>();
  for (const { name, result } of results) {
    charts.set(chartPath(name), await renderSvg(ratioChartSpec(result)));
    for (const figure of result.figures ?? []) charts.set(figurePath(name, figure.id), await renderSvg(figureSpec(figure)));
  }
  return charts;
}

/** benchmarks/REPORT.md: the summary, then every result with its chart, table and notes. */
export function renderReport(results: NamedResult[]): string {
  const lines = [
    '# dbos benchmark report',
    '',
    '<!-- Rendered by `pnpm bench:readme` from benchmarks/results/*.json: edit the benchmarks, not this file. -->',
    '',
    'Each case runs dbos and the system a competent user would otherwise pick, side by side in one',
    'run on one machine. The ratio is ours / peer, turned round where lower is better (latency,',
    'stall, bytes), so above 1× dbos is ahead. A target is the ratio an issue asked for. `pnpm bench`',
    'runs the quick profile, `pnpm bench --full` the complete one, `pnpm bench <package>` one package.',
    '',
    renderSummaryTable(results, (name) => `#${name}`),
  ];
  for (const { name, result: r } of results) {
    lines.push(
      `<a id="${name}"></a>`,
      `## ${r.package}`,
      '',
      runLine(r),
      '',
      `![${r.package}: ratio per case](${chartPath(name)})`,
      '',
      renderCaseTable(r),
    );
    // Every peer's value per case first (next to the table they extend), then time series and distributions.
    const figures = r.figures ?? [];
    for (const figure of [...figures.filter((f) => f.kind === 'bars'), ...figures.filter((f) => f.kind !== 'bars')])
      lines.push(`![${figure.title}](${figurePath(name, figure.id)})`, '');
    for (const note of r.notes ?? []) lines.push(note, '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
