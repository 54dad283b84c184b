// The TypeScript API over each mechanism: native writers run while snapshots are read and written.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { probe } from '@dbos/platform';
import { createSpace, crc32c, imageSize, mechanisms, verifyImage } from '../src/index.js';
import type { SnapshotMechanism, SnapshotSpace } from '../src/index.js';
import * as writers from './support/writers.js';

const PAGE = 4096;
const MiB = 2 ** 20;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-snapshot-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

const available = new Set(
  mechanisms()
    .filter((m) => m.available)
    .map((m) => m.mechanism),
);

test('mechanisms() lists all three; epoch and fork always work on the host, guest has none yet', () => {
  const list = mechanisms();
  expect(list.map((m) => m.mechanism)).toEqual(['epoch', 'uffd-wp', 'fork']);
  expect(list.find((m) => m.mechanism === 'epoch')!.available).toBe(true);
  expect(list.find((m) => m.mechanism === 'fork')!.available).toBe(true);
  for (const m of list) expect(m.available || typeof m.reason === 'string').toBe(true);
  expect(mechanisms({ runtime: 'guest' }).every((m) => !m.available && m.reason)).toBe(true);
});

test('options are validated with stable codes; guest runtime is DBOS_ENOTSUP', () => {
  expect(codeOf(() => createSpace({ size: 1000 }))).toBe('DBOS_ERANGE');
  expect(codeOf(() => createSpace({ size: -4096 }))).toBe('DBOS_ERANGE');
  expect(codeOf(() => createSpace({ size: 4096.5 }))).toBe('DBOS_EINVAL');
  expect(codeOf(() => createSpace({ size: 4096, mechanism: 'magic' as SnapshotMechanism }))).toBe('DBOS_EINVAL');
  expect(codeOf(() => createSpace({ size: 4096, mechanism: 'epoch', writes: 'raw' }))).toBe('DBOS_EINVAL');
  expect(codeOf(() => createSpace({ size: 4096, runtime: 'guest' }))).toBe('DBOS_ENOTSUP');
  expect(codeOf(() => createSpace({ size: 4096, copyReserve: 100 }))).toBe('DBOS_ERANGE');
});

test('auto picks epoch for barrier writes and uffd-wp (or fork) for raw writes', () => {
  const barrier = createSpace({ size: MiB });
  expect(barrier.mechanism).toBe('epoch');
  barrier.close();
  const raw = createSpace({ size: MiB, writes: 'raw' });
  expect(raw.mechanism).toBe(available.has('uffd-wp') ? 'uffd-wp' : 'fork');
  raw.close();
});

test('epoch: write, beginWrite/endWrite, two live snapshots, dirtySince, release frees copies', () => {
  const space = createSpace({ size: 64 * PAGE });
  space.write(0, new Uint8Array(PAGE).fill(1));
  const first = space.snapshot();
  space.write(10, Uint8Array.of(2, 2, 2));
  const page = space.beginWrite(5);
  page.fill(5);
  expect(codeOf(() => space.beginWrite(6))).toBe('DBOS_EBUSY');
  expect(codeOf(() => space.snapshot())).toBe('DBOS_EBUSY');
  expect(codeOf(() => first.release())).toBe('DBOS_EBUSY'); // would wait for our own write
  space.endWrite();
  expect(codeOf(() => space.endWrite())).toBe('DBOS_EINVAL');
  const second = space.snapshot();
  space.write(5 * PAGE, Uint8Array.of(9));

  expect(first.read(8, 4)).toEqual(Uint8Array.of(1, 1, 1, 1));
  expect(second.read(8, 4)).toEqual(Uint8Array.of(1, 1, 2, 2));
  expect(first.readPage(5).every((b) => b === 0)).toBe(true);
  expect(second.readPage(5)[0]).toBe(5);
  expect(space.memory[5 * PAGE]).toBe(9);
  expect(Array.from(first.dirtySince().pages)).toEqual([0, 5]);
  expect(Array.from(second.dirtySince().pages)).toEqual([5]);
  expect(first.copies).toBe(2);

  const seen: number[] = [];
  for (const [index, bytes] of second.pages({ start: 4, end: 7, batch: 2 })) seen.push(index * 1000 + bytes[0]!);
  expect(seen).toEqual([4000, 5005, 6000]);

  expect(space.stats().copiesLive).toBe(3);
  first.release();
  first.release(); // idempotent
  expect(codeOf(() => first.readPage(0))).toBe('DBOS_ECLOSED');
  expect(codeOf(() => first.dirtySince())).toBe('DBOS_ECLOSED');
  second.release();
  expect(space.stats()).toMatchObject({ snapshotsLive: 0, copiesLive: 0 });
  expect(codeOf(() => space.write(64 * PAGE, Uint8Array.of(1)))).toBe('DBOS_ERANGE');
  expect(codeOf(() => first.readPage(64))).toBe('DBOS_ECLOSED');
  space.close();
  space.close();
  expect(codeOf(() => space.snapshot())).toBe('DBOS_ECLOSED');
});

