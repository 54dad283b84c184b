// pnpm test: build what is stale, run every package's tests through turbo, then print one
// "N passed, N failed" line for the whole repository. Extra arguments go to turbo.
//   --prebuilt   run the tests against what is already built (no turbo, no rebuild): CI uses
//                it to run the same prebuilds under other Node versions. The C unit tests
//                (test/c.test.ts) are left out there: they build and run C programs that do not
//                involve Node at all, so another Node version would only repeat them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { collectReports, summarize } from './test-summary.mjs';

process.env.npm_config_nodedir ??= '/usr';
const args = process.argv.slice(2);
const prebuilt = args.includes('--prebuilt');
for (const report of collectReports()) fs.rmSync(report.file, { force: true });
let failedRuns = 0;
if (prebuilt) {
  // Package by package, so one failing package cannot stop the others from reporting.
  for (const report of collectReports()) {
    const cwd = path.dirname(report.file);
    console.log(`node ${process.version}: ${report.package}: pnpm run test`);
    const run = spawnSync('pnpm', ['run', 'test', '--exclude', '**/c.test.ts'], { stdio: 'inherit', cwd });
    if (run.status !== 0) failedRuns++;
  }
} else {
  const command = ['exec', 'turbo', 'run', 'test', '--continue', '--concurrency=1', ...args];
  console.log(`node ${process.version}: pnpm ${command.join(' ')}`);
  if (spawnSync('pnpm', command, { stdio: 'inherit' }).status !== 0) failedRuns++;
}
const totals = summarize(collectReports());
for (const name of totals.missing) console.error(`no test report from ${name}`);
const failed = totals.failed + totals.missing.length;
console.log(`distinct tests: ${totals.distinct}`);
console.log(`${totals.passed} passed, ${failed} failed, ${totals.skipped} skipped`);
process.exit(failed || failedRuns ? 1 : 0);
