// Renders benchmarks/results/*.json into the READMEs, so no README holds a typed number:
//   root README.md:       <!-- bench:start --> … <!-- bench:end -->             every result, summarized
//   any package README:   <!-- bench:start NAME --> … <!-- bench:end -->        results/NAME.json as a table
// `pnpm bench` calls it after the benchmarks; `tsx benchmarks/src/readme-table.ts` alone works too;
// `--check` changes nothing and fails when a README differs from what the results render (CI).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './report.ts';
import { resultsDir } from './report.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MARKER = /<!-- bench:start(?: ([a-z0-9-]+))? -->\n[\s\S]*?<!-- bench:end -->/g;

function fmt(value: number): string {
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return String(value);
}

function ratio(value: number): string {
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

function verdict(c: BenchResult['cases'][number]): string {
  return c.target === null ? '—' : `${c.target}× ${c.met ? 'met' : '**missed**'}`;
}

function header(r: BenchResult, link: string): string {
  const m = r.machine;
  return (
    `**${r.package}** — ${r.date.slice(0, 10)}, ${r.profile} profile, runtime ${r.runtime}, KVM ${r.kvm}; ` +
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node ?? '?'} (${link})`
  );
}

/** The root README's summary: every result file, one table each. */
export function renderSummary(results: { file: string; result: BenchResult }[]): string {
  const lines: string[] = [];
  for (const { file, result: r } of results) {
    lines.push(
      header(r, `[details](benchmarks/results/${file.replace(/\.json$/, '.md')})`),
      '',
      '| case | dbos | peer | ratio | target |',
      '|---|---:|---:|---:|:---:|',
    );
    for (const c of r.cases) {
      lines.push(
        `| ${c.case} | ${fmt(c.value)} ${c.unit} | ${c.baseline.system}: ${fmt(c.baseline.value)} ${c.unit} | ${c.ratio}× | ${verdict(c)} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** One package's table: every case with both systems, the ratio and the verdict. */
export function renderPackageTable(name: string, r: BenchResult, readmeDir: string): string {
  const details = path.relative(readmeDir, path.join(root, 'benchmarks', 'results', `${name}.md`));
  const lines = [header(r, `[full report](${details})`), '', '| case | dbos | baseline | ratio | target |', '|---|---:|---|---:|:---:|'];
  for (const c of r.cases) {
    lines.push(
      `| ${c.case} | ${fmt(c.value)} ${c.unit} | ${c.baseline.system}: ${fmt(c.baseline.value)} ${c.unit} | ${ratio(c.ratio)} | ${verdict(c)} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

function readResult(name: string): BenchResult {
  const file = path.join(resultsDir, `${name}.json`);
  if (!fs.existsSync(file)) throw new Error(`benchmarks/results/${name}.json does not exist (named by a bench:start marker)`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResult;
}

/** Every README of the repository that has bench markers. */
export function readmes(): string[] {
  const files = [path.join(root, 'README.md')];
  for (const group of ['packages', 'examples']) {
    const dir = path.join(root, group);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      for (const doc of ['README.md', 'GUEST.md']) {
        const file = path.join(dir, name, doc);
        if (fs.existsSync(file)) files.push(file);
      }
    }
  }
  return files.filter((file) => fs.readFileSync(file, 'utf8').includes('<!-- bench:start'));
}

/** The README text with every bench block rendered from the results. */
export function render(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  const all = () =>
    fs
      .readdirSync(resultsDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ({ file: f, result: JSON.parse(fs.readFileSync(path.join(resultsDir, f), 'utf8')) as BenchResult }));
  return text.replace(MARKER, (_block, name: string | undefined) => {
    const body = name ? renderPackageTable(name, readResult(name), path.dirname(file)) : renderSummary(all());
    return `<!-- bench:start${name ? ` ${name}` : ''} -->\n${body}<!-- bench:end -->`;
  });
}

/** Rewrite (or, with check, compare) every README; returns the files that differ. */
export function updateReadmes(check = false): string[] {
  const stale: string[] = [];
  for (const file of readmes()) {
    const rendered = render(file);
    if (rendered === fs.readFileSync(file, 'utf8')) continue;
    stale.push(path.relative(root, file));
    if (!check) fs.writeFileSync(file, rendered);
  }
  return stale;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const stale = updateReadmes(check);
  if (check && stale.length) {
    console.error(`benchmark tables out of date with benchmarks/results (run: pnpm bench:readme): ${stale.join(', ')}`);
    process.exit(1);
  }
  console.log(
    check
      ? `benchmark tables match the results in ${readmes().length} READMEs`
      : `benchmark tables rendered: ${stale.length ? stale.join(', ') : 'nothing changed'}`,
  );
}
