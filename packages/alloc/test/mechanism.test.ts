// What `dbos probe` says about alloc is what a pool with the default options really gets here, and
// agrees with the machine's facts.
import { probe as platformProbe } from '@dbos/platform';
import { expect, test } from 'vitest';
import { Allocator } from '../src/index.js';

test('importing the package registers its mechanism report', () => {
  const report = platformProbe().mechanisms.alloc;
  expect(report.loaded).toBe(true);
  expect(report.package).toBe('@dbos/alloc');
});

test('the host line names what a default pool got, and THP as the facts allow', () => {
  const facts = platformProbe();
  const { host } = facts.mechanisms.alloc;
  const allocator = new Allocator({ limitBytes: 4 * 1024 * 1024, prefaultBytes: 0 });
  const { hugePages, populate } = allocator.stats();
  allocator.close();
  expect(host.includes('populate: MADV_POPULATE_WRITE'), host).toBe(populate);
  expect(host.includes('populate: first touch'), host).toBe(!populate);
  const thp = facts.thp.enabled === 'always' || facts.thp.enabled === 'madvise';
  expect(host.includes('huge pages: THP via MADV_HUGEPAGE'), host).toBe(hugePages && thp);
  if (hugePages) expect(host).toContain(`enabled=${facts.thp.enabled}`);
  expect(host).toContain(`hugetlb: not used (${facts.hugetlb.pagesTotal} pages reserved)`);
});

test('the guest line is honest: unavailable without KVM, and from JavaScript either way', () => {
  const facts = platformProbe();
  const { guest } = facts.mechanisms.alloc;
  if (facts.kvm.kind === 'none') expect(guest).toBe(`unavailable: ${facts.kvm.reason}`);
  else expect(guest).toContain("Allocator runtime 'guest': DBOS_ENOTSUP");
});
