// The C core on the guest runtime (one cache slot per vCPU, memory from the guest kernel): what the
// README and probe().mechanisms.alloc say about 'guest', measured. The image is built everywhere;
// it runs where /dev/kvm opens (and everywhere under DBOS_REQUIRE_KVM=1, where a skip would hide a
// broken runner).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Guest } from '@dbos/hypercall';
import { buildGuestImage } from '@dbos/native-build';
import { STATUS_CODES } from '@dbos/platform';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const MiB = 2 ** 20;

function kvmOpens(): boolean {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', fs.constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}
const guestRequired = kvmOpens() || process.env.DBOS_REQUIRE_KVM === '1';

/** The test image: @dbos/hypercall's guest kernel, this package's core and csrc/guest/, the entries. */
function testImage(): string {
  return buildGuestImage(packageDir, { name: 'test', entries: [path.join('test', 'guest', 'alloc_guest.c')] }).image;
}

const statusName = (status: bigint) => STATUS_CODES[Number(status)] ?? `status ${status}`;

test('the C core and its guest runtime build into a guest image', () => {
  expect(fs.statSync(testImage()).size).toBeGreaterThan(0);
});

describe.skipIf(!guestRequired)('on the guest runtime', () => {
  let guest: Guest | undefined;

  beforeAll(() => {
    guest = Guest.start({ memory: 64 * MiB, image: testImage() });
  });

  afterAll(() => {
    guest?.stop();
  });

  test('objects and page runs of every size class are served, zeroed, freed, and the pool checks out', async () => {
    // 1 B .. 80 KiB in steps of 97: every class and the first page runs, three rounds of reuse.
    expect(statusName(await guest!.run('alloc_churn', [16 * MiB, 3, 80 * 1024, 97]))).toBe('DBOS_OK');
  });

  test('the limit is hard in the guest too', async () => {
    expect(statusName(await guest!.run('alloc_limit', [2 * MiB, 4 * MiB]))).toBe('DBOS_OK');
    expect(statusName(await guest!.run('alloc_limit', [8 * MiB, 4 * MiB]))).toBe('DBOS_ENOMEM');
  });
});
