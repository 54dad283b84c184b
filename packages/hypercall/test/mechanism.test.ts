// probe().mechanisms.hypercall: what this package's C code says it selects, checked against the
// machine facts probe() found on its own and against what the package then really does.
import { probe } from '@dbos/platform';
import { expect, test } from 'vitest';
import { Gateway, Guest } from '../src/index.js';

test('importing the package registers the hypercall mechanisms with probe()', () => {
  const entry = probe({ refresh: true }).mechanisms.hypercall;
  expect(entry).toMatchObject({ package: '@dbos/hypercall', loaded: true });
  expect(entry.host).not.toMatch(/not reported/);
});

test('host: io_uring exactly where probe() finds io_uring, else the thread pool with the reason', async () => {
  const { ioUring, mechanisms } = probe({ refresh: true });
  const host = mechanisms.hypercall.host;
  if (ioUring.available) {
    expect(host).toMatch(/^io_uring via raw system calls/);
    // Opcodes the kernel lacks are named exactly when probe() says io_uring lacks them.
    expect(host.includes('ftruncate')).toBe(!ioUring.ops.ftruncate);
  } else {
    expect(host).toMatch(/^thread pool of plain system calls: io_uring_setup/);
    if (ioUring.error) expect(host).toContain(ioUring.error);
  }
  // And it is what a gateway with backend 'auto' really runs on.
  const gateway = new Gateway();
  try {
    expect(host.startsWith(gateway.backend === 'io_uring' ? 'io_uring' : 'thread pool')).toBe(true);
  } finally {
    await gateway.close();
  }
});

test('guest: the VMM\'s path where a guest can start, "unavailable: <reason>" where it cannot', () => {
  const guest = probe({ refresh: true }).mechanisms.hypercall.guest;
  const availability = Guest.available();
  if (availability.available) {
    expect(guest).toMatch(availability.kvm === 'pvm' ? /^in-process KVM VMM on PVM/ : /^in-process KVM VMM on hardware/);
    expect(guest).toContain(`engine in guest ring ${availability.engineRing}`);
    expect(guest).toMatch(/ioeventfd/);
    expect(guest).toMatch(/plain pread\/pwrite/); // vmm_hypercall.c makes plain system calls
    expect(guest).not.toMatch(/io_uring/);
  } else {
    expect(guest).toBe(`unavailable: ${availability.reason}`);
  }
});

test('guest: a KVM device that does not open makes the guest line say why', () => {
  const saved = process.env.DBOS_KVM_DEVICE;
  process.env.DBOS_KVM_DEVICE = '/nonexistent/kvm';
  try {
    const guest = probe({ refresh: true }).mechanisms.hypercall.guest;
    expect(guest).toMatch(/^unavailable: \/nonexistent\/kvm: No such file/);
  } finally {
    if (saved === undefined) delete process.env.DBOS_KVM_DEVICE;
    else process.env.DBOS_KVM_DEVICE = saved;
  }
});
