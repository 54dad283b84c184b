#!/usr/bin/env node
// build.mjs - builds the dbos guest kernel image and embeds it as a C array.
//
//   guest/arch/*.S guest/kernel/*.c guest/entries/*.c   the kernel and its entry points
//   csrc/*.c csrc/guest/*.c                             the package's core + platform_guest
//   ../pagetable/csrc/guest/*.c (when present)          @dbos/pagetable's guest backend
//
// → guest/out/dbos-guest.elf, dbos-guest.bin (flat, loaded at 1 MiB) and
//   dbos_guest_image.h (the bytes as a C array, included by csrc/host/vmm_image.c).
// Runs before every native build (install, build:native, the C tests) and
// skips work when nothing changed.  Needs gcc, ld and objcopy (binutils).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const guestDir = path.dirname(fileURLToPath(import.meta.url));
const packageDir = path.dirname(guestDir);
const outDir = path.join(guestDir, 'out');
const CC = process.env.DBOS_GUEST_CC || 'gcc';

const CFLAGS = [
  '-std=gnu11', '-O2', '-g0', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror',
  '-ffreestanding', '-nostdlib', '-nostdinc', '-fno-pic', '-fno-pie', '-mno-red-zone',
  '-mgeneral-regs-only', '-mcmodel=small', '-fno-stack-protector', '-fno-asynchronous-unwind-tables',
  '-fno-unwind-tables', '-fcf-protection=none', '-fno-strict-aliasing', '-fno-omit-frame-pointer',
  '-fno-tree-loop-distribute-patterns', // keep memset/memcpy from calling themselves
  '-DDBOS_GUEST_KERNEL=1',
  `-ffile-prefix-map=${path.dirname(path.dirname(fileURLToPath(import.meta.url)))}/=`, // __FILE__ relative to the package
];

function list(dir, ext) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(dir, f));
}

