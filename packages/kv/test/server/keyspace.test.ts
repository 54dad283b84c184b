// Keyspace units: the expiry index agrees with the value headers after any sequence of writes,
// lazy and active expiry on a movable clock, exact counts, FLUSH SYNC/ASYNC, SCAN's guarantee
// under concurrent writes, reopening, and the snapshot iterator SAVE uses.
import { afterEach, describe, expect, it } from 'vitest';
import { type KvStore, open } from '../../src/index.js';
import { KEY_BYTES_MAX, Keyspace, type StoredValue } from '../../src/server/keyspace.js';
import { decodeValue, keyOfData, metaKey, PREFIX_DATA, PREFIX_EXPIRY, parseExpiryKey } from '../../src/server/keyspace-layout.js';
import { scratch, seeded } from '../helpers.js';

type Store = KvStore<'binary', 'binary'>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A keyspace on a new store with a clock the test moves; active expiry off unless asked. */
function setup(options: { activeExpiry?: boolean; dir?: string } = {}) {
  const dir =
    options.dir ??
    (() => {
      const area = scratch('keyspace');
      cleanups.push(area.remove);
      return area.dir;
    })();
  const clock = { now: 1_000_000 };
  const store: Store = open(dir, { keyEncoding: 'binary', valueEncoding: 'binary', cacheBytes: 8 * 1024 * 1024 });
  const keyspace = new Keyspace(store, { now: () => clock.now, activeExpiry: options.activeExpiry ?? false });
  const close = async () => {
    keyspace.stop();
    if (!store.closed) await store.close();
  };
  cleanups.push(close);
  return { dir, clock, store, keyspace, close };
}

const key = (text: string) => Buffer.from(text);
const text = (value: string, expireAt: number | null = null): StoredValue => ({ type: 'string', value: Buffer.from(value), expireAt });

/** The generation's data and expiry entries as stored, checked against each other and the counts. */
function checkConsistency(store: Store, keyspace: Keyspace): void {
  keyspace.settle(); // the store itself is read below: the turn's pending changes first
  const expiries = new Map<string, number>();
  const data = new Map<string, number | null>();
  let generation = -1;
  for (const { key: stored, value } of store.range({ gte: Buffer.of(PREFIX_DATA), lt: Buffer.of(PREFIX_DATA + 1) })) {
    const entryGeneration = stored.readUInt32BE(1);
    generation = Math.max(generation, entryGeneration);
    data.set(`${entryGeneration}:${keyOfData(stored).toString('latin1')}`, decodeValue(value).expireAt);
  }
  for (const stored of store.range({ gte: Buffer.of(PREFIX_EXPIRY), lt: Buffer.of(PREFIX_EXPIRY + 1), values: false })) {
    const { at, key: name } = parseExpiryKey(stored);
    const id = `${stored.readUInt32BE(1)}:${name.toString('latin1')}`;
    expect(expiries.has(id), `two index entries for ${id}`).toBe(false);
    expiries.set(id, at);
  }
  for (const [id, at] of data) {
    if (at === null) expect(expiries.has(id), `index entry for persistent ${id}`).toBe(false);
    else expect(expiries.get(id), `index entry for ${id}`).toBe(at);
  }
  for (const [id, at] of expiries) expect(data.get(id), `data for index entry ${id}`).toBe(at);
  const current = [...data.keys()].filter((id) => id.startsWith(`${generation}:`));
  if (generation >= 0) {
    expect(keyspace.size()).toBe(current.length);
    expect(keyspace.expiringCount()).toBe(current.filter((id) => data.get(id) !== null).length);
  }
}