test('fork: dirtySince comes from the pagetable region; two snapshots see their own sets', () => {
  const space = createSpace({ size: 256 * PAGE, writes: 'raw', mechanism: 'fork' });
  const memory = space.memory;
  const first = space.snapshot();
  memory[10 * PAGE] = 1;
  const second = space.snapshot();
  memory[200 * PAGE] = 2;
  const p = probe();
  if (p.userfaultfd.features.wpAsync && p.pagemapScan.available) {
    expect(Array.from(first.dirtySince().pages)).toEqual([10, 200]);
    expect(Array.from(second.dirtySince().pages)).toEqual([200]);
  } else {
    expect(codeOf(() => first.dirtySince())).toBe('DBOS_ENOTSUP'); // no cheap dirty tracking here
  }
  expect(first.readPage(10)[0]).toBe(0);
  expect(second.readPage(10)[0]).toBe(1);
  space.close();
});

test('close inside beginWrite/endWrite ends the write; a write may copy from the space itself', () => {
  const space = createSpace({ size: 8 * PAGE });
  space.write(0, Uint8Array.of(1, 2, 3, 4));
  space.write(2, space.memory.subarray(0, 4)); // overlapping source and target
  expect(Array.from(space.memory.subarray(0, 6))).toEqual([1, 2, 1, 2, 3, 4]);
  const pattern = new Uint8Array(2 * PAGE).map((_, i) => i % 251);
  space.write(0, pattern);
  space.write(PAGE, space.memory.subarray(0, 2 * PAGE)); // overlapping, across pages
  expect(Buffer.compare(space.memory.subarray(PAGE, 3 * PAGE), pattern)).toBe(0);
  space.beginWrite(1).fill(3);
  space.close();
  expect(space.closed).toBe(true);
});

test('close detaches the memory view and releases live snapshots', () => {
  const space = createSpace({ size: 16 * PAGE, writes: 'raw', mechanism: 'fork' });
  const memory = space.memory;
  memory[0] = 7;
  const snapshot = space.snapshot();
  space.close();
  expect(memory.byteLength).toBe(0);
  expect(snapshot.released).toBe(true);
  expect(codeOf(() => snapshot.read(0, 1))).toBe('DBOS_ECLOSED');
});

