'use strict';
// Where a package's C lives, and how a package compiles the C cores it builds on.
//
// Every @dbos package lays its C out the same way, so no manifest lists files:
//   include/        public headers (dbos/*.h)
//   csrc/*.c        the capability's core: freestanding, compiled for both runtimes
//   csrc/host/*.c   the host runtime (Linux user space)
//   csrc/guest/*.c  the guest runtime (compiled into guest kernel images)
//   csrc/vmm/*.c    the host side of the guest runtime (the VMM): only in addons that
//                   offer a guest runtime
//   binding/*.cc    Node-API glue
// A package names the packages whose C cores it compiles in under
// package.json "dbos": { "native": { "dependencies": [...] } }, and says
// "guestRuntime": true when its addon runs guests (then the VMM of its closure
// joins the addon).  Cores are compiled into each addon rather than linked
// across addons because Node-API addons cannot share symbols with each other.
const fs = require('node:fs');
const path = require('node:path');
const flags = require('./flags.cjs');

function readManifest(packageDir) {
  const file = path.join(packageDir, 'package.json');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  const native = (manifest.dbos && manifest.dbos.native) || {};
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

function quoteForGyp(files, packageDir) {
  // gyp splits the command output on whitespace; relative paths keep the
  // generated makefiles short and survive a moved checkout.
  return files.map((file) => path.relative(packageDir, file) || '.').join(' ');
}

/** For binding.gyp: `<!@(node -p "require('@dbos/native-build').gypSources('.')")` */
function gypSources(packageDir) {
  const dir = path.resolve(packageDir);
  const bindings = listFiles(path.join(dir, 'binding'), '.cc');
  return quoteForGyp(bindings.concat(sources(dir, 'host')), dir);
}

/** For binding.gyp: include dirs of the closure plus node-addon-api's. */
function gypIncludes(packageDir) {
  const dir = path.resolve(packageDir);
  // napi.h sits at the root of the node-addon-api package.
  const addonApi = path.dirname(require.resolve('node-addon-api/package.json', { paths: [dir] }));
  return quoteForGyp(includeDirs(dir).concat([addonApi]), dir);
}

module.exports = {
  readManifest,
  resolvePackageDir,
  listFiles,
  nativeClosure,
  sources,
  includeDirs,
  gypSources,
  gypIncludes,
  gypFlags: flags.gypFlags,
  flags,
  testHeaderDir: path.join(__dirname, 'include'),
};

// After the exports: guest-image.cjs requires this module back.
module.exports.buildGuestImage = require('./guest-image.cjs').buildGuestImage;
