'use strict';
// The C closure of a package: where its C lives (see index.cjs for the layout) and which other
// packages' C it compiles in. Shared by the addon build, the C tests and the guest images.
const fs = require('node:fs');
const path = require('node:path');

function readManifest(packageDir) {
  const file = path.join(packageDir, 'package.json');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  const native = manifest.dbos?.native || {};
  return {
    name: manifest.name,
    dependencies: native.dependencies || [],
    guestRuntime: native.guestRuntime === true,
    guestKernel: native.guestKernel || null,
  };
}

function resolvePackageDir(name, fromDir) {
  const manifestPath = require.resolve(`${name}/package.json`, { paths: [fromDir] });
  return path.dirname(manifestPath);
}

/** Package dirs of `packageDir` and every package whose C core it needs, dependencies first. */
function nativeClosure(packageDir) {
  const order = [];
  const seen = new Set();
  const visit = (dir, depth) => {
    if (depth > 32) throw new Error(`@dbos/native-build: dependency cycle near ${dir}`);
    const real = fs.realpathSync(dir);
    if (seen.has(real)) return;
    seen.add(real);
    for (const dep of readManifest(real).dependencies) visit(resolvePackageDir(dep, real), depth + 1);
    order.push(real);
  };
  visit(path.resolve(packageDir), 0);
  return order;
}

function listFiles(dir, extension) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(extension))
    .sort()
    .map((name) => path.join(dir, name));
}

/** C sources of one package for a runtime: its core plus the runtime's files (and its VMM). */
function packageSources(dir, runtime, withVmm) {
  const core = listFiles(path.join(dir, 'csrc'), '.c');
  if (runtime === 'core') return core;
  const own = core.concat(listFiles(path.join(dir, 'csrc', runtime), '.c'));
  return withVmm ? own.concat(listFiles(path.join(dir, 'csrc', 'vmm'), '.c')) : own;
}

const RUNTIMES = ['core', 'host', 'guest'];

/**
 * All C sources `packageDir` compiles for `runtime` ('host' | 'guest' | 'core'), absolute.
 * 'host' includes the closure's VMM (csrc/vmm) only when the package declares "guestRuntime".
 */
function sources(packageDir, runtime = 'host') {
  if (!RUNTIMES.includes(runtime)) throw new Error(`@dbos/native-build: unknown runtime '${runtime}' (${RUNTIMES.join(', ')})`);
  const withVmm = runtime === 'host' && readManifest(path.resolve(packageDir)).guestRuntime;
  return nativeClosure(packageDir).flatMap((dir) => packageSources(dir, runtime, withVmm));
}

/** Include dirs of `packageDir` and its native dependencies, absolute. */
function includeDirs(packageDir) {
  return nativeClosure(packageDir)
    .map((dir) => path.join(dir, 'include'))
    .filter((dir) => fs.existsSync(dir));
}

module.exports = { readManifest, resolvePackageDir, nativeClosure, listFiles, sources, includeDirs };
