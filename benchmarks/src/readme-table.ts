// Renders every benchmarks/results/*.json into one summary table and writes it into the root
// README between the bench markers, so the README always shows the last recorded runs.
// `pnpm bench` calls it after the benchmarks; `tsx benchmarks/src/readme-table.ts` alone works too.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './report.ts';
import { resultsDir } from './report.ts';

const readme = fileURLToPath(new URL('../../README.md', import.meta.url));
const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

function fmt(value: number): string {
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return String(value);
}

export function renderSummary(results: { file: string; result: BenchResult }[]): string {
  const lines: string[] = [];
  for (const { file, result: r } of results) {
    const m = r.machine;
    lines.push(
      `**${r.package}** — ${r.date.slice(0, 10)}, ${r.profile} profile, runtime ${r.runtime}, KVM ${r.kvm}; ` +
        `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node ?? '?'} ` +
        `([details](benchmarks/results/${file.replace(/\.json$/, '.md')}))`,
      '',
      '| case | dbos | peer | ratio | target |',
      '|---|---:|---:|---:|:---:|',
    );
    for (const c of r.cases) {
      const target = c.target === null ? '—' : `${c.target}× ${c.met ? 'met' : '**missed**'}`;
      lines.push(`| ${c.case} | ${fmt(c.value)} ${c.unit} | ${c.baseline.system}: ${fmt(c.baseline.value)} ${c.unit} | ${c.ratio}× | ${target} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export function updateReadme(): void {
  const files = fs.readdirSync(resultsDir).filter((f) => f.endsWith('.json')).sort();
  const results = files.map((file) => ({
    file,
    result: JSON.parse(fs.readFileSync(path.join(resultsDir, file), 'utf8')) as BenchResult,
  }));
  const text = fs.readFileSync(readme, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  const updated = `${text.slice(0, start + START.length)}\n${renderSummary(results)}${text.slice(end)}`;
  fs.writeFileSync(readme, updated);
  console.log(`README.md: benchmark table from ${files.length} result files`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) updateReadme();
