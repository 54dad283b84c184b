// Scripted abuse of spaces and snapshots, once per mechanism: calls on released snapshots and closed
// spaces, calls while an image streams or loads, a caller's descriptor closed or the memory cloned
// away mid-operation, an onProgress that throws or calls back in, close() under native writers, and
// garbage collection with work pending. Every call must hold the error contract, and where the
// outcome is defined (a rejection with the callback's own error, an empty file) it is checked.
import fs from 'node:fs';
import path from 'node:path';
import { scenario, TRAP_ERROR, type CaseTable, type HostileCase } from '@dbos/hostile';
import { PAGE_SIZE, verifyImage } from '../../src/index.js';
import type { Snapshot, SnapshotMechanism, SnapshotSpace } from '../../src/index.js';
import * as writers from '../support/writers.js';
import { MECHANISMS, PAGES, SIZE, caught, codeOf, expectThat, openSpace, scratchDir } from './support.js';

/** Bytes of the spaces whose images stream in these scenarios: several 1 MiB buffers, so writes take a while. */
const STREAM_SIZE = 4 << 20;
const CODE = /^(DBOS_E[A-Z]+|E[A-Z0-9]+)$/;

/** Every call a caller can make on a space and its snapshot, with plausible arguments. */
function everyCall(space: SnapshotSpace, snapshot: Snapshot, file: string): Array<[string, () => unknown]> {
  return [
    ['memory', () => space.memory.byteLength],
    ['write', () => space.write(PAGE_SIZE, Uint8Array.of(1, 2, 3))],
    [
      'beginWrite',
      () => {
        space.beginWrite(1).fill(4);
        space.endWrite();
      },
    ],
    ['endWrite', () => space.endWrite()],
    ['snapshot', () => space.snapshot().release()],
    ['stats', () => space.stats()],
    ['nativeHandle', () => space.nativeHandle()],
    ['load', () => space.load(file)],
    ['closed', () => space.closed],
    ['copies', () => snapshot.copies],
    ['readPage', () => snapshot.readPage(2)],
    ['read', () => snapshot.read(7, 9000)],
    ['pages', () => [...snapshot.pages({ batch: 3, end: 8 })].length],
    ['dirtySince', () => snapshot.dirtySince().count],
    ['writeTo', () => snapshot.writeTo(`${file}.again`)],
    ['release', () => snapshot.release()],
    ['close', () => space.close()],
  ];
}

/**
 * Make the calls in a random order, all in this turn of the event loop (an operation in flight is
 * still in flight for each); each may fail only with a coded error. Returns `name:code` (or
 * `name:ok`) per call, asynchronous ones once they settled.
 */
async function callAll(calls: Array<[string, () => unknown]>, random: () => number, skip: string[] = []): Promise<string[]> {
  const order = calls.filter(([name]) => !skip.includes(name)).sort(() => random() - 0.5);
  const outcome = (name: string, error: unknown) => {
    if (error !== null && !CODE.test(codeOf(error) ?? '')) throw new Error(`${name} failed without a code: ${String(error)}`);
    return `${name}:${codeOf(error) ?? 'ok'}`;
  };
  const results = order.map(([name, run]): string | Promise<string> => {
    try {
      const result = run();
      return result instanceof Promise
        ? result.then(
            () => outcome(name, null),
            (error: unknown) => outcome(name, error),
          )
        : outcome(name, null);
    } catch (error) {
      return outcome(name, error);
    }
  });
  return Promise.all(results);
}

function streamingSpace(mechanism: SnapshotMechanism): SnapshotSpace {
  const space = openSpace(mechanism, STREAM_SIZE);
  space.write(0, new Uint8Array(STREAM_SIZE).fill(9));
  return space;
}

