// pnpm bench [--full] [package | --filter=@dbos/x]: run every package's benchmark (or one), one
// at a time (they measure the machine, so they must not overlap), re-render the report, charts and
// README tables from the result files, then print the bench:check table.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const full = args.includes('--full');
// `pnpm bench kv` is `--filter=@dbos/kv`; flags pass through to turbo.
const rest = args.filter((a) => a !== '--full').map((a) => (a.startsWith('-') ? a : `--filter=${a.startsWith('@') ? a : `@dbos/${a}`}`));
const env = { ...process.env, DBOS_BENCH_PROFILE: full ? 'full' : 'quick' };
env.npm_config_nodedir ??= '/usr';
const run = spawnSync('pnpm', ['exec', 'turbo', 'run', 'bench', '--concurrency=1', '--continue', ...rest], { stdio: 'inherit', env });
spawnSync('pnpm', ['exec', 'tsx', 'benchmarks/src/readme-table.ts'], { stdio: 'inherit', env });
const check = spawnSync('pnpm', ['run', '--silent', 'bench:check'], { stdio: 'inherit', env });
process.exit(run.status || check.status ? 1 : 0);
