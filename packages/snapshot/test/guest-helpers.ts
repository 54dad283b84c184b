// When the guest tests must run here, and the test guest image they run in.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGuestImage } from '@dbos/native-build';

export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** /dev/kvm opens for this process: then every guest test must run (a skip is a failure). */
export function kvmOpens(): boolean {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', fs.constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

/**
 * Guest tests run where /dev/kvm opens, and everywhere under DBOS_REQUIRE_KVM=1 (CI machines that
 * are meant to have KVM), so a broken runner fails instead of skipping.
 */
export const guestRequired = kvmOpens() || process.env.DBOS_REQUIRE_KVM === '1';
if (!guestRequired) console.log('guest tests skipped: /dev/kvm does not open for this process');

/**
 * The test image: the guest kernel of @dbos/hypercall, the C closure of this package (its core
 * and csrc/guest/, and those of the packages it builds on) and the test entry points, in
 * <package>/.guest/test/. Rebuilt only when an input changed; any compile error fails the build.
 */
export function testImage(): string {
  return buildGuestImage(packageDir, {
    name: 'test',
    entries: [path.join('test', 'guest', 'snap_conformance.c')],
  }).image;
}
