// Renders benchmarks/results/*.json into everything that shows a benchmark number, so no document
// holds a typed one:
//   benchmarks/REPORT.md and benchmarks/results/charts/*.svg   the full report (report-page.ts)
//   root README.md:     <!-- bench:start --> … <!-- bench:end -->       the summary table
//   any package README: <!-- bench:start NAME --> … <!-- bench:end -->  results/NAME.json's cases
// `pnpm bench` calls it after the benchmarks; `pnpm bench:readme` alone works too; `--check`
// changes nothing and fails when a file differs from what the results render (CI).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './report.ts';
import { resultsDir } from './report.ts';
import { type NamedResult, renderCaseTable, renderCharts, renderReport, renderSummaryTable, runLine } from './report-page.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const benchmarksDir = path.join(root, 'benchmarks');
const reportFile = path.join(benchmarksDir, 'REPORT.md');
const MARKER = /<!-- bench:start(?: ([a-z0-9-]+))? -->\n[\s\S]*?<!-- bench:end -->/g;

function readResults(): NamedResult[] {
  return fs
    .readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), result: JSON.parse(fs.readFileSync(path.join(resultsDir, f), 'utf8')) as BenchResult }));
}

/** The root README's block: one row per package, linking its section of the report. */
function renderRootBlock(results: NamedResult[]): string {
  const table = renderSummaryTable(results, (name) => `benchmarks/REPORT.md#${name}`);
  return `${table}\nEvery case, with charts: [benchmarks/REPORT.md](benchmarks/REPORT.md).\n`;
}

/** A package README's block: its run, every case, and the link to its charted section. */
function renderPackageBlock(name: string, results: NamedResult[], readmeDir: string): string {
  const found = results.find((r) => r.name === name);
  if (!found) throw new Error(`benchmarks/results/${name}.json does not exist (named by a bench:start marker)`);
  const report = path.relative(readmeDir, reportFile);
  return `**${found.result.package}** — ${runLine(found.result)} ([chart and report](${report}#${name}))\n\n${renderCaseTable(found.result)}`;
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

function renderReadme(file: string, results: NamedResult[]): string {
  const text = fs.readFileSync(file, 'utf8');
  return text.replace(MARKER, (_block, name: string | undefined) => {
    const body = name ? renderPackageBlock(name, results, path.dirname(file)) : renderRootBlock(results);
    return `<!-- bench:start${name ? ` ${name}` : ''} -->\n${body}<!-- bench:end -->`;
  });
}

/** Every rendered file (absolute path → text): READMEs, the report and its charts. */
export async function renderAll(): Promise<Map<string, string>> {
  const results = readResults();
  const files = new Map<string, string>();
  for (const file of readmes()) files.set(file, renderReadme(file, results));
  files.set(reportFile, renderReport(results));
  for (const [relative, svg] of await renderCharts(results)) files.set(path.join(benchmarksDir, relative), svg);
  return files;
}

/** Write (or, with check, compare) every rendered file; returns those that differ. */
export async function updateRendered(check = false): Promise<string[]> {
  const stale: string[] = [];
  for (const [file, text] of await renderAll()) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) continue;
    stale.push(path.relative(root, file));
    if (check) continue;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  return stale;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const stale = await updateRendered(check);
  if (check && stale.length) {
    console.error(`benchmark report out of date with benchmarks/results (run: pnpm bench:readme): ${stale.join(', ')}`);
    process.exit(1);
  }
  console.log(
    check
      ? 'benchmark report, charts and README tables match the results'
      : `benchmark report rendered: ${stale.length ? stale.join(', ') : 'nothing changed'}`,
  );
}
