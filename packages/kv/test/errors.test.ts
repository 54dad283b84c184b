// Every refusal of the TypeScript API: its class and its stable code.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { open } from '../src/index.js';
import { expectCoded, expectError, rejected, runChild, scratch, startChild } from './helpers.js';

let space: ReturnType<typeof scratch>;

beforeEach(() => {
  space = scratch('errors');
});

afterEach(() => {
  space.remove();
});

describe('arguments', () => {
  test('keys: empty or of a wrong type is TypeError DBOS_EINVAL, longer than 1024 bytes RangeError DBOS_ERANGE', async () => {
    const db = open(space.dir);
    try {
      expectError(() => db.get(''), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.put('', 'x'), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.get(42 as never), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.get(null as never), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.put({} as never, 'x'), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.get('k'.repeat(1025)), 'DBOS_ERANGE', 'RangeError');
      expectError(() => db.del('é'.repeat(513)), 'DBOS_ERANGE', 'RangeError'); // 1026 bytes of UTF-8
      await db.put('k'.repeat(1024), 'the longest key');
      expect(db.get('k'.repeat(1024))).toBe('the longest key');
      expectError(() => db.put('a', 5 as never), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.batch([{ type: 'nope', key: 'a' } as never]), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.batch('ops' as never), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.getManySync('a' as never), 'DBOS_EINVAL', 'TypeError');
      expectCoded(await rejected(db.getMany([''])), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.range({ gt: 'a', gte: 'b' }), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.range({ limit: -1 }), 'DBOS_ERANGE', 'RangeError');
      expectError(() => db.range({ keys: false, values: false }), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.range({ start: 'a' } as never), 'DBOS_EINVAL', 'TypeError');
      expectError(() => db.put('a', 'b', { sync: 1 } as never), 'DBOS_EINVAL', 'TypeError');
      expectCoded(await rejected(db.backup('')), 'DBOS_EINVAL', 'TypeError');
      expectCoded(await rejected(db.check({ onProgress: 3 } as never)), 'DBOS_EINVAL', 'TypeError');
      const json = open(space.path('json'), { valueEncoding: 'json' });
      expectError(() => json.put('a', undefined), 'DBOS_EINVAL', 'TypeError');
      expectError(() => json.put('a', 1n), 'DBOS_EINVAL', 'TypeError');
      await json.close();
    } finally {
      await db.close();
    }
  });

  test('options: unknown keys and wrong types are TypeError, values out of range RangeError', () => {
    expectError(() => open(space.dir, { cache: 1 } as never), 'DBOS_EINVAL', 'TypeError');
    expectError(() => open(space.dir, { create: 'yes' } as never), 'DBOS_EINVAL', 'TypeError');
    expectError(() => open(space.dir, { keyEncoding: 'msgpack' } as never), 'DBOS_EINVAL', 'TypeError');
    expectError(() => open(space.dir, { pageSize: 3000 }), 'DBOS_ERANGE', 'RangeError');
    expectError(() => open(space.dir, { pageSize: 12288 }), 'DBOS_ERANGE', 'RangeError');
    expectError(() => open(space.dir, { waitForLock: -1 }), 'DBOS_ERANGE', 'RangeError');
    expectError(() => open(space.dir, { cacheBytes: 1.5 }), 'DBOS_EINVAL', 'TypeError');
    expectError(() => open(space.dir, 'options' as never), 'DBOS_EINVAL', 'TypeError');
    expectError(() => open('' as never), 'DBOS_EINVAL', 'TypeError');
    expectError(() => open(7 as never), 'DBOS_EINVAL', 'TypeError');
  });
});

describe('the store', () => {
  test('a missing store with create: false is DBOS_ENOENT', () => {
    expectError(() => open(space.dir, { create: false }), 'DBOS_ENOENT', 'DbosError');
  });

  test('every call after close is DBOS_ECLOSED', async () => {
    const db = open(space.dir);
    await db.put('a', '1');
    const closing = db.close();
    expect(db.close()).toBe(closing);
    await closing;
    expect(db.closed).toBe(true);
    for (const call of [
      () => db.get('a'),
      () => db.put('a', '2'),
      () => db.del('a'),
      () => db.batch([{ type: 'del', key: 'a' }]),
      () => db.getManySync(['a']),
      () => db.range(),
      () => db.snapshot(),
      () => db.stats(),
      () => db.mechanism,
    ]) {
      expectError(call, 'DBOS_ECLOSED', 'DbosError');
    }
    for (const promise of [db.getMany(['a']), db.checkpoint(), db.check(), db.backup(space.path('b'))]) {
      expectCoded(await rejected(promise), 'DBOS_ECLOSED', 'DbosError');
    }
  });

  test('a second open from another process is DBOS_ELOCKED naming this process', async () => {
    const db = open(space.dir);
    try {
      await db.put('a', '1');
      const child = runChild('open-store', [space.dir, '{}']);
      expect(child.status, child.stderr).toBe(0);
      const result = JSON.parse(child.stdout.trim());
      expect(result, child.stdout).toMatchObject({ ok: false, code: 'DBOS_ELOCKED', holderPid: process.pid });
    } finally {
      await db.close();
    }
    // Closed: the lock is gone.
    const child = runChild('open-store', [space.dir, '{}']);
    expect(JSON.parse(child.stdout.trim())).toEqual({ ok: true, entries: 1 });
  });

  test('waitForLock waits for the other process to close the store', async () => {
    const child = startChild('hold-store', [space.dir, '1500']);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
    });
    const error = expectError(() => open(space.dir), 'DBOS_ELOCKED', 'DbosError');
    expect((error as { holderPid?: number }).holderPid).toBe(child.pid);
    const started = Date.now();
    const db = open(space.dir, { waitForLock: 20_000 });
    try {
      expect(Date.now() - started).toBeGreaterThan(100);
      expect(db.get('held-by')).toBe(String(child.pid));
    } finally {
      await db.close();
      await exited;
    }
  });

  test('closing a snapshot while an async iteration reads it is DBOS_EBUSY', async () => {
    const db = open(space.dir);
    try {
      await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: 'v' })));
      const snapshot = db.snapshot();
      const iterator = snapshot.range()[Symbol.asyncIterator]();
      const first = iterator.next(); // a chunk is being read on a pool thread
      expectError(() => snapshot.close(), 'DBOS_EBUSY', 'DbosError');
      expect((await first).value).toEqual({ key: 'k0', value: 'v' });
      snapshot.close();
      // Entries of the chunk already read are copies and stay; the next native read is refused.
      const drain = async () => {
        for (let i = 0; i < 200; i++) if ((await iterator.next()).done) return;
      };
      expectCoded(await rejected(drain()), 'DBOS_ECLOSED', 'DbosError');
    } finally {
      await db.close();
    }
  });

  test('an aborted backup rejects with DBOS_ECANCELED', async () => {
    const db = open(space.dir);
    try {
      const controller = new AbortController();
      controller.abort();
      expectCoded(await rejected(db.backup(space.path('b'), { signal: controller.signal })), 'DBOS_ECANCELED', 'DbosError');
    } finally {
      await db.close();
    }
  });
});
