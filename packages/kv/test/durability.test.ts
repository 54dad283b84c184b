// The durability queue by itself, against a scripted commit thread: promises resolve in LSN order
// once the record's end is written (sync false) or synced (sync true), and a log failure rejects
// every promise still waiting.
import { DbosError } from '@dbos/platform';
import { expect, test } from 'vitest';
import { DurabilityQueue } from '../src/durability.js';

function source() {
  const state = { written: 8, synced: 8, held: false };
  return {
    state,
    writtenLsn: () => state.written,
    syncedLsn: () => state.synced,
    holdListener: (hold: boolean) => {
      state.held = hold;
    },
  };
}

test('a record counts once the log has passed its start; sync waits for the device', async () => {
  const log = source();
  const queue = new DurabilityQueue(log);
  const order: string[] = [];
  const track = (name: string, promise: Promise<void>) => promise.then(() => order.push(name));
  // Records at 8, 40 and 72 (each 32 bytes); nothing is written yet: the log ends at 8.
  const a = track('a sync', queue.wait(8, true));
  const b = track('b', queue.wait(40, false));
  const c = track('c sync', queue.wait(72, true));
  expect(queue.pending).toBe(3);
  expect(log.state.held).toBe(true);
  // The commit thread: the native LSNs move, then the listener is called.
  const commit = (written: number, synced: number) => {
    log.state.written = written;
    log.state.synced = synced;
    queue.committed(written, synced, 'DBOS_OK');
  };
  commit(72, 8); // a and b written, nothing synced
  await b;
  expect(order).toEqual(['b']);
  commit(104, 104);
  await Promise.all([a, c]);
  expect(order).toEqual(['b', 'a sync', 'c sync']);
  expect(queue.pending).toBe(0);
  expect(log.state.held).toBe(false);
  // Already durable: resolved without waiting.
  await queue.wait(72, true);
  expect(queue.pending).toBe(0);
});

test('a log failure rejects what waits, with its code, and every later wait', async () => {
  const queue = new DurabilityQueue(source());
  const done = queue.wait(8, false);
  const lost = queue.wait(40, true);
  queue.committed(40, 8, 'DBOS_EIO');
  await expect(done).resolves.toBeUndefined();
  const error = await lost.catch((reason: unknown) => reason);
  expect(error).toBeInstanceOf(DbosError);
  expect((error as DbosError).code).toBe('DBOS_EIO');
  await expect(queue.wait(72, false)).rejects.toMatchObject({ code: 'DBOS_EIO' });
});

test('close resolves what waits, or rejects it with the close failure', async () => {
  const clean = new DurabilityQueue(source());
  const waiting = [clean.wait(100, true), clean.wait(200, false)];
  clean.finish(undefined);
  await expect(Promise.all(waiting)).resolves.toHaveLength(2);
  const failed = new DurabilityQueue(source());
  const failing = failed.wait(100, true);
  const failure = new DbosError('DBOS_ENOSPC', 'full');
  failed.finish(failure);
  await expect(failing).rejects.toBe(failure);
});
