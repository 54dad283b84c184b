// The conformance cases (test/conformance/pt_cases.h) on the guest runtime: the same table the
// host runs in test/c/test_pt_conformance.c, compiled into a test guest image with the guest
// backend (PTE writes, INVLPG, the guest #PF handler, A/D bits). One vitest test per case.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Guest } from '@dbos/hypercall';
import { buildCTest, runCTest } from '@dbos/native-build/ctest';
import { guestRequired, packageDir, testImage } from './guest-helpers.js';

// The case names, from the table itself: the host program prints one line per case.
const hostRun = runCTest(buildCTest(packageDir, path.join(packageDir, 'test', 'c', 'test_pt_conformance.c')));
const names = hostRun.cases.map((c) => c.name);

test('the case table lists its cases', () => {
  expect(names.length, hostRun.output).toBeGreaterThan(0);
});

describe.skipIf(!guestRequired)('guest runtime', () => {
  let guest: Guest | undefined;

  beforeAll(() => {
    guest = Guest.start({ memory: 64 * 1024 * 1024, image: testImage() });
  });

  afterAll(() => {
    guest?.stop();
  });

  test('the image holds the same case table', async () => {
    const g = guest!;
    expect(g.entries()).toEqual(expect.arrayContaining(['pt_case', 'pt_case_count', 'pt_case_name']));
    expect(Number(await g.run('pt_case_count'))).toBe(names.length);
    const scratch = g.info.scratch.address;
    for (const [index, name] of names.entries()) {
      const length = Number(await g.run('pt_case_name', [index, scratch, 128]));
      expect(g.read(scratch, length).toString('latin1')).toBe(name);
    }
  });

  for (const [index, name] of names.entries()) {
    test(name, async () => {
      const line = await guest!.run('pt_case', [index]);
      // 0: every check held; otherwise the line of the failed check in pt_cases.h.
      expect(line === 0n ? 'held' : `failed at test/conformance/pt_cases.h:${line}`).toBe('held');
    });
  }
});