function perMechanism(mechanism: SnapshotMechanism): Record<string, HostileCase> {
  const on = (name: string) => `${name} [${mechanism}]`;
  return {
    [on('every call on a released snapshot, then on a closed space')]: scenario(async (random) => {
      const file = path.join(scratchDir(), 'released.img');
      const space = openSpace(mechanism);
      const snapshot = space.snapshot();
      snapshot.release();
      const released = await callAll(everyCall(space, snapshot, file), random, ['close', 'load']);
      for (const name of ['copies', 'readPage', 'read', 'pages', 'dirtySince', 'writeTo'])
        expectThat(released.includes(`${name}:DBOS_ECLOSED`), `${name} on a released snapshot: DBOS_ECLOSED (${released})`);
      const live = space.snapshot();
      space.close();
      expectThat(live.released, 'close() releases live snapshots');
      const closed = await callAll(everyCall(space, live, file), random);
      for (const entry of closed)
        expectThat(
          /:(DBOS_ECLOSED|ok)$/.test(entry) && (!entry.endsWith(':ok') || /^(closed|release|close):/.test(entry)),
          `after close: ${entry}`,
        );
    }),
    [on('every call while writeTo streams')]: scenario(async (random) => {
      const dir = scratchDir();
      const file = path.join(dir, 'streaming.img');
      const space = streamingSpace(mechanism);
      const snapshot = space.snapshot();
      const writing = snapshot.writeTo(file, { progressIntervalBytes: 1 });
      const codes = await callAll(everyCall(space, snapshot, file), random);
      expectThat(
        codes.includes('release:DBOS_EBUSY') && codes.includes('close:DBOS_EBUSY'),
        `release/close refused while writing (${codes})`,
      );
      await writing;
      await verifyImage(file);
      snapshot.release();
      space.close();
    }),
    [on('onProgress that throws stops the write and rejects with its own error')]: scenario(async (random) => {
      const file = path.join(scratchDir(), 'thrown.img');
      const space = streamingSpace(mechanism);
      const snapshot = space.snapshot();
      const thrown = Object.assign(new Error('stop writing'), { [TRAP_ERROR]: true });
      const at = Math.floor(random() * 4); // a 4 MiB image reports after each of its 1 MiB buffers, and at the end
      let calls = 0;
      const error = await caught(() =>
        snapshot.writeTo(file, {
          progressIntervalBytes: 1,
          onProgress: () => {
            if (calls++ === at) throw thrown;
          },
        }),
      );
      expectThat(error === thrown, `writeTo rejects with the callback's error, not ${String(error)}`);
      expectThat(fs.statSync(file).size === 0, 'the file of a stopped write is empty');
      await snapshot.writeTo(file); // the snapshot is still good
      await verifyImage(file);
      snapshot.release();
      space.close();
    }),
    [on('onProgress that calls back into the space')]: scenario(async (random) => {
      const file = path.join(scratchDir(), 'reentrant.img');
      const space = streamingSpace(mechanism);
      const snapshot = space.snapshot();
      const calls = everyCall(space, snapshot, `${file}.inner`);
      const inner: Promise<unknown>[] = [];
      await snapshot
        .writeTo(file, {
          progressIntervalBytes: 1,
          onProgress: () => {
            const [name, run] = calls[Math.floor(random() * calls.length)]!;
            try {
              const result = run();
              if (result instanceof Promise)
                inner.push(result.catch((error) => expectThat(CODE.test(codeOf(error) ?? ''), `${name} in onProgress: coded`)));
            } catch (error) {
              expectThat(CODE.test(codeOf(error) ?? ''), `${name} in onProgress: coded, not ${String(error)}`);
            }
          },
        })
        .catch((error) => expectThat(CODE.test(codeOf(error) ?? ''), `writeTo: coded, not ${String(error)}`));
      await Promise.all(inner);
      if (!space.closed && !snapshot.released) await verifyImage(file);
      if (!snapshot.released) snapshot.release();
      space.close();
    }),
    [on('the caller closes its descriptor while writeTo uses it')]: scenario(async () => {
      const dir = scratchDir();
      const space = streamingSpace(mechanism);
      const snapshot = space.snapshot();
      const fd = fs.openSync(path.join(dir, 'fd.img'), 'w+');
      const writing = snapshot.writeTo(fd);
      fs.closeSync(fd);
      const reused = fs.openSync(path.join(dir, 'bystander.img'), 'w+'); // likely the same number
      await writing;
      expectThat(fs.fstatSync(reused).size === 0, 'a file opened on the closed number is not written');
      fs.closeSync(reused);
      await verifyImage(path.join(dir, 'fd.img'));
      snapshot.release();
      space.close();
    }),
    [on('the memory cloned or transferred while writeTo and load run')]: scenario(async () => {
      const dir = scratchDir();
      const space = streamingSpace(mechanism);
      const memory = space.memory;
      const buffer = memory.buffer as ArrayBuffer;
      const snapshot = space.snapshot();
      const file = path.join(dir, 'cloned.img');
      const writing = snapshot.writeTo(file);
      // Not our API: Node copies an external buffer (it is untransferable) or refuses; if a runtime
      // ever moves it, the space must still not unmap memory the new owner reaches.
      let clone: unknown = null;
      await caught(() => {
        clone = structuredClone(buffer, { transfer: [buffer] });
      });
      const { port1, port2 } = new MessageChannel();
      await caught(() => port1.postMessage(buffer, [buffer]));
      port1.close();
      port2.close();
      await writing;
      snapshot.release();
      const loading = space.load(file);
      await caught(() => structuredClone(buffer, { transfer: [buffer] }));
      await loading;
      const after = space.snapshot();
      expectThat(after.readPage(1)[7] === 9, 'the space still reads its memory');
      after.release();
      space.close();
      if (clone instanceof ArrayBuffer) {
        expectThat(clone.byteLength === STREAM_SIZE, 'a clone is whole');
        new Uint8Array(clone)[0] = 1; // a copy, or memory kept mapped for its new owner
      }
    }),
    [on('close() under native writers and a pending writeTo')]: scenario(async () => {
      const space = openSpace(mechanism);
      writers.fill(space);
      writers.startWriters(space, { writers: 2 });
      const snapshot = writers.snapshot(space);
      const writing = snapshot.writeTo(path.join(scratchDir(), 'busy.img'));
      expectThat(codeOf(await caught(() => space.close())) === 'DBOS_EBUSY', 'close() refuses while writeTo is pending');
      await writing;
      space.close(); // the engine's detach callback stops its writers first
      expectThat(!writers.attached(space), 'the engine was detached');
    }),
    [on('snapshot, writes and close refused while load runs')]: scenario(async (random) => {
      const file = path.join(scratchDir(), 'to-load.img');
      const source = openSpace(mechanism);
      const image = source.snapshot();
      await image.writeTo(file);
      image.release();
      source.close();
      const space = openSpace(mechanism);
      const loading = space.load(file);
      const codes = await callAll(
        [
          ['snapshot', () => space.snapshot()],
          ['write', () => space.write(0, Uint8Array.of(1))],
          ['beginWrite', () => space.beginWrite(0)],
          ['close', () => space.close()],
          ['load', () => space.load(file)],
        ],
        random,
      );
      for (const name of ['snapshot', 'write', 'beginWrite', 'close'])
        expectThat(codes.includes(`${name}:DBOS_EBUSY`), `${name} refused while load runs (${codes})`);
      await loading;
      space.snapshot().release();
      space.close();
    }),
    [on('garbage collection with work pending')]: scenario(async (random) => {
      const dir = scratchDir();
      const pending: Promise<unknown>[] = [];
      (() => {
        // Unreachable once this returns: a space with a write in flight, one with native writers and
        // live snapshots, one with a memory view kept.
        const streaming = openSpace(mechanism);
        pending.push(streaming.snapshot().writeTo(path.join(dir, 'collected.img')));
        const busy = openSpace(mechanism);
        writers.fill(busy);
        writers.startWriters(busy, { writers: 1 });
        busy.snapshot();
        busy.snapshot();
        const kept = openSpace(mechanism);
        kept.snapshot();
        if (random() < 0.5) pending.push(Promise.resolve(kept.memory));
      })();
      for (let i = 0; i < 3; i++) {
        globalThis.gc?.();
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const settled = await Promise.allSettled(pending);
      const view = settled.at(-1);
      if (view?.status === 'fulfilled' && view.value instanceof Uint8Array) {
        view.value[0] = 1; // still mapped: the view keeps the memory
        expectThat(view.value.byteLength === SIZE, 'a kept view stays whole');
      }
      globalThis.gc?.();
      expectThat(PAGES > 0, 'ran');
    }),
  };
}

export default Object.assign({}, ...MECHANISMS.map(perMechanism)) satisfies CaseTable;