const cases: SnapshotMechanism[] = ['epoch', 'uffd-wp', 'fork'];
describe.each(cases)('%s under native writer threads', (mechanism) => {
  const runs = available.has(mechanism);
  let space: SnapshotSpace;
  beforeAll(() => {
    if (!runs) return;
    space = createSpace({ size: 8 * MiB, mechanism, writes: mechanism === 'epoch' ? 'barrier' : 'raw' });
    writers.fill(space);
    writers.startWriters(space, { writers: 2 });
  });
  afterAll(() => {
    if (runs) space.close(); // with writers still running
  });

  test.runIf(runs)('each snapshot equals memory at its instant, also after writers went on', async () => {
    const snapshots = [writers.snapshot(space), writers.snapshot(space)]; // two alive at once
    expect(snapshots[0]!.mechanism).toBe(mechanism);
    const before = writers.writerStats(space).writes;
    while (writers.writerStats(space).writes < before + 20000) await new Promise((r) => setTimeout(r, 1));
    for (const snapshot of snapshots) expect(writers.checkSnapshot(snapshot)).toEqual({ mismatches: 0, firstBad: -1 });
    for (const snapshot of snapshots) snapshot.release();
    expect(space.stats().copiesLive).toBe(0);
  });

  test.runIf(runs)('writeTo streams a verified image with progress while writers run', async () => {
    const snapshot = space.snapshot();
    const file = path.join(dir, `${mechanism}.img`);
    const progress: number[] = [];
    const pending = snapshot.writeTo(file, { onProgress: (done) => progress.push(done), progressIntervalBytes: MiB });
    expect(codeOf(() => snapshot.release())).toBe('DBOS_EBUSY');
    expect(codeOf(() => space.close())).toBe('DBOS_EBUSY');
    const result = await pending;
    expect(result.bytesWritten).toBe(imageSize(space.pageCount));
    expect(result.ioPath).toMatch(mechanism === 'fork' ? /^fork-child/ : /^(gateway|pwrite)/);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toBe(result.bytesWritten);
    const info = await verifyImage(file);
    expect(info).toMatchObject({ pageCount: space.pageCount, mechanism });
    // The image holds the snapshot's bytes: compare page 3 with the snapshot itself.
    const bytes = fs.readFileSync(file);
    expect(Buffer.compare(bytes.subarray(4096 + 3 * PAGE, 4096 + 4 * PAGE), Buffer.from(snapshot.readPage(3)))).toBe(0);
    // A flipped byte is caught and located.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Uint8Array.of(bytes[4096 + 77 * PAGE + 5]! ^ 1), 0, 1, 4096 + 77 * PAGE + 5);
    fs.closeSync(fd);
    await expect(verifyImage(file)).rejects.toMatchObject({ code: 'DBOS_ECORRUPT', badPage: 77 });
    snapshot.release();
    await expect(snapshot.writeTo(file)).rejects.toMatchObject({ code: 'DBOS_ECLOSED' });
  });

  test.runIf(runs)('a full device rejects with DBOS_ENOSPC and leaves the snapshot usable', async () => {
    const snapshot = space.snapshot();
    const fd = fs.openSync('/dev/full', 'w');
    await expect(snapshot.writeTo(fd)).rejects.toMatchObject({ code: 'DBOS_ENOSPC' });
    fs.closeSync(fd);
    const file = path.join(dir, `${mechanism}-after.img`);
    await snapshot.writeTo(file);
    await verifyImage(file);
    snapshot.release();
  });
});

test('a memory view kept after its space was garbage collected stays valid (no unmap under it)', () => {
  const script = `
    const { createSpace } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
    let collected = false;
    const registry = new FinalizationRegistry(() => { collected = true; });
    function make() {
      const space = createSpace({ size: 1 << 20, writes: 'raw', mechanism: 'fork' });
      const view = space.memory;
      view[100] = 7;
      space.snapshot();
      registry.register(space, 0);
      return view;
    }
    const view = make();
    for (let i = 0; i < 50 && !collected; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 5)); }
    for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 5)); }
    if (!collected) process.exit(4); // the space was not collected: the test proves nothing
    view[200] = 9;
    if (view[100] !== 7 || view[200] !== 9 || view.byteLength !== 1 << 20) process.exit(3);
  `;
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
});

test('load restores a space from an image, checking every page', async () => {
  const source = createSpace({ size: 32 * PAGE });
  source.write(
    0,
    new Uint8Array(32 * PAGE).map((_, i) => (i * 7) % 256),
  );
  const snapshot = source.snapshot();
  const file = path.join(dir, 'load.img');
  await snapshot.writeTo(file);
  const target = createSpace({ size: 32 * PAGE });
  const blocker = target.snapshot();
  await expect(target.load(file)).rejects.toMatchObject({ code: 'DBOS_EBUSY' });
  blocker.release();
  const info = await target.load(file);
  expect(info).toMatchObject({ pageCount: 32, mechanism: 'epoch' });
  expect(Buffer.compare(target.memory, source.memory)).toBe(0);
  const small = createSpace({ size: 16 * PAGE });
  await expect(small.load(file)).rejects.toMatchObject({ code: 'DBOS_ERANGE' });
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Uint8Array.of(0xff), 0, 1, 4096 + 20 * PAGE);
  fs.closeSync(fd);
  await expect(target.load(file)).rejects.toMatchObject({ code: 'DBOS_ECORRUPT', badPage: 20 });
  for (const space of [source, target, small]) space.close();
});

test('crc32c matches the standard check value', () => {
  expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  expect(imageSize(10)).toBe(4096 + 10 * 4100 + 64);
});