describe('Keyspace', () => {
  it('keeps the expiry index, the headers and both counts in agreement through random changes', async () => {
    const { store, keyspace, clock } = setup();
    const random = seeded(7);
    const names = Array.from({ length: 24 }, (_, i) => key(`k${i}`));
    const model = new Map<string, StoredValue>();
    const pending: Promise<void>[] = [];
    for (let step = 0; step < 1500; step++) {
      const name = names[Math.floor(random() * names.length)] as Buffer;
      const roll = random();
      if (roll < 0.4) {
        const expireAt = random() < 0.5 ? null : clock.now + 1 + Math.floor(random() * 400);
        const value = text(`v${step}`, expireAt);
        pending.push(keyspace.set(name, value));
        model.set(name.toString(), value);
      } else if (roll < 0.55) {
        const done = keyspace.delete(name);
        expect(done !== null).toBe(model.has(name.toString()));
        if (done) pending.push(done);
        model.delete(name.toString());
      } else if (roll < 0.7) {
        // Several keys in one change, one of them twice: the change sees its own writes.
        const change = keyspace.change();
        const other = names[Math.floor(random() * names.length)] as Buffer;
        change.set(name, text('first', clock.now + 50));
        change.set(other, text('second'));
        change.set(name, text('third', null));
        expect(change.get(name)?.value.toString()).toBe('third');
        pending.push(change.commit());
        model.set(other.toString(), text('second'));
        model.set(name.toString(), text('third'));
      } else if (roll < 0.85) {
        clock.now += Math.floor(random() * 60);
        for (const [id, value] of model) if (value.expireAt !== null && value.expireAt <= clock.now) model.delete(id);
      } else if (roll < 0.93) {
        keyspace.activeExpireCycle(3);
      } else {
        const got = keyspace.get(name);
        const expected = model.get(name.toString());
        expect(got?.value.toString()).toBe(expected?.value.toString());
        expect(got?.expireAt ?? null).toBe(expected?.expireAt ?? null);
      }
      if (step % 100 === 0) checkConsistency(store, keyspace);
    }
    await Promise.all(pending);
    checkConsistency(store, keyspace);
    for (const [id, value] of model) expect(keyspace.get(key(id))?.value.toString()).toBe(value.value.toString());
  });

  it('deletes an expired key when it is read (lazy expiry), not before', async () => {
    const { store, keyspace, clock } = setup();
    await keyspace.set(key('a'), text('1', clock.now + 100));
    await keyspace.set(key('b'), text('2'));
    expect(keyspace.size()).toBe(2);
    expect(keyspace.expiringCount()).toBe(1);
    clock.now += 99;
    expect(keyspace.get(key('a'))?.value.toString()).toBe('1');
    clock.now += 1;
    // Due but not yet read: still counted, as Redis's DBSIZE counts it.
    expect(keyspace.size()).toBe(2);
    expect(keyspace.get(key('a'))).toBeUndefined();
    expect(keyspace.size()).toBe(1);
    expect(keyspace.expiringCount()).toBe(0);
    checkConsistency(store, keyspace);
  });

  it('expires due keys in bounded cycles, oldest first', async () => {
    const { store, keyspace, clock } = setup();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) writes.push(keyspace.set(key(`e${i}`), text('x', clock.now + 10 + i)));
    for (let i = 0; i < 20; i++) writes.push(keyspace.set(key(`p${i}`), text('y')));
    await Promise.all(writes);
    clock.now += 10 + 199; // e0..e199 are due
    // A cycle stops at its key limit (or its time budget, on a loaded machine): never more than asked.
    const first = keyspace.activeExpireCycle(64);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(64);
    expect(keyspace.stored(key('e0'))).toBeUndefined();
    expect(keyspace.stored(key('e150'))).toBeDefined(); // not reached yet: the cycle is bounded
    let expired = first;
    for (let cycle = 0; cycle < 1000; cycle++) {
      const count = keyspace.activeExpireCycle(64);
      expect(count).toBeLessThanOrEqual(64);
      if (count === 0) break;
      expired += count;
    }
    expect(expired).toBe(200);
    expect(keyspace.size()).toBe(120);
    expect(keyspace.expiringCount()).toBe(100);
    expect(keyspace.get(key('e200'))?.value.toString()).toBe('x');
    checkConsistency(store, keyspace);
  });

  it('runs active expiry on its own timer', async () => {
    const { keyspace, clock } = setup({ activeExpiry: true });
    await keyspace.set(key('soon'), text('x', clock.now + 5));
    clock.now += 5;
    for (let i = 0; i < 50 && keyspace.size() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(keyspace.size()).toBe(0);
    expect(keyspace.stored(key('soon'))).toBeUndefined();
  });

  it('looks empty at once after FLUSH ASYNC and deletes the old entries in the background', async () => {
    const { store, keyspace, clock } = setup();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 5000; i++) writes.push(keyspace.set(key(`f${i}`), text('v', i % 3 === 0 ? clock.now + 1000 : null)));
    await Promise.all(writes);
    await keyspace.flush('async');
    expect(keyspace.size()).toBe(0);
    expect(keyspace.expiringCount()).toBe(0);
    expect(keyspace.get(key('f1'))).toBeUndefined();
    expect([...keyspace.entries()]).toEqual([]);
    expect(keyspace.scan(0, 100)).toEqual({ cursor: 0, keys: [] });
    expect(keyspace.randomKey()).toBeNull();
    // New writes meanwhile land in the new generation and survive the background deletion.
    await keyspace.set(key('f1'), text('new', clock.now + 10));
    for (let i = 0; i < 200 && keyspace.dropping; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(keyspace.dropping).toBe(false);
    let stored = 0;
    for (const _ of store.range({ gte: Buffer.of(PREFIX_DATA), lt: Buffer.of(PREFIX_EXPIRY + 1), values: false })) stored++;
    expect(stored).toBe(2); // f1's value and its index entry
    expect(keyspace.get(key('f1'))?.value.toString()).toBe('new');
    checkConsistency(store, keyspace);
  });

  it('deletes everything before FLUSH SYNC resolves', async () => {
    const { store, keyspace } = setup();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) writes.push(keyspace.set(key(`s${i}`), text('v', i % 2 === 0 ? 5_000_000 : null)));
    await Promise.all(writes);
    await keyspace.flush('sync');
    expect(keyspace.size()).toBe(0);
    let stored = 0;
    for (const _ of store.range({ gte: Buffer.of(PREFIX_DATA), lt: Buffer.of(PREFIX_EXPIRY + 1), values: false })) stored++;
    expect(stored).toBe(0);
  });

  it('returns every key present for a whole SCAN while other keys come and go, each once', async () => {
    const { keyspace } = setup();
    const random = seeded(11);
    const stable = new Set<string>();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 600; i++) {
      stable.add(`stable:${i}`);
      writes.push(keyspace.set(key(`stable:${i}`), text('s')));
    }
    let churn = 0;
    const seen = new Map<string, number>();
    let cursor = 0;
    let steps = 0;
    do {
      const step = keyspace.scan(cursor, 7);
      for (const found of step.keys) seen.set(found.toString(), (seen.get(found.toString()) ?? 0) + 1);
      cursor = step.cursor;
      steps++;
      // Between steps: new keys appear and others vanish, including ones SCAN has yet to reach.
      for (let i = 0; i < 5; i++) writes.push(keyspace.set(key(`churn:${churn++}`), text('c')));
      const victim = key(`churn:${Math.floor(random() * churn)}`);
      const deleted = keyspace.delete(victim);
      if (deleted) writes.push(deleted);
    } while (cursor !== 0);
    await Promise.all(writes);
    expect(steps).toBeGreaterThan(50);
    for (const name of stable) expect(seen.get(name), name).toBe(1);
  });

  it('filters SCAN with accept and skips expired keys', async () => {
    const { keyspace, clock } = setup();
    await keyspace.set(key('a1'), text('x'));
    await keyspace.set(key('a2'), text('x', clock.now + 5));
    await keyspace.set(key('b1'), text('x'));
    clock.now += 5;
    const found: string[] = [];
    const offeredExpired: string[] = [];
    let cursor = 0;
    do {
      const step = keyspace.scan(cursor, 1, (name, stored) => {
        if (stored === null) offeredExpired.push(String(name));
        return stored !== null && name[0] === 0x61;
      });
      found.push(...step.keys.map(String));
      cursor = step.cursor;
    } while (cursor !== 0);
    expect(found).toEqual(['a1']);
    expect(offeredExpired).toEqual(['a2']); // offered as expired (SCAN … TYPE none lists those, as Redis does)
    expect(keyspace.size()).toBe(2); // a2 was deleted on the way
  });

  it('picks random keys among the live ones', async () => {
    const { keyspace } = setup();
    expect(keyspace.randomKey()).toBeNull();
    for (let i = 0; i < 20; i++) await keyspace.set(key(`r${i}`), text('x'));
    const picked = new Set<string>();
    for (let i = 0; i < 400; i++) picked.add(String(keyspace.randomKey()));
    expect(picked.size).toBeGreaterThan(12);
    for (const name of picked) expect(name).toMatch(/^r\d+$/);
  });

  it('finds the one live key among many expired ones, and nil once none is live', async () => {
    const { keyspace, clock } = setup();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) writes.push(keyspace.set(key(`x${i}`), text('x', clock.now + 10)));
    writes.push(keyspace.set(key('live'), text('y')));
    await Promise.all(writes);
    clock.now += 10;
    expect(String(keyspace.randomKey())).toBe('live');
    await keyspace.delete(key('live'));
    expect(keyspace.randomKey()).toBeNull();
    expect(keyspace.size()).toBe(0);
  });

  it('keeps values, expiries and counts across a reopen', async () => {
    const first = setup();
    await first.keyspace.set(key('plain'), text('p'));
    await first.keyspace.set(key('timed'), text('t', first.clock.now + 60_000));
    await first.keyspace.flush('async'); // an unfinished background deletion resumes after the reopen
    await first.keyspace.set(key('after'), text('a', first.clock.now + 30_000));
    await first.keyspace.set(key('kept'), text('k'));
    await first.close();
    const second = setup({ dir: first.dir });
    expect(second.keyspace.size()).toBe(2);
    expect(second.keyspace.expiringCount()).toBe(1);
    expect(second.keyspace.get(key('after'))).toEqual(text('a', first.clock.now + 30_000));
    expect(second.keyspace.get(key('kept'))).toEqual(text('k'));
    expect(second.keyspace.get(key('plain'))).toBeUndefined();
    for (let i = 0; i < 100 && second.keyspace.dropping; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    checkConsistency(second.store, second.keyspace);
  });

  it('counts the keys at start: from the record a clean stop leaves, else by a scan', async () => {
    const first = setup();
    for (let i = 0; i < 50; i++) await first.keyspace.set(key(`c${i}`), text('v', i % 5 === 0 ? first.clock.now + 60_000 : null));
    await first.close(); // stop() records the counts
    const countsKey = metaKey('counts');
    const raw: Store = open(first.dir, { keyEncoding: 'binary', valueEncoding: 'binary', cacheBytes: 8 * 1024 * 1024 });
    const record = raw.get(countsKey) as Buffer;
    expect([record.readDoubleBE(0), record.readDoubleBE(8)]).toEqual([50, 10]);
    // A record says what the start believes: prove it is read (and not recounted) with a changed one.
    record.writeDoubleBE(7, 0);
    await raw.put(countsKey, record);
    await raw.close();
    const trusting = setup({ dir: first.dir });
    expect(trusting.keyspace.size()).toBe(7);
    expect(trusting.store.get(countsKey)).toBeUndefined(); // deleted at once: a crash now would recount
    await trusting.store.close(); // no stop(): the next start counts
    const clean = setup({ dir: first.dir });
    expect([clean.keyspace.size(), clean.keyspace.expiringCount()]).toEqual([50, 10]);
    // Without stop() (as after a crash) there is no record: the next start counts by a scan.
    await clean.keyspace.set(key('extra'), text('v'));
    clean.keyspace.stop(); // records 51 …
    await clean.keyspace.delete(key('c0')); // … and a write after it deletes the record again
    await clean.store.close();
    const recounted = setup({ dir: first.dir });
    expect([recounted.keyspace.size(), recounted.keyspace.expiringCount()]).toEqual([50, 9]);
    checkConsistency(recounted.store, recounted.keyspace);
    await recounted.keyspace.set(key('c1'), text('changed'));
    await recounted.store.close(); // no stop(): no record
    const crashed = setup({ dir: first.dir });
    expect([crashed.keyspace.size(), crashed.keyspace.expiringCount()]).toEqual([50, 9]);
    checkConsistency(crashed.store, crashed.keyspace);
  });

  it('lists the live entries of a snapshot, unaffected by later writes', async () => {
    const { store, keyspace, clock } = setup();
    await keyspace.set(key('x'), text('1'));
    await keyspace.set(key('y'), text('2', clock.now + 100));
    await keyspace.set(key('z'), text('3', clock.now + 10));
    const snapshot = store.snapshot();
    try {
      await keyspace.flush('sync');
      await keyspace.set(key('w'), text('4'));
      const entries = [...keyspace.liveEntries(snapshot, clock.now + 10)].map((entry) => [
        String(entry.key),
        entry.type,
        String(entry.value),
        entry.expireAt,
      ]);
      expect(entries.sort()).toEqual([
        ['x', 'string', '1', null],
        ['y', 'string', '2', clock.now + 100],
      ]);
      const asynchronous: string[] = [];
      for await (const entry of keyspace.liveEntriesAsync(snapshot, clock.now)) asynchronous.push(String(entry.key));
      expect(asynchronous.sort()).toEqual(['x', 'y', 'z']);
    } finally {
      snapshot.close();
    }
  });

  it('asks the sync setting at every write and makes everything before a sync point durable', async () => {
    const area = scratch('keyspace-sync');
    cleanups.push(area.remove);
    const store: Store = open(area.dir, { keyEncoding: 'binary', valueEncoding: 'binary', cacheBytes: 8 * 1024 * 1024 });
    const asked: boolean[] = [];
    let sync = false;
    const keyspace = new Keyspace(store, {
      now: () => 1_000_000,
      activeExpiry: false,
      sync: () => {
        asked.push(sync);
        return sync;
      },
    });
    cleanups.push(async () => {
      keyspace.stop();
      await store.close();
    });
    const unsynced = keyspace.set(key('a'), text('1'));
    sync = true;
    const synced = keyspace.set(key('b'), text('2', 2_000_000));
    await Promise.all([unsynced, synced]);
    expect(asked).toEqual([false, true]);
    sync = false;
    await keyspace.set(key('c'), text('3'));
    await keyspace.syncPoint();
    const stats = store.stats();
    expect(stats.syncedLsn).toBe(stats.writtenLsn);
  });

  it('refuses keys longer than the limit on writes and finds nothing for them on reads', () => {
    const { keyspace } = setup();
    const long = Buffer.alloc(KEY_BYTES_MAX + 1, 0x61);
    expect(() => keyspace.set(long, text('x'))).toThrow(RangeError);
    expect(keyspace.get(long)).toBeUndefined();
    expect(keyspace.size()).toBe(0);
    const longest = Buffer.alloc(KEY_BYTES_MAX, 0x61);
    keyspace.set(longest, text('x', 2_000_000));
    expect(keyspace.get(longest)?.value.toString()).toBe('x');
  });
});
