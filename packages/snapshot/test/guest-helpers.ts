// When the guest tests must run here, and the test guest image they run in.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGuestImage } from '@dbos/native-build';
import { guestTestsRequired } from '@dbos/native-build/ctest';

export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Guest tests run where /dev/kvm opens, and everywhere under DBOS_REQUIRE_KVM=1. */
export const guestRequired = guestTestsRequired();

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
