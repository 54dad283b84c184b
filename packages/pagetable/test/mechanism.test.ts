// What `dbos probe` says about pagetable comes from the package's own C selection, and agrees with
// the machine's facts and with pagetable's probe().
import { probe as platformProbe } from '@dbos/platform';
import { expect, test } from 'vitest';
import { probe } from '../src/index.js';

test('importing the package registers its mechanism report', () => {
  const report = platformProbe().mechanisms.pagetable;
  expect(report.loaded).toBe(true);
  expect(report.package).toBe('@dbos/pagetable');
  expect(report.host).toMatch(/^mmap\/MAP_FIXED\/mremap\/madvise /);
});

test('the host line names the mechanisms the facts allow and probe() reports', () => {
  const facts = platformProbe();
  const { host } = facts.mechanisms.pagetable;
  const mine = probe();
  // Dirty pages: WP_ASYNC tracking needs the userfaultfd feature and PAGEMAP_SCAN, both.
  const wpAsync = facts.userfaultfd.features.wpAsync && facts.pagemapScan.available;
  expect(host.includes('dirty: UFFD WP_ASYNC + PAGEMAP_SCAN'), host).toBe(wpAsync);
  expect(host.includes('dirty: shadow compare'), host).toBe(!wpAsync);
  expect(mine.dirty).toBe(wpAsync ? 'uffd-wp-async' : 'shadow-compare');
  // Faults: the userfaultfd this process gets, or none.
  const faults = !facts.userfaultfd.available ? 'none' : facts.userfaultfd.userModeOnly ? 'userfaultfd-user-mode-only' : 'userfaultfd';
  expect(mine.faults).toBe(faults);
  expect(host.includes('faults: userfaultfd'), host).toBe(faults !== 'none');
  expect(host.includes('user-mode faults only'), host).toBe(faults === 'userfaultfd-user-mode-only');
  expect(host.includes('MISSING + MINOR'), host).toBe(mine.faultsMinor);
  expect(mine.faultsMinor).toBe(facts.userfaultfd.features.minorShmem);
  // Resident pages, frame pools, huge pages.
  expect(mine.present).toBe(facts.pagemapScan.available);
  expect(host.includes('resident: PAGEMAP_SCAN'), host).toBe(mine.present);
  expect(mine.frames).toBe(facts.memfd.available);
  expect(host.includes('over memfd frames'), host).toBe(mine.frames);
  const thp = facts.thp.enabled === 'always' || facts.thp.enabled === 'madvise';
  expect(mine.hugePages).toBe(thp ? 'thp' : 'none');
  expect(host.includes('THP on request'), host).toBe(thp);
  expect(mine.accessed).toBe('none');
  expect(mine.runtime).toBe('host');
});

test('the guest line is honest: unavailable without KVM, C engine code only with it', () => {
  const facts = platformProbe();
  const { guest } = facts.mechanisms.pagetable;
  if (facts.kvm.kind === 'none') {
    expect(guest).toBe(`unavailable: ${facts.kvm.reason}`);
  } else {
    expect(guest).toContain(`KVM ${facts.kvm.kind}`);
    expect(guest).toContain('PTE writes + INVLPG');
    expect(guest).toContain("runtime 'guest' from JavaScript: DBOS_ENOTSUP");
  }
});
