// Sums the vitest JSON reports every package wrote (test-results*.json) into one line:
// "N passed, N failed, N skipped". Exits 1 when a test failed or a package wrote no report.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function collectReports(patterns = ['test-results.json']) {
  const reports = [];
  for (const group of ['packages', 'examples']) {
    const groupDir = path.join(root, group);
    if (!fs.existsSync(groupDir)) continue;
    for (const name of fs.readdirSync(groupDir).sort()) {
      const dir = path.join(groupDir, name);
      const manifest = path.join(dir, 'package.json');
      if (!fs.existsSync(manifest)) continue;
      const scripts = JSON.parse(fs.readFileSync(manifest, 'utf8')).scripts ?? {};
      for (const pattern of patterns) {
        const script = pattern === 'test-results-c.json' ? 'test:c' : 'test';
        if (!scripts[script]) continue;
        reports.push({ package: `${group}/${name}`, file: path.join(dir, pattern) });
      }
    }
  }
  return reports;
}

export function summarize(reports) {
  const totals = { passed: 0, failed: 0, skipped: 0, missing: [], distinct: 0 };
  // The same test run twice (a rerun, another Node version) is one test: count names once.
  const names = new Set();
  for (const report of reports) {
    if (!fs.existsSync(report.file)) {
      totals.missing.push(report.package);
      continue;
    }
    const data = JSON.parse(fs.readFileSync(report.file, 'utf8'));
    for (const file of data.testResults ?? [])
      for (const test of file.assertionResults ?? [])
        names.add(`${report.package}\0${path.relative(root, file.name ?? '')}\0${test.fullName}`);
    totals.passed += data.numPassedTests ?? 0;
    totals.failed += data.numFailedTests ?? 0;
    totals.skipped += (data.numPendingTests ?? 0) + (data.numTodoTests ?? 0);
    // A file that failed to load reports no tests but counts as a failure.
    let fileFailures = 0;
    for (const file of data.testResults ?? [])
      if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) fileFailures += 1;
    totals.failed += fileFailures;
    // A run that crashed a worker (unhandled errors) is unsuccessful with no failed test: count it.
    if (data.success === false && (data.numFailedTests ?? 0) === 0 && fileFailures === 0) totals.failed += 1;
  }
  totals.distinct = names.size;
  return totals;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // node scripts/test-summary.mjs [report file names…] [--only=packages/x]
  const args = process.argv.slice(2);
  const only = args.filter((a) => a.startsWith('--only=')).map((a) => a.slice('--only='.length));
  const named = args.filter((a) => !a.startsWith('--only='));
  const patterns = named.length ? named : ['test-results.json'];
  const totals = summarize(collectReports(patterns).filter((report) => !only.length || only.includes(report.package)));
  for (const name of totals.missing) console.error(`no test report from ${name}`);
  const failed = totals.failed + totals.missing.length;
  console.log(`${totals.passed} passed, ${failed} failed, ${totals.skipped} skipped`);
  process.exit(failed ? 1 : 0);
}
