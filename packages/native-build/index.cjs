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
const path = require('node:path');
const flags = require('./flags.cjs');
const { readManifest, resolvePackageDir, nativeClosure, listFiles, sources, includeDirs } = require('./closure.cjs');
const { buildGuestImage } = require('./guest-image.cjs');

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
  buildGuestImage,
  gypFlags: flags.gypFlags,
  flags,
  testHeaderDir: path.join(__dirname, 'include'),
};
