// The conformance cases (test/conformance/snap_cases.h) on the guest runtime: the same cases the
// host runs in test/c/test_snap_conformance.c, compiled into a test guest image with the core and
// csrc/guest/ (EPOCH; the raw mechanisms answer DBOS_ENOTSUP with their reason). One vitest test
// per case; writers_race_snapshots runs its writers and its taker on vCPUs of their own.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Guest } from '@dbos/hypercall';
import { buildCTest, runCTest } from '@dbos/native-build/ctest';
import { guestRequired, packageDir, testImage } from './guest-helpers.js';

// The case names, from the cases themselves: the host program prints one line per case.
const hostRun = runCTest(buildCTest(packageDir, path.join(packageDir, 'test', 'c', 'test_snap_conformance.c')));
const names = hostRun.cases.map((c) => c.name);
// The last line is the race, which is phases rather than a table entry.
const RACE = 'writers_race_snapshots';
const tableNames = names.filter((name) => name !== RACE);

/** 0: every check held; otherwise the line of the failed check in snap_cases.h. */
function outcome(line: bigint): string {
  return line === 0n ? 'held' : `failed at test/conformance/snap_cases.h:${line}`;
}

test('the host lists the table, then the race', () => {
  expect(names.length, hostRun.output).toBeGreaterThan(1);
  expect(names.at(-1)).toBe(RACE);
});

describe.skipIf(!guestRequired)('guest runtime', () => {
  let guest: Guest | undefined;
  let writerCount = 0;

  beforeAll(async () => {
    // One vCPU takes (and runs the table), one more per race writer.
    const probe = Guest.start({ memory: 64 * 1024 * 1024, image: testImage() });
    try {
      writerCount = Number(await probe.run('race_writer_count'));
    } finally {
      probe.stop();
    }
    guest = Guest.start({ memory: 64 * 1024 * 1024, vcpus: 1 + writerCount, image: testImage() });
  });

  afterAll(() => {
    guest?.stop();
  });

  test('the image holds the same cases', async () => {
    const g = guest!;
    expect(g.entries()).toEqual(
      expect.arrayContaining(['snap_case', 'snap_case_count', 'snap_case_name', 'race_setup', 'race_writer', 'race_taker', 'race_finish']),
    );
    expect(Number(await g.run('snap_case_count'))).toBe(tableNames.length);
    const scratch = g.info.scratch.address;
    // Index == count names the race.
    for (const [index, name] of [...tableNames, RACE].entries()) {
      const length = Number(await g.run('snap_case_name', [index, scratch, 128]));
      expect(g.read(scratch, length).toString('latin1')).toBe(name);
    }
  });

  for (const [index, name] of tableNames.entries()) {
    test(name, async () => {
      expect(outcome(await guest!.run('snap_case', [index]))).toBe('held');
    });
  }

  test(RACE, async () => {
    const g = guest!;
    const setup = await g.run('race_setup');
    let race = 0n;
    if (setup === 0n) {
      // The writers spin until the taker says stop; the taker always says it when it returns.
      const writers = Array.from({ length: writerCount }, (_, index) => g.run('race_writer', [index], { vcpu: 1 + index }));
      const taker = await g.run('race_taker', [], { vcpu: 0 });
      const lines = await Promise.all(writers);
      race = lines.find((line) => line !== 0n) ?? taker;
    }
    // Always: it frees the space, also after a failure.
    const finish = await g.run('race_finish');
    expect(outcome(setup || race || finish)).toBe('held');
  });
});
