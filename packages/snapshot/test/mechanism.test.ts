// probe().mechanisms.snapshot: registered when the package loads, written by the C selection that
// createSpace uses, consistent with mechanisms() and with the platform probe's facts.
import { expect, test } from 'vitest';
import { probe } from '@dbos/platform';
import { createSpace, mechanisms } from '../src/index.js';

const MiB = 2 ** 20;

function selected(writes: 'barrier' | 'raw'): string {
  const space = createSpace({ size: MiB, writes });
  try {
    return space.mechanism;
  } finally {
    space.close();
  }
}

test('importing @dbos/snapshot registers its report: probe().mechanisms.snapshot is loaded', () => {
  const entry = probe().mechanisms.snapshot;
  expect(entry).toMatchObject({ package: '@dbos/snapshot', loaded: true });
  expect(entry.host).not.toMatch(/not reported/);
});

test('the host line names what createSpace selects for latched pages and for raw regions', () => {
  const { host } = probe().mechanisms.snapshot;
  expect(selected('barrier')).toBe('epoch');
  expect(host).toContain(`(writes: 'barrier'): epoch (`);
  expect(host).toContain(`(writes: 'raw'): ${selected('raw')} (`);
});

test('it agrees with mechanisms() and with the probe facts it derives from', () => {
  const facts = probe();
  const { host } = facts.mechanisms.snapshot;
  const uffd = mechanisms().find((m) => m.mechanism === 'uffd-wp')!;
  // uffd-wp availability is the platform probe's: userfaultfd with write-protect faults.
  expect(uffd.available).toBe(facts.userfaultfd.available && facts.userfaultfd.features.wp);
  expect(selected('raw')).toBe(uffd.available ? 'uffd-wp' : 'fork');
  if (uffd.available) expect(host).toContain(facts.userfaultfd.features.wpUnpopulated ? 'WP_UNPOPULATED)' : 'no WP_UNPOPULATED');
  else expect(host).toContain(uffd.reason!);
  // fork snapshots answer dirtySince from the pagetable region's WP_ASYNC + PAGEMAP_SCAN tracking.
  const tracking = facts.userfaultfd.features.wpAsync && facts.pagemapScan.available;
  expect(host).toContain(tracking ? "fork dirtySince: the pagetable region's tracking" : 'fork dirtySince: DBOS_ENOTSUP');
});

test('the guest line is honest: no backend, DBOS_ENOTSUP, as createSpace and mechanisms() say', () => {
  const { guest } = probe().mechanisms.snapshot;
  expect(guest).toMatch(/^unavailable: DBOS_ENOTSUP/);
  expect(() => createSpace({ size: MiB, runtime: 'guest' })).toThrow(expect.objectContaining({ code: 'DBOS_ENOTSUP' }));
  for (const m of mechanisms({ runtime: 'guest' })) {
    expect(m.available).toBe(false);
    expect(guest).toContain(m.reason!);
  }
});
