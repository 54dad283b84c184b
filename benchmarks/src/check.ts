// pnpm bench:check — print every recorded case with its ratio and target. Exits non-zero when a
// result file is missing or malformed; a missed target is reported, not fatal.
import fs from 'node:fs';
import path from 'node:path';
import type { BenchResult } from './report.ts';
import { resultsDir } from './report.ts';

const expected = process.argv.slice(2);

function validate(file: string, data: unknown): string[] {
  const problems: string[] = [];
  const r = data as Partial<BenchResult>;
  for (const key of ['package', 'version', 'date', 'machine', 'runtime', 'kvm', 'cases'] as const)
    if (r[key] === undefined) problems.push(`missing "${key}"`);
  if (r.machine)
    for (const key of ['cpu', 'cores', 'memoryGiB', 'kernel'] as const)
      if (r.machine[key] === undefined) problems.push(`missing "machine.${key}"`);
  if (!Array.isArray(r.cases) || r.cases.length === 0) problems.push('"cases" must be a non-empty array');
  else
    r.cases.forEach((c, i) => {
      for (const key of ['case', 'metric', 'unit', 'value', 'baseline', 'ratio', 'target', 'met'] as const)
        if (c[key] === undefined) problems.push(`cases[${i}] missing "${key}"`);
      if (typeof c.value !== 'number' || !Number.isFinite(c.value)) problems.push(`cases[${i}].value is not a finite number`);
      if (typeof c.ratio !== 'number' || !Number.isFinite(c.ratio)) problems.push(`cases[${i}].ratio is not a finite number`);
      if (!c.baseline || typeof c.baseline.system !== 'string' || typeof c.baseline.value !== 'number')
        problems.push(`cases[${i}].baseline must be { system, value }`);
    });
  for (const [i, f] of (r.figures ?? []).entries()) {
    if (typeof f.id !== 'string' || !/^[a-z0-9-]+$/.test(f.id)) problems.push(`figures[${i}].id must be lower case, digits and '-'`);
    if (f.kind === 'bars') {
      const categories = Array.isArray(f.categories) && f.categories.every((c) => typeof c === 'string') ? f.categories : null;
      if (!categories) problems.push(`figures[${i}].categories must be an array of strings`);
      if (
        !Array.isArray(f.series) ||
        f.series.some(
          (s) =>
            typeof s.name !== 'string' ||
            !Array.isArray(s.values) ||
            s.values.length !== categories?.length ||
            s.values.some((v) => v !== null && typeof v !== 'number'),
        )
      )
        problems.push(`figures[${i}].series must be [{ name, values }], one number or null per category`);
    } else if (f.kind === 'timeseries' || f.kind === 'distribution') {
      if (!Array.isArray(f.series) || f.series.some((s) => !Array.isArray(s.points)))
        problems.push(`figures[${i}].series must be [{ name, points }]`);
    } else problems.push(`figures[${i}].kind must be 'timeseries', 'distribution' or 'bars'`);
  }
  return problems.map((p) => `${path.basename(file)}: ${p}`);
}

let failed = false;
const files = fs.existsSync(resultsDir)
  ? fs
      .readdirSync(resultsDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];
for (const name of expected) {
  if (!files.includes(`${name}.json`)) {
    console.error(`missing: benchmarks/results/${name}.json`);
    failed = true;
  }
}
if (files.length === 0) {
  console.error('no benchmark results under benchmarks/results/ — run `pnpm bench` first');
  failed = true;
}
let met = 0;
let missed = 0;
for (const name of files) {
  const file = path.join(resultsDir, name);
  let data: BenchResult;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResult;
  } catch (error) {
    console.error(`${name}: not valid JSON (${(error as Error).message})`);
    failed = true;
    continue;
  }
  const problems = validate(file, data);
  if (problems.length) {
    for (const problem of problems) console.error(problem);
    failed = true;
    continue;
  }
  console.log(`\n${data.package} ${data.version} (${data.date}, runtime ${data.runtime}, kvm ${data.kvm}, ${data.machine.cpu})`);
  for (const c of data.cases) {
    const verdict = c.met === null ? 'info' : c.met ? 'met' : 'MISSED';
    if (c.met === true) met++;
    if (c.met === false) missed++;
    const target = c.target === null ? '' : ` target ${c.target}x`;
    console.log(
      `  ${verdict.padEnd(6)} ${c.ratio.toString().padStart(8)}x${target}  ${c.case} — ${c.value} ${c.unit} vs ${c.baseline.system} ${c.baseline.value} ${c.unit}`,
    );
  }
}
console.log(`\n${met} targets met, ${missed} missed`);
process.exit(failed ? 1 : 0);