function run(cmd, args) {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.error) throw new Error(`dbos guest build: cannot run ${cmd}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`dbos guest build: ${cmd} ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

// `--install` (the package's install script): a machine without gcc/binutils can still
// install from a prebuilt binary, which already embeds the image, so failing is only a warning.
const installMode = process.argv.includes('--install');
if (installMode) {
  process.on('uncaughtException', (error) => {
    console.warn(`dbos guest build skipped: ${error.message.split('\n')[0]}`);
    process.exit(0);
  });
}

// @dbos/pagetable's guest runtime (and with it its core) joins the image when that package
// sits beside this one in the workspace and has a guest backend.
const pagetableDir = path.join(packageDir, '..', 'pagetable');
const pagetableGuest = path.join(pagetableDir, 'csrc', 'guest');
const pagetableSources = list(pagetableGuest, '.c').length > 0
  ? [...list(path.join(pagetableDir, 'csrc'), '.c'), ...list(pagetableGuest, '.c')]
  : [];
const sources = [
  ...list(path.join(guestDir, 'arch'), '.S'),
  ...list(path.join(guestDir, 'kernel'), '.c'),
  ...list(path.join(packageDir, '..', 'platform', 'csrc'), '.c'),
  ...list(path.join(packageDir, 'csrc'), '.c'),
  ...list(path.join(packageDir, 'csrc', 'guest'), '.c'),
  ...pagetableSources,
  ...list(path.join(guestDir, 'entries'), '.c'),
];
const headers = [
  ...list(path.join(guestDir, 'include'), '.h'),
  ...list(path.join(packageDir, 'include', 'dbos'), '.h'),
  ...list(path.join(packageDir, '..', 'platform', 'include', 'dbos'), '.h'),
  ...list(path.join(pagetableDir, 'include', 'dbos'), '.h'),
  ...list(path.join(pagetableDir, 'csrc'), '.h'),
  ...list(pagetableGuest, '.h'),
];
const gccInclude = run(CC, ['-print-file-name=include']).trim();
const includes = [
  `-isystem${gccInclude}`,
  `-I${path.join(guestDir, 'include')}`,
  `-I${path.join(packageDir, 'include')}`,
  `-I${path.join(packageDir, '..', 'platform', 'include')}`,
  `-I${path.join(packageDir, '..', 'pagetable', 'include')}`,
];

const header = path.join(outDir, 'dbos_guest_image.h');
const inputs = [...sources, ...headers, path.join(guestDir, 'guest.ld'), fileURLToPath(import.meta.url)];
const newest = Math.max(...inputs.map((f) => fs.statSync(f).mtimeMs));
if (fs.existsSync(header) && fs.statSync(header).mtimeMs >= newest && !process.argv.includes('--force')) {
  process.exit(0);
}

fs.mkdirSync(outDir, { recursive: true });
// @dbos/pagetable is another package, edited on its own schedule: if its sources stop compiling
// here, the image is still built without them (and the guest pagetable test then fails loudly
// with DBOS_ENOENT for its entry) instead of breaking this package's build.
const objects = [];
const pagetableObjects = [];
let pagetableError = null;
sources.forEach((source, index) => {
  const object = path.join(outDir, `${String(index).padStart(2, '0')}-${path.basename(source)}.o`);
  const fromPagetable = pagetableSources.includes(source);
  try {
    run(CC, [...CFLAGS, ...includes, '-c', source, '-o', object]);
    (fromPagetable ? pagetableObjects : objects).push(object);
  } catch (error) {
    if (!fromPagetable) throw error;
    pagetableError = error;
  }
});
if (pagetableError) console.warn(`dbos guest build: @dbos/pagetable's guest runtime left out:\n${pagetableError.message}`);
else objects.push(...pagetableObjects);
const elf = path.join(outDir, 'dbos-guest.elf');
const bin = path.join(outDir, 'dbos-guest.bin');
run('ld', ['-nostdlib', '-static', '-z', 'noexecstack', '--build-id=none', '-z', 'max-page-size=4096',
  '-T', path.join(guestDir, 'guest.ld'), '-o', elf, ...objects]);
run('objcopy', ['-O', 'binary', '--remove-section=.bss', elf, bin]);

// PVM cannot emulate these in guest ring 0 (guest-boot-notes.md): refuse an image that uses them
// anywhere but the `crash` entry, whose cases 5 and 6 provoke exactly those failures on purpose.
const forbidden = /\b(rdtscp|xgetbv|sysret[lq]?|vmcall|vmmcall|int\s+\$0x[0-9a-f]+)\b/;
let currentFunction = '';
for (const line of run('objdump', ['-d', '--no-show-raw-insn', elf]).split('\n')) {
  const label = /^[0-9a-f]+ <([^>]+)>:$/.exec(line);
  if (label) currentFunction = label[1];
  else if (forbidden.test(line) && currentFunction !== 'crash') {
    throw new Error(`dbos guest build: ${currentFunction} uses an instruction PVM cannot run in ring 0:\n${line.trim()}`);
  }
}

// The image must stay inside its slot (dbos/guest_abi.h DBOS_GUEST_IMAGE_SIZE_MAX, 3 MiB).
const image = fs.readFileSync(bin);
const symbols = run('nm', [elf]);
const bssEnd = parseInt(/^([0-9a-f]+) \S __bss_end$/m.exec(symbols)[1], 16);
if (bssEnd - 0x100000 > 0x300000) throw new Error(`dbos guest build: image with bss is ${bssEnd - 0x100000} bytes, over 3 MiB`);
if (image.readBigUInt64LE(0) !== 0x3154534f47534f44n) throw new Error('dbos guest build: image header is not first');

const lines = [];
for (let i = 0; i < image.length; i += 16) {
  lines.push('\t' + Array.from(image.subarray(i, i + 16), (b) => `0x${b.toString(16).padStart(2, '0')},`).join(' '));
}
const text = `/* Generated by guest/build.mjs from the guest kernel sources: do not edit. */
#define DBOS_GUEST_IMAGE_BUILT 1
static const unsigned char dbos_guest_image_bytes[${image.length}] __attribute__((aligned(4096))) = {
${lines.join('\n')}
};
`;
fs.writeFileSync(header + '.tmp', text);
fs.renameSync(header + '.tmp', header);
console.log(`dbos guest image: ${image.length} bytes (${sources.length} sources) -> ${path.relative(packageDir, header)}`);
