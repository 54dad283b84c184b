// probe(): its shape, and its honesty, checked against /proc and /sys read here independently.
import fs from 'node:fs';
import os from 'node:os';
import { expect, test } from 'vitest';
import { CAPABILITIES, CAPABILITY_PACKAGES, registerMechanism } from '../src/mechanisms.js';
import { probe } from '../src/probe.js';

function read(path: string): string | null {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function cpuFlags(): string[] {
  const line = (read('/proc/cpuinfo') ?? '').split('\n').find((l) => l.startsWith('flags'));
  return line ? line.split(':')[1]!.trim().split(/\s+/) : [];
}

function kvmOpens(): boolean {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
}

test('probe has the documented shape and is cached', () => {
  const p = probe();
  expect(p.kernel.release).toBe(os.release());
  expect(p.cpu.count).toBe(os.cpus().length);
  expect(['hardware', 'pvm', 'none']).toContain(p.kvm.kind);
  expect(p.kvm.reason.length).toBeGreaterThan(10);
  expect(typeof p.userfaultfd.available).toBe('boolean');
  expect(typeof p.pagemapScan.available).toBe('boolean');
  expect(typeof p.ioUring.available).toBe('boolean');
  expect(Object.keys(p.mechanisms).sort()).toEqual([...CAPABILITIES].sort());
  expect(probe()).toBe(p);
  expect(probe({ refresh: true })).not.toBe(p);
  expect(Object.isFrozen(probe().kvm)).toBe(true);
});

test('kvm kind matches /dev/kvm, /sys/module and the CPU flags', () => {
  const p = probe();
  const flags = cpuFlags();
  const hardwareFlag = flags.includes('vmx') || flags.includes('svm');
  const opens = kvmOpens();
  expect(p.kvm.deviceOpens).toBe(opens);
  expect(p.kvm.cpuFlag !== null).toBe(hardwareFlag);
  expect(p.kvm.modules.includes('kvm_pvm')).toBe(fs.existsSync('/sys/module/kvm_pvm'));
  if (!opens) expect(p.kvm.kind).toBe('none');
  if (opens) expect(p.kvm.apiVersion).toBe(12);
  if (opens && fs.existsSync('/sys/module/kvm_pvm') && !hardwareFlag) {
    expect(p.kvm.kind).toBe('pvm');
    expect(p.kvm.reason).toMatch(/kvm_pvm/);
  }
  if (p.kvm.kind === 'hardware') expect(hardwareFlag).toBe(true);
});

test('io_uring, THP, hugetlb and userfaultfd agree with /proc and /sys', () => {
  const p = probe();
  const disabled = read('/proc/sys/kernel/io_uring_disabled');
  expect(p.ioUring.disabledSysctl).toBe(disabled === null ? null : Number(disabled));
  if (disabled !== null && Number(disabled) === 2) expect(p.ioUring.available).toBe(false);
  const thp = read('/sys/kernel/mm/transparent_hugepage/enabled');
  expect(p.thp.enabled).toBe(thp ? /\[(\w+)\]/.exec(thp)![1] : 'unknown');
  const meminfo = read('/proc/meminfo') ?? '';
  const total = /HugePages_Total:\s+(\d+)/.exec(meminfo);
  expect(p.hugetlb.pagesTotal).toBe(total ? Number(total[1]) : 0);
  const sysctl = read('/proc/sys/vm/unprivileged_userfaultfd');
  expect(p.userfaultfd.unprivilegedSysctl).toBe(sysctl === null ? null : Number(sysctl));
  if (p.userfaultfd.features.wpAsync) expect(p.userfaultfd.features.wp).toBe(true);
  expect(p.memfd.available).toBe(true);
});

test('probe rejects bad options', () => {
  expect(() => probe(null as never)).toThrow(TypeError);
});

test('mechanisms are what loaded packages report, and nothing for the others', () => {
  // No capability package is loaded in this test process: nothing is claimed.
  for (const capability of CAPABILITIES) {
    const entry = probe().mechanisms[capability];
    expect(entry.loaded).toBe(false);
    expect(entry.package).toBe(CAPABILITY_PACKAGES[capability]);
    expect(entry.host).toBe(`not reported: ${CAPABILITY_PACKAGES[capability]} is not loaded in this process`);
  }
  const before = probe();
  let calls = 0;
  registerMechanism('scheduler', () => {
    calls++;
    return { host: 'fibers preempted by timers (test report)', guest: 'unavailable: test' };
  });
  const after = probe();
  expect(after).not.toBe(before); // a registration refreshes the report, not the facts
  expect(after.kvm).toBe(before.kvm);
  expect(after.mechanisms.scheduler).toEqual({
    package: '@dbos/scheduler',
    loaded: true,
    host: 'fibers preempted by timers (test report)',
    guest: 'unavailable: test',
  });
  expect(probe()).toBe(after);
  expect(calls).toBe(1);
  expect(() => registerMechanism('kv' as never, () => ({ host: '', guest: '' }))).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
  expect(() => registerMechanism('alloc', null as never)).toThrow(TypeError);
});

test('a report gets the facts; one that calls probe() itself is refused, not looped', () => {
  let seen: unknown;
  registerMechanism('bufferpool', (facts) => {
    seen = facts.kvm;
    return { host: 'h', guest: 'g' };
  });
  expect(seen).toBeUndefined(); // reports run when probe() is asked, not when registered
  const p = probe();
  expect(seen).toBe(p.kvm);
  registerMechanism('bufferpool', () => {
    probe();
    return { host: 'never', guest: 'never' };
  });
  expect(probe().mechanisms.bufferpool.host).toMatch(/report failed \(probe\(\) was called from inside a mechanism report/);
});
