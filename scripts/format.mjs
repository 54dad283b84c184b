// pnpm format [--check]: one formatter per language, configured once at the root — Biome for
// TypeScript and JavaScript (biome.json), clang-format for C and C++ (.clang-format).
// --check changes nothing and exits 1 when a file is not formatted (CI runs it).
import { spawnSync } from 'node:child_process';

const check = process.argv.includes('--check');
let failed = false;

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.error) {
    console.error(`format: cannot run ${command}: ${result.error.message}`);
    return false;
  }
  return result.status === 0;
}

if (!run('pnpm', ['exec', 'biome', 'format', ...(check ? [] : ['--write']), '.'])) failed = true;

// Every tracked C/C++ source and header; generated files are not tracked.
const listed = spawnSync('git', ['ls-files', '*.c', '*.h', '*.cc'], { encoding: 'utf8' });
const files = listed.stdout.split('\n').filter(Boolean);
if (files.length && !run('clang-format', [...(check ? ['--dry-run', '-Werror'] : ['-i']), ...files])) failed = true;

process.exit(failed ? 1 : 0);
