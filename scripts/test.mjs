// pnpm test: build what is stale, run every package's tests through turbo, then print one
// "N passed, N failed" line for the whole repository. Extra arguments go to turbo.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { collectReports, summarize } from './test-summary.mjs';

process.env.npm_config_nodedir ??= '/usr';
for (const report of collectReports()) fs.rmSync(report.file, { force: true });
const turbo = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--continue', '--concurrency=1', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
const totals = summarize(collectReports());
for (const name of totals.missing) console.error(`no test report from ${name}`);
const failed = totals.failed + totals.missing.length;
console.log(`${totals.passed} passed, ${failed} failed, ${totals.skipped} skipped`);
process.exit(failed || turbo.status !== 0 ? 1 : 0);
