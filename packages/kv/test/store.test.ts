// The store through its TypeScript API: encodings, atomic batches, durability promises, ranges
// checked against a model, snapshots, reopen, maintenance calls and stats.
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { open } from '../src/index.js';
import { ASYNC_BATCH_OPERATIONS } from '../src/store.js';
import { scratch, seeded } from './helpers.js';

let space: ReturnType<typeof scratch>;
const stores: { close(): Promise<void> }[] = [];

/** Open a store that the test's cleanup closes. */
function track<T extends { close(): Promise<void> }>(store: T): T {
  stores.push(store);
  return store;
}

beforeEach(() => {
  space = scratch('store');
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  space.remove();
});

describe('encodings', () => {
  test('utf8 (the default) stores strings and returns strings', async () => {
    const db = track(open(space.dir));
    await db.put('héllo', 'wörld ✓');
    await db.put(Buffer.from('raw'), new Uint8Array([0x61, 0x62]));
    await db.put('empty', '');
    expect(db.get('héllo')).toBe('wörld ✓');
    expect(db.get('raw')).toBe('ab');
    expect(db.get('empty')).toBe('');
    expect(db.get('absent')).toBeUndefined();
  });

  test('binary stores bytes and returns Buffers, big values included', async () => {
    const db = track(open(space.dir, { keyEncoding: 'binary', valueEncoding: 'binary' }));
    const key = Buffer.from([0, 1, 2, 255]);
    const big = Buffer.alloc(300_000, 7);
    big[123_456] = 9;
    await db.put(key, big);
    const back = db.get(key);
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(Buffer.compare(back as Buffer, big)).toBe(0);
    expect(db.get(Buffer.from([0, 1, 2]))).toBeUndefined();
    const [many] = await db.getMany([key]);
    expect(Buffer.compare(many as Buffer, big)).toBe(0);
  });

  test('json stores any JSON value', async () => {
    const db = track(open(space.dir, { keyEncoding: 'json', valueEncoding: 'json' }));
    await db.put(['user', 42], { name: 'ada', tags: ['a', 'b'], n: 1.5, nil: null });
    await db.put('plain', 7);
    expect(db.get(['user', 42])).toEqual({ name: 'ada', tags: ['a', 'b'], n: 1.5, nil: null });
    expect(db.get('plain')).toBe(7);
    expect([...db.range({ values: false })]).toEqual(['plain', ['user', 42]]);
  });
});

