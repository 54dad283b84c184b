// Scripted abuse of @dbos/hypercall, each scenario repeated with varied timing in its own child:
// buffers detached, transferred or resized while the kernel works on them, garbage collection of
// handles with work pending, calls during close() and stop(), stop racing doorbells and completions, and the
// truncation of descriptor numbers. The crashes each of these once caused are named where they are
// checked; nothing here may crash, abort, hang or throw an uncoded error.
import fs from 'node:fs';
import { scenario, type CaseTable } from '@dbos/hostile';
import { probe } from '@dbos/platform';
import { Gateway, type GatewayBackend } from '../../src/gateway.js';
import { Guest, encodeHypercall } from '../../src/guest.js';
import { HYPERCALL_OPS } from '../../src/abi.js';
import { drainFifo, expectThat, feedFifo, fixture, guestRuns, sharedGuest, sleep, testImage } from './support.js';

const EFAULT = -14;
const backends: GatewayBackend[] = probe().ioUring.available ? ['io_uring', 'threads'] : ['threads'];
const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const MIB = 1024 * 1024;

/** The ways JavaScript takes memory away from an in-flight op. */
const DAMAGE = [
  'structuredClone transfer',
  'ArrayBuffer.prototype.transfer',
  'transfer to a smaller size',
  'resize smaller',
  'resize to 0',
] as const;
type Damage = (typeof DAMAGE)[number];

/** A view over a resizable buffer when the damage is a resize; a plain one otherwise. */
function bytes(size: number, damage: Damage): Uint8Array {
  if (!damage.startsWith('resize')) return new Uint8Array(size);
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
  return new Uint8Array(new Resizable(size, { maxByteLength: size * 2 }));
}

function damage(buffer: ArrayBufferLike, how: Damage): void {
  const resizable = buffer as ArrayBuffer & { resize: (n: number) => void; transfer?: (n?: number) => ArrayBuffer };
  switch (how) {
    case 'structuredClone transfer':
      structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
      return;
    case 'ArrayBuffer.prototype.transfer':
    case 'transfer to a smaller size':
      // ArrayBuffer.prototype.transfer arrived after Node 20: detach by structuredClone there.
      if (resizable.transfer) resizable.transfer(how === 'transfer to a smaller size' ? 16 : undefined);
      else structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
      return;
    case 'resize smaller':
      resizable.resize(100);
      return;
    case 'resize to 0':
      resizable.resize(0);
  }
}

/**
 * A gateway and a descriptor whose reads complete after JavaScript has run again: the FIFO on
 * io_uring (the read waits until fed), the data file on a one-thread pool (completions come back
 * from the worker thread).
 */
function asyncReads(backend: GatewayBackend): { gateway: Gateway; fd: number; position: number } {
  const files = fixture();
  const gateway = new Gateway({ backend, threads: 1 });
  if (backend === 'threads') return { gateway, fd: files.dataFd, position: 0 };
  drainFifo();
  return { gateway, fd: files.fifoRead, position: 0 };
}

