// The conformance cases (test/conformance/alloc_cases.h) on the guest runtime (one cache slot per
// vCPU, memory from the guest kernel): the same table the host runs in
// test/c/test_alloc_conformance.c, compiled into a test guest image. One vitest test per case. The
// image is built everywhere; it runs where /dev/kvm opens (and everywhere under DBOS_REQUIRE_KVM=1,
// where a skip would hide a broken runner).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Guest } from '@dbos/hypercall';
import { buildGuestImage } from '@dbos/native-build';
import { buildCTest, guestTestsRequired, runCTest } from '@dbos/native-build/ctest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const MiB = 2 ** 20;

const guestRequired = guestTestsRequired();

/** The test image: @dbos/hypercall's guest kernel, this package's core and csrc/guest/, the entries. */
function testImage(): string {
  return buildGuestImage(packageDir, { name: 'test', entries: [path.join('test', 'guest', 'alloc_guest.c')] }).image;
}

// The case names, from the table itself: the host program prints one line per case.
const hostRun = runCTest(buildCTest(packageDir, path.join(packageDir, 'test', 'c', 'test_alloc_conformance.c')));
const names = hostRun.cases.map((c) => c.name);

test('the case table lists its cases', () => {
  expect(names.length, hostRun.output).toBeGreaterThan(0);
});

test('the C core and its guest runtime build into a guest image', () => {
  expect(fs.statSync(testImage()).size).toBeGreaterThan(0);
});

describe.skipIf(!guestRequired)('on the guest runtime', () => {
  let guest: Guest | undefined;

  beforeAll(() => {
    guest = Guest.start({ memory: 128 * MiB, image: testImage() });
  });

  afterAll(() => {
    guest?.stop();
  });

  test('the image holds the same case table', async () => {
    const g = guest!;
    expect(g.entries()).toEqual(expect.arrayContaining(['alloc_case', 'alloc_case_count', 'alloc_case_name']));
    expect(Number(await g.run('alloc_case_count'))).toBe(names.length);
    const scratch = g.info.scratch.address;
    for (const [index, name] of names.entries()) {
      const length = Number(await g.run('alloc_case_name', [index, scratch, 128]));
      expect(g.read(scratch, length).toString('latin1')).toBe(name);
    }
  });

  for (const [index, name] of names.entries()) {
    test(name, async () => {
      const line = await guest!.run('alloc_case', [index]);
      // 0: every check held; otherwise the line of the failed check in alloc_cases.h.
      expect(line === 0n ? 'held' : `failed at test/conformance/alloc_cases.h:${line}`).toBe('held');
    });
  }
});
