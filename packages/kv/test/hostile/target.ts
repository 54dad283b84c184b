// What the hostile cases share: a scratch store with a few entries, and a snapshot and an
// iteration kept open across calls. After every call both are read, so a call that closed or
// freed what a live handle still reaches fails there (or crashes the child).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { hostileBuffer, hostileValue } from '@dbos/hostile';
import { type Entry, type KvStore, type Snapshot, open } from '../../src/index.js';

export const ENTRIES = 40;

export interface Target {
  dir: string;
  store: KvStore;
  snapshot: Snapshot;
  iteration: Iterator<Entry<string, string>>;
}

export async function setup(): Promise<Target> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-hostile-'));
  const store = open(path.join(dir, 'store'), { cacheBytes: 4 << 20 });
  await store.batch(Array.from({ length: ENTRIES }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: `v${i}` })));
  const snapshot = store.snapshot();
  const iteration = store.range()[Symbol.iterator]();
  iteration.next();
  return { dir, store, snapshot, iteration };
}

export async function teardown(target: Target): Promise<void> {
  await target.store.close().catch((error: unknown) => {
    if ((error as { code?: unknown }).code !== 'DBOS_ECLOSED') throw error;
  });
  fs.rmSync(target.dir, { recursive: true, force: true });
}

/** Read through the kept snapshot and iteration: they must still work, or say DBOS_ECLOSED. */
export function touchKept(target: Target): void {
  if (target.store.closed) return;
  if (!target.snapshot.closed && target.snapshot.get('k1') !== 'v1') throw new Error('the kept snapshot lost k1');
  const step = target.iteration.next();
  if (step.done) target.iteration = target.store.range()[Symbol.iterator]();
  // The iteration reads the live store: keys the calls wrote show up too, all as strings.
  else if (typeof step.value.key !== 'string' || typeof step.value.value !== 'string') {
    throw new Error(`the kept iteration read ${String(step.value.key)}`);
  }
}

/** Anything but a string: a hostile string is a relative path and would make files where the test runs. */
export const notString = hostileValue().filter((value) => typeof value !== 'string');

/** Keys: present ones, absent ones, the limits (empty, 1024 and 1025 bytes), buffers in hostile states, anything. */
export const key = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: ENTRIES + 5 }).map((i) => `k${i}`), weight: 5 },
  { arbitrary: fc.constantFrom<unknown>('', 'x'.repeat(1024), 'x'.repeat(1025), 'é'.repeat(513), Buffer.from('k3')), weight: 2 },
  { arbitrary: hostileBuffer(16), weight: 1 },
  { arbitrary: hostileValue(), weight: 1 },
);

export const value = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 4 },
  { arbitrary: hostileBuffer(64), weight: 1 },
  { arbitrary: hostileValue(), weight: 1 },
);