export default {
  // Once SIGSEGV: the completion was written through the detached `results` array.
  'readBatch, then its results array is detached or resized before it settles': scenario(async (random) => {
    const backend = pick(random, backends);
    const how = pick(random, DAMAGE);
    const { gateway, fd, position } = asyncReads(backend);
    const results = new Int32Array(bytes(8, how).buffer); // one entry per op
    expectThat(results.length === 2, 'a results array of two entries');
    const reading = gateway.readBatch(fd, [position, position + 4096], 4096, Buffer.alloc(8192), results);
    damage(results.buffer, how);
    feedFifo();
    const settled = await reading;
    expectThat(settled.length === 2, `two results after the results array was damaged (${how}), got ${settled.length}`);
    expectThat(settled !== results || results.length === 2, 'a new results array when the given one no longer fits');
    await gateway.close();
  }),
  // Once SIGSEGV or heap corruption: the kernel (or the copy) wrote into memory JavaScript had moved or freed.
  'readBatch / submit, then the data buffer is detached, transferred or shrunk before it settles': scenario(async (random) => {
    const backend = pick(random, backends);
    const how = pick(random, DAMAGE);
    const { gateway, fd, position } = asyncReads(backend);
    const target = bytes(8192, how);
    const viaSubmit = random() < 0.5;
    const pending = viaSubmit
      ? gateway.submit([
          { op: 'preadv', fd, buffers: [target.subarray(0, 4096), target.subarray(4096)], position },
          { op: 'pwrite', fd: fixture().dataFd, buffer: target, position: 1 << 20 },
        ])
      : gateway.readBatch(fd, [position, position + 4096], 4096, target);
    damage(target.buffer, how);
    if (random() < 0.5) globalThis.gc?.(); // a transferred-away buffer nobody holds is freed now
    feedFifo();
    const settled = await pending;
    const values = Array.isArray(settled) ? settled.map((result) => result.result) : Array.from(settled);
    for (const value of values) expectThat(value >= 0 || value === EFAULT || value < 0, `a byte count or -errno, got ${value}`);
    if (target.byteLength === 0 && backend === 'io_uring')
      expectThat(values[0] === EFAULT, `EFAULT for a read whose buffer went away (${how}), got ${values[0]}`);
    await gateway.close();
  }),
  // Once truncated to fd 1 (stdout): the binding cast 2^32 + 1 to int.
  'guest.grantFd / revokeFd of 2^32 + 1 are refused, never fd 1': scenario(async () => {
    const guest = await sharedGuest();
    if (!guest) return;
    for (const call of [() => guest.grantFd(2 ** 32 + 1), () => guest.revokeFd(2 ** 32 + 1), () => guest.grantFd(2 ** 31)]) {
      try {
        call();
        throw new Error('a descriptor number beyond int32 was accepted');
      } catch (error) {
        expectThat(
          error instanceof RangeError && (error as { code?: unknown }).code === 'DBOS_ERANGE',
          `RangeError DBOS_ERANGE, got ${String(error)}`,
        );
      }
    }
  }),
  // Once a data race: the service thread kicked a vCPU thread stop had already joined.
  'stop a guest while doorbells and completions are in flight': scenario(async (random) => {
    if (!guestRuns()) return;
    const guest = Guest.start({ image: await testImage(), memory: 16 * MIB, vcpus: 2 });
    const scratch = guest.info.scratch.address;
    guest.write(scratch, encodeHypercall(HYPERCALL_OPS.exit, 0, [7], 1));
    const nops = guest.run('hc_nop_loop', [2 ** 30, 1 + Math.floor(random() * 64), 1], { vcpu: 0 }).catch((error: unknown) => error);
    const exits = random() < 0.5 ? guest.run('hc_request', [scratch, 1], { vcpu: 1 }).catch((error: unknown) => error) : null;
    await sleep(Math.floor(random() * 4));
    guest.stop();
    for (const outcome of [await nops, await exits]) {
      if (outcome === null || typeof outcome === 'bigint') continue;
      const code = (outcome as { code?: unknown }).code;
      expectThat(code === 'DBOS_ECLOSED' || code === 'DBOS_EGUEST', `a call ended by stop or EXIT, got ${String(outcome)}`);
    }
  }),
  'garbage collection of a Gateway with batches in flight': scenario(async (random) => {
    const backend = pick(random, backends);
    const pending = (() => {
      const { gateway, fd, position } = asyncReads(backend);
      return gateway.readBatch(fd, [position], 4096, Buffer.alloc(4096));
    })();
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.();
      await sleep(1);
    }
    feedFifo();
    const [bytesRead] = await pending;
    expectThat(typeof bytesRead === 'number', 'the batch of a collected gateway settled');
  }),
  'garbage collection of a Guest with a call running': scenario(async (random) => {
    if (!guestRuns()) return;
    const image = await testImage();
    const running = (() => Guest.start({ image, memory: 16 * MIB }).run('spin_ns', [Math.floor(random() * 2e6)]))();
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.();
      await sleep(1);
    }
    expectThat(typeof (await running) === 'bigint', 'the call of an unreferenced guest finished');
    globalThis.gc?.();
  }),
  'close() with batches in flight, calls during close': scenario(async (random) => {
    const backend = pick(random, backends);
    const { gateway, fd, position } = asyncReads(backend);
    const pending = [gateway.readBatch(fd, [position], 4096, Buffer.alloc(4096)), gateway.submit([{ op: 'fsync', fd: fixture().dataFd }])];
    const closing = gateway.close();
    const refused = [() => gateway.readBatch(fd, [0], 1, Buffer.alloc(1)), () => gateway.submitSync([]), () => gateway.submit([])];
    for (const attempt of refused) {
      let code: unknown;
      try {
        await attempt();
      } catch (error) {
        code = (error as { code?: unknown }).code;
      }
      expectThat(code === 'DBOS_ECLOSED', `DBOS_ECLOSED during close, got ${String(code)}`);
    }
    await sleep(Math.floor(random() * 3));
    feedFifo();
    await Promise.all([...pending, closing]);
    expectThat(gateway.inflight === 0 && gateway.closed, 'nothing in flight once closed');
  }),
  'a failed guest answers every call with a coded error': scenario(async (random) => {
    if (!guestRuns()) return;
    const guest = Guest.start({ image: await testImage(), memory: 16 * MIB });
    try {
      await guest.run('crash', [Math.floor(random() * 4), 1]).catch(() => {});
      expectThat(guest.status === 'failed', `a crashed guest is failed (${guest.status})`);
      const outcome = await guest.run('add', [1, 2]).catch((error: unknown) => error);
      expectThat((outcome as { code?: unknown }).code === 'DBOS_EGUEST', 'DBOS_EGUEST after a failure');
      guest.takeLog();
      guest.read(guest.info.scratch.address, 16);
    } finally {
      guest.stop();
    }
  }),
  // Once a hang: the service thread, blocked in a system call a guest asked for, was never kicked by stop.
  'stop while a guest OPENAT waits on a FIFO nobody opens (sync and async doorbell)': scenario(async (random) => {
    if (!guestRuns()) return;
    const guest = Guest.start({ image: await testImage(), memory: 16 * MIB });
    const directory = guest.grantFd(fixture().dirFd);
    const scratch = guest.info.scratch.address;
    guest.write(scratch + 0x100, Buffer.from('lonely\0'));
    guest.write(scratch, encodeHypercall(HYPERCALL_OPS.openat, directory, [scratch + 0x100, fs.constants.O_RDONLY, 0]));
    const opening = guest.run('hc_request', [scratch, Math.floor(random() * 3)]).catch((error: unknown) => error);
    await sleep(2 + Math.floor(random() * 10));
    const started = Date.now();
    guest.stop();
    expectThat(Date.now() - started < 5000, `stop to interrupt the blocked OPENAT, took ${Date.now() - started} ms`);
    const outcome = await opening;
    expectThat(
      (outcome as { code?: unknown }).code === 'DBOS_ECLOSED' || typeof outcome === 'bigint',
      `the call ended (${String(outcome)})`,
    );
  }),
} satisfies CaseTable;
