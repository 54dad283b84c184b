'use strict';
// Guest kernel images, built per package from its declared C closure.
//
// An image is the guest kernel (the package that declares "guestKernel" in its
// dbos.native manifest: @dbos/hypercall, whose guest/ holds arch/*.S, kernel/*.c,
// include/ and guest.ld) linked with the core and guest runtime
// (csrc/*.c, csrc/guest/*.c) of every package in the closure of the package being
// built and of the kernel's package, plus the caller's entry files (engine code,
// or a test's entry points).  Any compile or link error fails the build.
//
//   buildGuestImage(packageDir, { name, entries }) -> { image, elf, built }
//
// The result is a flat binary loaded at 1 MiB; Guest.start({ image }) of
// @dbos/hypercall boots it.  Needs gcc, ld, objcopy, nm and objdump (binutils).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const nativeBuild = require('./closure.cjs');
const flags = require('./flags.cjs');

const DEFAULT_KERNEL_PACKAGE = '@dbos/hypercall';
// The image header's magic ("DOSGOST1", little-endian): the header must be the first thing linked.
const IMAGE_MAGIC = 0x3154534f47534f44n;
const IMAGE_BASE = 0x100000;
// The image, with its bss, must fit its slot in guest memory (dbos/guest_abi.h: 3 MiB).
const IMAGE_SLOT_BYTES = 0x300000;
// PVM cannot emulate these in guest ring 0 (docs/guest-boot.md): an image that uses them
// anywhere but in functions the caller names (a test that provokes the failure) is refused.
const PVM_FORBIDDEN = /\b(rdtscp|xgetbv|sysret[lq]?|vmcall|vmmcall|int\s+\$0x[0-9a-f]+)\b/;

