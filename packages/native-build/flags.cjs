'use strict';
// The C and C++ compiler flags of every dbos build, in one place: the Node addons (binding.gyp),
// the C unit tests (ctest.mjs), the freestanding check and the guest kernel images
// (guest-image.cjs) all take theirs from here.

/** Warnings every C file is compiled with, in every build. */
const warnings = ['-Wall', '-Wextra', '-Wno-unused-parameter'];

/** The Node addon (host runtime), for binding.gyp through gypFlags(). */
const addon = {
  // NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a C++ exception raised while the environment tears
  // down (worker.terminate() with work in flight) is dropped instead of aborting the process.
  defines: ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS'],
  // C and C++ alike.
  cflags: ['-O2', '-g', ...warnings, '-fvisibility=hidden'],
  cflags_c: ['-std=gnu11'],
  cflags_cc: ['-std=c++17', '-fexceptions'],
};

/** C unit-test programs: the host closure plus the test, quick to build, easy to debug. */
const cTest = ['-std=gnu11', '-g', '-O1', ...warnings, '-pthread'];

/** Sanitizer flags added to the C tests by DBOS_SANITIZE=address,undefined. */
function sanitize(list) {
  return list.length ? [`-fsanitize=${list.join(',')}`, '-fno-omit-frame-pointer', '-fno-sanitize-recover=all'] : [];
}

/** A core file must compile with no OS header in reach (the compiler's own headers only). */
const freestanding = ['-std=c11', '-ffreestanding', '-nostdinc', '-fsyntax-only', ...warnings, '-Werror'];

/**
 * The guest kernel image: freestanding, no red zone (interrupts push on the same stack), no SSE
 * (the kernel does not save vector state), small code model at 1 MiB, and no compiler-inserted
 * calls to memset/memcpy from loops that implement them.
 */
const guest = [
  '-std=gnu11',
  '-O2',
  '-g0',
  ...warnings,
  '-Werror',
  '-ffreestanding',
  '-nostdlib',
  '-nostdinc',
  '-fno-pic',
  '-fno-pie',
  '-mno-red-zone',
  '-mgeneral-regs-only',
  '-mcmodel=small',
  '-fno-stack-protector',
  '-fno-asynchronous-unwind-tables',
  '-fno-unwind-tables',
  '-fcf-protection=none',
  '-fno-strict-aliasing',
  '-fno-omit-frame-pointer',
  '-fno-tree-loop-distribute-patterns',
  '-DDBOS_GUEST_KERNEL=1',
];

/** For binding.gyp: `"cflags": ["<!@(node -p \"require('@dbos/native-build').gypFlags('cflags')\")"]`. */
function gypFlags(name) {
  const list = addon[name];
  if (!list) throw new Error(`@dbos/native-build: no addon flag list '${name}' (have ${Object.keys(addon).join(', ')})`);
  return list.join(' ');
}

module.exports = { warnings, addon, cTest, sanitize, freestanding, guest, gypFlags };
