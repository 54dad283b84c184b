// The C engine extension point: space.nativeHandle() and dbos/snapshot_handle.h, exercised by the
// test workload (test/native/), a C engine in an addon of its own without the snapshot core.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { types } from 'node:util';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { createSpace } from '../src/index.js';
import type { SpaceNativeHandle } from '../src/index.js';
import * as writers from './support/writers.js';

const PAGE = 4096;
const packageDir = fileURLToPath(new URL('..', import.meta.url));

test('nativeHandle() is an External; an engine attached through it writes through the barrier', async () => {
  const space = createSpace({ size: 256 * PAGE });
  const handle = space.nativeHandle();
  expect(types.isExternal(handle)).toBe(true);
  writers.fill(space); // attaches the workload
  expect(new BigUint64Array(space.memory.buffer, 3 * PAGE, 1)[0]).toBe(3n << 32n);
  writers.startWriters(space, { writers: 2 });
  // The JavaScript thread's writer plus the engine's two, in the one space both see.
  expect(space.stats().writersRegistered).toBe(3);
  const snapshot = writers.snapshot(space);
  const before = writers.writerStats(space).writes;
  while (writers.writerStats(space).writes < before + 5000) await new Promise((r) => setTimeout(r, 1));
  expect(writers.checkSnapshot(snapshot)).toEqual({ mismatches: 0, firstBad: -1 });
  expect(snapshot.copies).toBeGreaterThan(0); // the engine's first writes copied through the barrier
  expect(writers.writerStats(space).quiesces).toBe(0); // epoch takes never quiesce
  writers.stopWriters(space);
  expect(space.stats().writersRegistered).toBe(1);
  snapshot.release();
  space.close();
});

test('a raw space quiesces through the attached engine at each take', () => {
  const space = createSpace({ size: 256 * PAGE, writes: 'raw', mechanism: 'fork' });
  writers.fill(space);
  writers.startWriters(space, { writers: 2 });
  const first = writers.snapshot(space);
  const second = writers.snapshot(space);
  expect(writers.writerStats(space).quiesces).toBe(2);
  for (const snapshot of [first, second]) expect(writers.checkSnapshot(snapshot)).toEqual({ mismatches: 0, firstBad: -1 });
  space.close();
});

test('one engine per space: a second is refused with DBOS_EBUSY until the first detaches', () => {
  const space = createSpace({ size: 16 * PAGE });
  writers.fill(space);
  expect(() => writers.attachEngine(space.nativeHandle())).toThrow(expect.objectContaining({ code: 'DBOS_EBUSY' }));
  writers.detach(space);
  const other = writers.attachEngine(space.nativeHandle());
  expect(other.attached()).toBe(true);
  other.close();
  other.close(); // idempotent
  space.close();
});

test('close() detaches the engine first (its writers stop); the handle is refused afterwards', () => {
  const space = createSpace({ size: 64 * PAGE, writes: 'raw', mechanism: 'fork' });
  const handle = space.nativeHandle();
  writers.startWriters(space, { writers: 2 });
  expect(writers.attached(space)).toBe(true);
  space.close(); // writers still running: the detach callback stops them before the space goes
  expect(writers.attached(space)).toBe(false);
  expect(() => writers.writerStats(space)).toThrow(expect.objectContaining({ code: 'DBOS_ECLOSED' }));
  expect(() => writers.attachEngine(handle)).toThrow(expect.objectContaining({ code: 'DBOS_ECLOSED' }));
  expect(() => space.nativeHandle()).toThrow(expect.objectContaining({ code: 'DBOS_ECLOSED' }));
});

test('an engine refuses anything but a handle (the type tag), with TypeError DBOS_EINVAL', () => {
  for (const value of [{}, null, 42, new Uint8Array(8)]) {
    let caught: unknown;
    try {
      writers.attachEngine(value as unknown as SpaceNativeHandle);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TypeError);
    expect(caught).toMatchObject({ code: 'DBOS_EINVAL' });
  }
});

test('a handle kept after its space was garbage collected stays safe to hand to an engine', () => {
  const script = `
    const { createSpace } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
    const { Workload } = (await import('node:module')).createRequire(import.meta.url)(${JSON.stringify(writers.workloadAddonPath)});
    let collected = false;
    const registry = new FinalizationRegistry(() => { collected = true; });
    function make() {
      const space = createSpace({ size: 1 << 20 });
      const workload = new Workload(space.nativeHandle());
      workload.start(1, true, false, false, 0, false);
      registry.register(space, 0);
      return [space.nativeHandle(), workload];
    }
    const [handle, workload] = make();
    for (let i = 0; i < 50 && !collected; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 5)); }
    if (!collected) process.exit(4); // the space was not collected: the test proves nothing
    if (workload.attached()) process.exit(3); // collection detaches the engine
    try { new Workload(handle); process.exit(5); } catch (error) { if (error.status === undefined) process.exit(6); }
  `;
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
});

test('the workload reaches snapshot code only through the handle: nothing from the core is linked in', () => {
  const nm = spawnSync('nm', ['-D', '--undefined-only', writers.workloadAddonPath], { encoding: 'utf8' });
  expect(nm.status).toBe(0);
  expect(nm.stdout).toContain('napi_'); // sanity: the listing has the Node-API imports
  expect(nm.stdout).not.toMatch(/\bdbos_/);
});

test('the shipped addon holds no test workload', () => {
  const dir = path.join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`);
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.node'))) {
    const bytes = fs.readFileSync(path.join(dir, file));
    for (const needle of ['snap_workload', 'workloadStart', 'firstWrites']) expect(bytes.includes(needle)).toBe(false);
  }
});