describe('writes', () => {
  test('a batch applies every operation at once, in order', async () => {
    const db = track(open(space.dir));
    await db.put('gone', 'x');
    const promise = db.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'put', key: 'b', value: '2' },
      { type: 'del', key: 'gone' },
      { type: 'put', key: 'a', value: '3' },
    ]);
    // Applied before batch() returned, durable or not.
    expect([db.get('a'), db.get('b'), db.get('gone')]).toEqual(['3', '2', undefined]);
    await promise;
    expect(db.stats().entries).toBe(2);
  });

  test('a batch with one bad operation applies nothing', async () => {
    const db = track(open(space.dir));
    expect(() =>
      db.batch([
        { type: 'put', key: 'a', value: '1' },
        { type: 'put', key: '', value: '2' },
      ]),
    ).toThrow(TypeError);
    expect(db.get('a')).toBeUndefined();
  });

  test('sync writes resolve once synced, others once written', async () => {
    const db = track(open(space.dir));
    const before = db.stats();
    await db.put('s', '1', { sync: true });
    const synced = db.stats();
    expect(synced.syncedLsn).toBeGreaterThan(before.syncedLsn);
    expect(synced.syncs).toBeGreaterThan(before.syncs);
    await db.put('n', '2', { sync: false });
    const written = db.stats();
    expect(written.writtenLsn).toBeGreaterThan(synced.writtenLsn);
    // Many writes in one turn share group commits, and every promise resolves.
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.put(`k${i}`, `${i}`, { sync: i % 2 === 0 })));
    const after = db.stats();
    // The last promise waited for a sync that covered every write before it.
    expect(after.syncedLsn).toBeGreaterThanOrEqual(after.writtenLsn - 200 * 64);
    expect(after.syncedLsn).toBeGreaterThan(written.syncedLsn);
  });

  test('a store opened with sync: false makes that the default', async () => {
    const db = track(open(space.dir, { sync: false }));
    const syncs = db.stats().syncs;
    await db.put('a', '1');
    expect(db.stats().syncs).toBe(syncs);
    await db.put('b', '2', { sync: true });
    expect(db.stats().syncs).toBeGreaterThan(syncs);
  });

  test('a large batch, applied on a pool thread, is seen by every call made after it', async () => {
    const db = track(open(space.dir, { sync: false }));
    const count = ASYNC_BATCH_OPERATIONS * 4;
    const ops = (round: number) =>
      Array.from({ length: count }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(5, '0')}`, value: `${round}:${i}` }));
    // Queued one after another without waiting: applied in order, each seen by the next read.
    const first = db.batch(ops(1));
    const second = db.batch(ops(2));
    expect(db.get('k00007')).toBe('2:7');
    const third = db.batch(ops(3));
    // A small write after a queued batch lands after it.
    const small = db.put('k00009', 'small');
    expect(db.get('k00009')).toBe('small');
    expect(db.get('k00008')).toBe('3:8');
    const fourth = db.batch(ops(4));
    // Iterations, snapshots and stats see it too.
    expect([...db.range({ lt: 'k00002' })]).toEqual([
      { key: 'k00000', value: '4:0' },
      { key: 'k00001', value: '4:1' },
    ]);
    const fifth = db.batch(ops(5));
    const view = db.snapshot();
    expect(view.get('k00003')).toBe('5:3');
    await view.close();
    db.batch(ops(6));
    expect(db.stats().entries).toBe(count);
    await expect(Promise.all([first, second, third, small, fourth, fifth])).resolves.toHaveLength(6);
    // A bad operation throws at once and queues nothing.
    const bad = ops(7);
    bad[count - 1] = { type: 'put', key: '', value: 'x' };
    expect(() => db.batch(bad)).toThrow(TypeError);
    expect(db.get('k00000')).toBe('6:0');
  });

  test('a large batch keeps every key and value exactly, whatever their sizes, and refuses one that changes while checked', async () => {
    const db = track(open(space.dir, { keyEncoding: 'binary', valueEncoding: 'binary' }));
    const random = seeded(11);
    const count = ASYNC_BATCH_OPERATIONS * 3;
    const sizes = [0, 1, 7, 100, 4096, 70_000];
    const key = (i: number) => Buffer.from(`key-${i}-${'x'.repeat(i % 300)}`);
    const value = (i: number) => Buffer.alloc(sizes[i % sizes.length] as number, (i * 7) & 255);
    await db.batch(Array.from({ length: count }, (_, i) => ({ type: 'put' as const, key: key(i), value: value(i) })));
    // Deletes and puts interleaved in one large batch.
    const deleted = new Set<number>();
    const mixed = Array.from({ length: count }, (_, i) => {
      if (random() < 0.3) {
        deleted.add(i);
        return { type: 'del' as const, key: key(i) };
      }
      return { type: 'put' as const, key: key(i), value: value(i + 1) };
    });
    await db.batch(mixed);
    for (let i = 0; i < count; i++) {
      const got = db.get(key(i));
      if (deleted.has(i)) expect(got, `key ${i}`).toBeUndefined();
      else expect(Buffer.isBuffer(got) && got.equals(value(i + 1)), `key ${i}`).toBe(true);
    }
    // A getter of a later operation detaches an earlier key: the batch is refused, nothing applied.
    const victim = new Uint8Array([1, 2, 3]);
    const tricky: { type: 'put'; key: Uint8Array; value: Uint8Array }[] = Array.from({ length: count }, (_, i) => ({
      type: 'put' as const,
      key: i === 0 ? victim : key(i),
      value: Buffer.from('new'),
    }));
    Object.defineProperty(tricky[count - 1], 'value', {
      get() {
        structuredClone(victim.buffer, { transfer: [victim.buffer] });
        return Buffer.from('new');
      },
    });
    expect(() => db.batch(tricky)).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
    expect(db.get(key(1))?.equals(value(2)) ?? deleted.has(1)).toBe(true);
  });

  test('batches built one after another, or one inside another, each keep their own keys and values', async () => {
    // Batches are packed in memory reused from one to the next (src/batch.ts): a batch must never
    // carry a type, size or byte left over from an earlier or an enclosing one.
    const db = track(open(space.dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' }));
    const rounds = [ASYNC_BATCH_OPERATIONS * 4, 3, ASYNC_BATCH_OPERATIONS + 1, 1, ASYNC_BATCH_OPERATIONS * 2];
    for (const [round, count] of rounds.entries()) {
      const ops = Array.from({ length: count }, (_, i) =>
        (i + round) % 5 === 0
          ? { type: 'del' as const, key: `k${i}` }
          : { type: 'put' as const, key: `k${i}`, value: `r${round}-${'v'.repeat(i % 40)}` },
      );
      await db.batch(ops);
      for (let i = 0; i < count; i++)
        expect(db.get(`k${i}`), `round ${round} key ${i}`).toBe((i + round) % 5 === 0 ? undefined : `r${round}-${'v'.repeat(i % 40)}`);
    }
    // A getter of the outer batch writes an inner batch while the outer one is being checked.
    const count = ASYNC_BATCH_OPERATIONS * 2;
    let inner: Promise<void> | undefined;
    const outer = Array.from({ length: count }, (_, i) => ({ type: 'put' as const, key: `outer${i}`, value: `o${i}` }));
    Object.defineProperty(outer[count >> 1], 'value', {
      get() {
        inner ??= db.batch(Array.from({ length: count }, (_, i) => ({ type: 'put' as const, key: `inner${i}`, value: `i${i}-inner` })));
        return `o${count >> 1}`;
      },
    });
    await db.batch(outer);
    await inner;
    for (let i = 0; i < count; i++) {
      expect(db.get(`outer${i}`)).toBe(`o${i}`);
      expect(db.get(`inner${i}`)).toBe(`i${i}-inner`);
    }
  });

  test('close waits for large batches still being applied, and they survive a reopen', async () => {
    const count = ASYNC_BATCH_OPERATIONS * 2;
    const db = open(space.dir);
    const batches = Array.from({ length: 5 }, (_, round) =>
      db.batch(Array.from({ length: count }, (_, i) => ({ type: 'put' as const, key: `r${round}-${i}`, value: `${i}` }))),
    );
    await db.close();
    await expect(Promise.all(batches)).resolves.toHaveLength(5);
    const again = track(open(space.dir));
    expect(again.stats().entries).toBe(count * 5);
    expect(again.get(`r4-${count - 1}`)).toBe(`${count - 1}`);
  });

  test('close resolves writes still waiting', async () => {
    const db = open(space.dir, { sync: false });
    const writes = Array.from({ length: 50 }, (_, i) => db.put(`k${i}`, 'v'));
    await db.close();
    await expect(Promise.all(writes)).resolves.toHaveLength(50);
  });
});

describe('reads', () => {
  test('getMany over several native calls returns every value in order', async () => {
    const db = track(open(space.dir));
    await db.batch(Array.from({ length: 1000 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: `v${i}` })));
    const keys = Array.from({ length: 1300 }, (_, i) => `k${(i * 7) % 1300}`); // some absent
    const expected = keys.map((k) => (Number(k.slice(1)) < 1000 ? `v${k.slice(1)}` : undefined));
    expect(await db.getMany(keys)).toEqual(expected);
    expect(db.getManySync(keys)).toEqual(expected);
    expect(await db.getMany([])).toEqual([]);
  });

  test('every byte value read is a Buffer of its own, whatever its size and whatever is read after it', async () => {
    const db = track(open(space.dir, { valueEncoding: 'binary' }));
    // Sizes around the 64 KiB a read lands in first, and far beyond it (overflow pages).
    const sizes = [0, 1, 100, 4095, 4096, 65535, 65536, 65537, 300_000];
    const values = sizes.map((size, i) => Buffer.alloc(size, i + 1));
    await db.batch(values.map((value, i) => ({ type: 'put' as const, key: `k${i}`, value })));
    const read = sizes.map((_, i) => db.get(`k${i}`) as Buffer);
    const snapshot = db.snapshot();
    const fromView = sizes.map((_, i) => snapshot.get(`k${i}`) as Buffer);
    await db.batch(sizes.map((size, i) => ({ type: 'put' as const, key: `k${i}`, value: Buffer.alloc(size, 0xee) })));
    // Buffer.equals: toEqual walks a large Buffer element by element (seconds for 300 kB).
    const same = (a: unknown, b: Buffer) => Buffer.isBuffer(a) && a.equals(b);
    for (const [i, value] of values.entries()) {
      expect(same(read[i], value), `k${i}: read before`).toBe(true); // later reads and writes changed none of the earlier results
      expect(same(fromView[i], value), `k${i}: read from the snapshot`).toBe(true);
      expect(same(db.getManySync([`k${i}`])[0], Buffer.alloc(value.length, 0xee)), `k${i}: read after`).toBe(true);
    }
    (read[2] as Buffer).fill(0);
    expect(same(db.get('k2'), Buffer.alloc(100, 0xee))).toBe(true); // nor does changing a result change the store
    snapshot.close();
  });
});

describe('ranges', () => {
  /** Keys in a small alphabet, so bounds often fall on and between keys. */
  function key(random: () => number): string {
    const length = 1 + Math.floor(random() * 4);
    let text = '';
    for (let i = 0; i < length; i++) text += 'abcde'[Math.floor(random() * 5)];
    return text;
  }

  test('bounds, reverse and limit agree with a sorted model', async () => {
    const random = seeded(7);
    const db = track(open(space.dir));
    const model = new Map<string, string>();
    const ops: { type: 'put' | 'del'; key: string; value: string }[] = [];
    for (let i = 0; i < 600; i++) {
      const k = key(random);
      if (random() < 0.2) {
        ops.push({ type: 'del', key: k, value: '' });
        model.delete(k);
      } else {
        ops.push({ type: 'put', key: k, value: `v${i}` });
        model.set(k, `v${i}`);
      }
    }
    await db.batch(ops.map((op) => (op.type === 'del' ? { type: 'del', key: op.key } : op)));
    const sorted = [...model.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (let round = 0; round < 60; round++) {
      const low = random() < 0.7 ? key(random) : undefined;
      const high = random() < 0.7 ? key(random) : undefined;
      const lowInclusive = random() < 0.5;
      const highInclusive = random() < 0.5;
      const reverse = random() < 0.5;
      const limit = random() < 0.4 ? Math.floor(random() * 8) : Number.POSITIVE_INFINITY;
      const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
      let expected = sorted.filter(
        (k) =>
          (low === undefined || (lowInclusive ? cmp(k, low) >= 0 : cmp(k, low) > 0)) &&
          (high === undefined || (highInclusive ? cmp(k, high) <= 0 : cmp(k, high) < 0)),
      );
      if (reverse) expected.reverse();
      expected = expected.slice(0, limit);
      const options = {
        ...(low === undefined ? {} : lowInclusive ? { gte: low } : { gt: low }),
        ...(high === undefined ? {} : highInclusive ? { lte: high } : { lt: high }),
        reverse,
        limit,
      };
      const label = JSON.stringify(options);
      const entries = [...db.range(options)];
      expect(
        entries.map((e) => e.key),
        label,
      ).toEqual(expected);
      expect(entries.map((e) => e.value)).toEqual(expected.map((k) => model.get(k)));
      const asynchronous: string[] = [];
      for await (const k of db.range({ ...options, values: false })) asynchronous.push(k);
      expect(asynchronous, label).toEqual(expected);
    }
    expect(db.stats().openCursors).toBe(0);
  });

  test('entries larger than a chunk, and breaking out closes the cursor', async () => {
    const db = track(open(space.dir, { valueEncoding: 'binary' }));
    for (let i = 0; i < 5; i++) await db.put(`big${i}`, Buffer.alloc(100_000 + i, i));
    const sizes = [...db.range({ keys: false })].map((value) => value.length);
    expect(sizes).toEqual([100_000, 100_001, 100_002, 100_003, 100_004]);
    for (const entry of db.range()) {
      expect(entry.key).toBe('big0');
      expect(db.stats().openCursors).toBe(1);
      break;
    }
    expect(db.stats().openCursors).toBe(0);
    for await (const entry of db.range({ reverse: true })) {
      expect(entry.key).toBe('big4');
      break;
    }
    expect(db.stats().openCursors).toBe(0);
  });

  test('many small entries come in several chunks, in order', async () => {
    const db = track(open(space.dir));
    const keys = Array.from({ length: 5000 }, (_, i) => `key${String(i).padStart(5, '0')}`);
    await db.batch(keys.map((k) => ({ type: 'put', key: k, value: `${k}-value` })));
    const seen = db.range().toArray();
    expect(seen.map((e) => e.key)).toEqual(keys);
    expect(seen.every((e) => e.value === `${e.key}-value`)).toBe(true);
  });
});

describe('snapshots', () => {
  test('a snapshot keeps its view while writes go on', async () => {
    const db = track(open(space.dir));
    await db.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: 'old' })));
    const snapshot = db.snapshot();
    await db.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: 'new' })));
    await db.del('k5');
    await db.put('extra', 'x');
    expect(snapshot.get('k5')).toBe('old');
    expect(snapshot.get('extra')).toBeUndefined();
    expect(await snapshot.getMany(['k1', 'k5', 'extra'])).toEqual(['old', 'old', undefined]);
    expect(snapshot.getManySync(['k299'])).toEqual(['old']);
    const seen = [...snapshot.range()];
    expect(seen).toHaveLength(300);
    expect(seen.every((e) => e.value === 'old')).toBe(true);
    expect(db.get('k5')).toBeUndefined();
    expect(db.get('k1')).toBe('new');
    snapshot.close();
    snapshot.close();
    expect(snapshot.closed).toBe(true);
    expect(() => snapshot.get('k1')).toThrow(expect.objectContaining({ code: 'DBOS_ECLOSED' }));
  });

  test("the store's close closes its snapshots and iterations", async () => {
    const db = open(space.dir);
    await db.put('a', '1');
    await db.put('b', '2');
    const snapshot = db.snapshot();
    const iterator = db.range()[Symbol.iterator]();
    expect(iterator.next().value).toEqual({ key: 'a', value: '1' });
    await db.close();
    expect(() => snapshot.get('a')).toThrow(expect.objectContaining({ code: 'DBOS_ECLOSED' }));
    // The entry already read stays; the next chunk is refused.
    expect(iterator.next().value).toEqual({ key: 'b', value: '2' });
    expect(() => iterator.next()).toThrow(expect.objectContaining({ code: 'DBOS_ECLOSED' }));
  });
});

describe('lifecycle and maintenance', () => {
  test('reopening keeps every write, after checkpoints too', async () => {
    let db = open(space.dir);
    await db.batch(Array.from({ length: 1000 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: `v${i}` })));
    await db.checkpoint();
    await db.put('after-checkpoint', 'yes');
    await db.del('k0');
    await db.close();
    db = track(open(space.dir, { create: false }));
    expect(db.get('k999')).toBe('v999');
    expect(db.get('k0')).toBeUndefined();
    expect(db.get('after-checkpoint')).toBe('yes');
    expect(db.stats().entries).toBe(1000);
  });

  test('the log before a checkpoint is deleted, the segment being appended included', async () => {
    const db = track(open(space.dir, { sync: false }));
    const walFiles = () => fs.readdirSync(space.dir).filter((name) => name.startsWith('wal.'));
    await db.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: 'v'.repeat(100) })));
    await db.checkpoint();
    // The log starts a new segment at the checkpoint's LSN with the first record after it; the
    // next checkpoint then deletes every segment before its own LSN.
    await db.put('after', '1');
    await db.checkpoint();
    await db.put('after', '2');
    const { checkpointLsn } = db.stats();
    expect(walFiles()).toEqual([`wal.${checkpointLsn.toString(16).padStart(16, '0')}`]);
  });

  test('check passes and reports progress; backup opens as a store with the same data', async () => {
    const db = track(open(space.dir));
    await db.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: 'x'.repeat(i % 50) })));
    const progress: number[][] = [];
    await db.check({ onProgress: (done, total) => void progress.push([done, total]) });
    expect(progress.length).toBeGreaterThan(0);
    const dest = space.path('backup');
    const backup = db.backup(dest);
    // Writers go on; the copy is as of the moment the backup began on its pool thread, which
    // may be before or after this write, but it is one consistent state either way.
    await db.put('written-during-backup', 'maybe');
    await backup;
    const copy = track(open(dest, { create: false }));
    const copied = [...copy.range()];
    const during = copied.some((entry) => entry.key === 'written-during-backup');
    expect(copy.stats().entries).toBe(during ? 2001 : 2000);
    expect(copied).toEqual([...db.range()].filter((entry) => during || entry.key !== 'written-during-backup'));
    await copy.check();
    expect(fs.existsSync(`${dest}/LOCK`)).toBe(true);
  });

  test('stats count entries, and mechanism names the mechanisms', async () => {
    const db = track(open(space.dir, { cacheBytes: 8 << 20 }));
    await db.put('a', '1');
    const stats = db.stats();
    expect(stats.entries).toBe(1);
    expect(stats.treeHeight).toBe(1);
    expect(stats.pageSize).toBe(4096);
    expect(stats.cacheBytes).toBe(8 << 20);
    expect(stats.fileBytes).toBeGreaterThan(0);
    expect(db.mechanism).toMatch(/\S/);
  });

  test('a read-only store reads and refuses writes', async () => {
    const db = open(space.dir);
    await db.put('a', '1');
    await db.close();
    const reader = track(open(space.dir, { readOnly: true }));
    expect(reader.get('a')).toBe('1');
    expect(() => reader.put('b', '2')).toThrow(expect.objectContaining({ code: 'DBOS_EPERM' }));
  });
});
