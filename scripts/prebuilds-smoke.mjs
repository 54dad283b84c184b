// With PREBUILDS_ONLY=1, load every package's shipped prebuild (prebuilds/<platform>-<arch>/)
// and check that `pnpm pack` puts that prebuild and the compiled TypeScript in the tarball.
// Prints "N passed, N failed".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
let passed = 0;
let failed = 0;
for (const name of fs.readdirSync(path.join(root, 'packages')).sort()) {
  const dir = path.join(root, 'packages', name);
  if (!fs.existsSync(path.join(dir, 'binding.gyp'))) continue;
  try {
    const prebuildDir = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`);
    const files = fs.existsSync(prebuildDir) ? fs.readdirSync(prebuildDir).filter((f) => f.endsWith('.node')) : [];
    if (files.length === 0) throw new Error(`no prebuild in ${path.relative(root, prebuildDir)}`);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const entry = pathToFileURL(path.join(dir, manifest.main));
    const mod = await import(entry.href);
    if (Object.keys(mod).length === 0) throw new Error('module exports nothing');
    console.log(`ok ${manifest.name} loads (${files.join(', ')}, Node ${process.version})`);
    passed++;
    const pack = spawnSync('pnpm', ['pack', '--dry-run', '--json'], { cwd: dir, encoding: 'utf8' });
    if (pack.status !== 0) throw new Error(`pnpm pack failed: ${pack.stderr}`);
    const packed = JSON.parse(pack.stdout).files.map((f) => f.path);
    const wanted = [...files.map((f) => `prebuilds/${process.platform}-${process.arch}/${f}`), manifest.main.replace(/^\.\//, '')];
    const absent = wanted.filter((f) => !packed.includes(f));
    if (absent.length) throw new Error(`tarball lacks ${absent.join(', ')}`);
    console.log(`ok ${manifest.name} tarball ships ${wanted.join(', ')}`);
    passed++;
  } catch (error) {
    console.log(`FAIL ${name}: ${error.message}`);
    failed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