function run(cmd, args) {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.error) throw new Error(`guest image: cannot run ${cmd}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`guest image: ${cmd} ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** The package that provides the guest kernel, as seen from `packageDir`. */
function kernelPackageDir(packageDir, kernelPackage) {
  const dir = fs.realpathSync(packageDir);
  if (nativeBuild.readManifest(dir).name === kernelPackage) return dir;
  return fs.realpathSync(nativeBuild.resolvePackageDir(kernelPackage, dir));
}

/** What an image of `packageDir` is made of: kernel files, closure sources, include dirs. */
function guestInputs(packageDir, options = {}) {
  const kernelDir = kernelPackageDir(packageDir, options.kernelPackage || DEFAULT_KERNEL_PACKAGE);
  const kernelManifest = nativeBuild.readManifest(kernelDir);
  if (!kernelManifest.guestKernel) throw new Error(`guest image: ${kernelManifest.name} declares no dbos.native.guestKernel`);
  const guestDir = path.join(kernelDir, kernelManifest.guestKernel);
  const closure = [];
  for (const dir of [...nativeBuild.nativeClosure(kernelDir), ...nativeBuild.nativeClosure(packageDir)]) {
    if (!closure.includes(dir)) closure.push(dir);
  }
  const cores = closure.flatMap((dir) => [
    ...nativeBuild.listFiles(path.join(dir, 'csrc'), '.c'),
    ...nativeBuild.listFiles(path.join(dir, 'csrc', 'guest'), '.c'),
  ]);
  const entries = (options.entries || []).map((file) => path.resolve(packageDir, file));
  const sources = [
    ...nativeBuild.listFiles(path.join(guestDir, 'arch'), '.S'),
    ...nativeBuild.listFiles(path.join(guestDir, 'kernel'), '.c'),
    ...cores,
    ...entries,
  ];
  const includeDirs = [path.join(guestDir, 'include'), ...closure.map((dir) => path.join(dir, 'include')).filter((d) => fs.existsSync(d))];
  const headers = closure
    .flatMap((dir) => [
      ...nativeBuild.listFiles(path.join(dir, 'include', 'dbos'), '.h'),
      ...nativeBuild.listFiles(path.join(dir, 'csrc'), '.h'),
      ...nativeBuild.listFiles(path.join(dir, 'csrc', 'guest'), '.h'),
    ])
    .concat(nativeBuild.listFiles(path.join(guestDir, 'include'), '.h'));
  return { guestDir, closure, sources, includeDirs, headers, linkerScript: path.join(guestDir, 'guest.ld') };
}

function checkPvmInstructions(elf, allowed) {
  let currentFunction = '';
  for (const line of run('objdump', ['-d', '--no-show-raw-insn', elf]).split('\n')) {
    const label = /^[0-9a-f]+ <([^>]+)>:$/.exec(line);
    if (label) currentFunction = label[1];
    else if (PVM_FORBIDDEN.test(line) && !allowed.includes(currentFunction)) {
      throw new Error(`guest image: ${currentFunction} uses an instruction PVM cannot run in ring 0:\n${line.trim()}`);
    }
  }
}

function checkLayout(elf, image) {
  const bssEnd = /^([0-9a-f]+) \S __bss_end$/m.exec(run('nm', [elf]));
  if (!bssEnd) throw new Error("guest image: no __bss_end symbol (not linked with the kernel's guest.ld?)");
  const span = parseInt(bssEnd[1], 16) - IMAGE_BASE;
  if (span > IMAGE_SLOT_BYTES) throw new Error(`guest image: image with bss is ${span} bytes, over ${IMAGE_SLOT_BYTES}`);
  if (image.length < 8 || image.readBigUInt64LE(0) !== IMAGE_MAGIC) throw new Error('guest image: the image header is not first');
}

/** The prerequisites a gcc -MMD dependency file names (the object's own line, continuations joined). */
function readDepFile(file) {
  const text = fs.readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  const colon = text.indexOf(': ');
  return colon < 0
    ? []
    : text
        .slice(colon + 2)
        .split(/\s+/)
        .filter(Boolean)
        .map((f) => path.resolve(f));
}

/** True when the image exists, was built with the same key, and is newer than every input it used. */
function isFresh(image, stamp, key, inputs) {
  if (!fs.existsSync(image) || !fs.existsSync(stamp)) return false;
  let recorded;
  try {
    recorded = JSON.parse(fs.readFileSync(stamp, 'utf8'));
  } catch {
    return false;
  }
  if (recorded.key !== key) return false;
  const built = fs.statSync(image).mtimeMs;
  return [...inputs, ...(recorded.headers || [])].every((file) => fs.existsSync(file) && fs.statSync(file).mtimeMs <= built);
}

/**
 * Build the guest image of `packageDir` with `options.entries` (files relative to the package)
 * into `options.outDir` (default <package>/.guest/<name>). Skips the work when no input changed
 * since the last build. Options: name (default 'image'), entries, outDir, kernelPackage,
 * allowPvmForbiddenIn (function names allowed to use instructions PVM cannot run), force.
 * Returns { image, elf, built, sources }.
 */
function buildGuestImage(packageDir, options = {}) {
  const name = options.name || 'image';
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`guest image: bad name '${name}'`);
  const outDir = path.resolve(options.outDir || path.join(packageDir, '.guest', name));
  const inputs = guestInputs(packageDir, options);
  const image = path.join(outDir, `${name}.bin`);
  const elf = path.join(outDir, `${name}.elf`);
  const stamp = path.join(outDir, 'inputs.json');
  const CC = process.env.DBOS_GUEST_CC || 'gcc';
  const compileFlags = [
    ...flags.guest,
    `-isystem${run(CC, ['-print-file-name=include']).trim()}`,
    ...inputs.includeDirs.map((dir) => `-I${dir}`),
    // __FILE__ as "<package folder>/<path>", so a guest panic names a repository path.
    ...inputs.closure.map((dir) => `-ffile-prefix-map=${dir}/=${path.basename(dir)}/`),
    `-ffile-prefix-map=${path.resolve(packageDir)}/=${path.basename(path.resolve(packageDir))}/`,
  ];
  const key = JSON.stringify({ sources: inputs.sources, flags: compileFlags, allow: options.allowPvmForbiddenIn || [] });
  if (
    !options.force &&
    isFresh(image, stamp, key, [...inputs.sources, ...inputs.headers, inputs.linkerScript, __filename, path.join(__dirname, 'flags.cjs')])
  ) {
    return { image, elf, built: false, sources: inputs.sources };
  }

  fs.mkdirSync(outDir, { recursive: true });
  const objects = inputs.sources.map((source, index) => {
    const object = path.join(outDir, `${String(index).padStart(3, '0')}-${path.basename(source)}.o`);
    // -MMD lists every header the source really included (an entry may include headers from
    // anywhere), so the next build knows what it depends on.
    run(CC, [...compileFlags, '-MMD', '-MF', `${object}.d`, '-c', source, '-o', object]);
    return object;
  });
  const headersIncluded = new Set(objects.flatMap((object) => readDepFile(`${object}.d`)));
  run('ld', [
    '-nostdlib',
    '-static',
    '-z',
    'noexecstack',
    '--build-id=none',
    '-z',
    'max-page-size=4096',
    '-T',
    inputs.linkerScript,
    '-o',
    elf,
    ...objects,
  ]);
  const tmp = `${image}.tmp`;
  run('objcopy', ['-O', 'binary', '--remove-section=.bss', elf, tmp]);
  checkPvmInstructions(elf, options.allowPvmForbiddenIn || []);
  checkLayout(elf, fs.readFileSync(tmp));
  fs.renameSync(tmp, image);
  fs.writeFileSync(stamp, JSON.stringify({ key, headers: [...headersIncluded].sort() }));
  return { image, elf, built: true, sources: inputs.sources };
}

module.exports = { buildGuestImage, guestInputs };
