// SAVE, BGSAVE, LASTSAVE and INFO persistence on a real store and keyspace, checked against a real
// redis-server (which must load what we write), and importing files redis-server wrote.
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientHandle, CommandCall, ServerHandle } from '../../src/server/command.js';
import { createPersistence, type Persistence, persistenceCommands } from '../../src/server/commands/persistence.js';
import { type BinaryStore, Keyspace } from '../../src/server/keyspace.js';
import { writeFileAtomic } from '../../src/server/rdb/file.js';
import { importRdb } from '../../src/server/rdb/import.js';
import { readRdb, verifyRdb } from '../../src/server/rdb/reader.js';
import { fileInput } from '../../src/server/rdb/input.js';
import type { Reply } from '../../src/server/reply.js';
import { open } from '../../src/store.js';
import { scratch, seeded } from '../helpers.js';
import { checkRdb, startRedis } from './rdb-redis.js';

interface World {
  dir: ReturnType<typeof scratch>;
  store: BinaryStore;
  keyspace: Keyspace;
  persistence: Persistence;
  clock: { now: number };
  run(...words: string[]): Reply | Promise<Reply>;
  info(): Map<string, string>;
  close(): Promise<void>;
}

function makeWorld(name: string): World {
  const dir = scratch(name);
  fs.mkdirSync(dir.dir, { recursive: true });
  const store: BinaryStore = open(dir.dir, { keyEncoding: 'binary', valueEncoding: 'binary' });
  const clock = { now: Date.now() };
  const now = () => clock.now;
  const keyspace = new Keyspace(store, { now, sync: () => false, activeExpiry: false });
  const persistence = createPersistence({ dir: dir.root, store, keyspace, now });
  const server: ServerHandle = { keyspace, now };
  const client = { id: 1, protocol: 2, name: null, authenticated: true, closeAfterReply() {} } as ClientHandle;
  return {
    dir,
    store,
    keyspace,
    persistence,
    clock,
    run(...words) {
      const spec = persistenceCommands.find((candidate) => candidate.name === (words[0] as string).toLowerCase());
      if (spec === undefined) throw new Error(`no command ${words[0]}`);
      const call: CommandCall = { args: words.map((word) => Buffer.from(word)), client, server };
      return spec.run(call);
    },
    info() {
      return new Map(persistence.infoFields().map(([field, value]) => [field, String(value)]));
    },
    async close() {
      await persistence.close();
      keyspace.stop();
      await store.close();
      dir.remove();
    },
  };
}

function set(world: World, key: string | Buffer, value: string | Buffer, expireAt: number | null = null): Promise<void> {
  return world.keyspace.set(Buffer.from(key), { type: 'string', value: Buffer.from(value), expireAt });
}

function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

/** Every key, value and expiry of the RDB at `file`. */
function contents(file: string): Map<string, { value: Buffer; expireAt: number | null }> {
  const input = fileInput(file);
  try {
    const out = new Map<string, { value: Buffer; expireAt: number | null }>();
    for (const record of readRdb(input, 'dump.rdb')) if (record.kind === 'string') out.set(record.key.toString('latin1'), record);
    return out;
  } finally {
    input.close();
  }
}

describe('SAVE and LASTSAVE', () => {
  let world: World;
  beforeEach(() => {
    world = makeWorld('rdb-save');
  });
  afterEach(() => world.close());

  it('writes a dump.rdb that redis-check-rdb accepts and redis-server loads with the same keys, values and TTLs', async () => {
    const random = seeded(42);
    const expected = new Map<string, { value: Buffer; expireAt: number | null }>();
    // Each write applies at once; only their durability is awaited, together.
    const writes: Promise<void>[] = [];
    const add = (key: string, value: Buffer, expireAt: number | null = null) => {
      expected.set(key, { value, expireAt });
      writes.push(set(world, key, value, expireAt));
    };
    add('int', Buffer.from('12'));
    add('negative', Buffer.from('-70000'));
    add('big', Buffer.from('123456789012345678'));
    add('empty', Buffer.alloc(0));
    add('binary', randomBytes(random, 1000));
    add('long', Buffer.alloc(200_000, 'L'));
    add('ttl', Buffer.from('soon'), world.clock.now + 120_000);
    for (let i = 0; i < 500; i++) add(`key:${i}`, randomBytes(random, i % 120), i % 7 === 0 ? world.clock.now + 1_000_000 + i : null);
    await Promise.all(writes);
    await set(world, 'gone', 'x', world.clock.now + 10);
    world.clock.now += 20; // 'gone' is expired but not yet deleted: SAVE leaves it out

    const before = world.persistence.lastSaveSeconds;
    expect(await world.run('SAVE')).toEqual({ type: 'simple', value: 'OK' });
    const file = world.dir.path('dump.rdb');
    const check = checkRdb(file);
    expect(check.ok, check.output).toBe(true);
    expect(fs.readdirSync(world.dir.root).filter((name) => name.endsWith('.rdb'))).toEqual(['dump.rdb']);
    expect(await world.run('LASTSAVE')).toEqual({ type: 'integer', value: Math.floor(world.clock.now / 1000) });
    expect(world.persistence.lastSaveSeconds).toBeGreaterThanOrEqual(before);

    const redis = await startRedis(world.dir.root);
    try {
      expect(await redis.client.dbsize()).toBe(expected.size);
      for (const [key, { value, expireAt }] of expected) {
        expect((await redis.client.getBuffer(key))?.equals(value), key).toBe(true);
        expect(await redis.client.pexpiretime(key), key).toBe(expireAt ?? -1);
      }
      expect(await redis.client.exists('gone')).toBe(0);
    } finally {
      await redis.stop();
    }
    const info = world.info();
    expect(info.get('rdb_saves')).toBe('1');
    expect(info.get('rdb_last_bgsave_status')).toBe('ok');
    expect(info.get('rdb_bgsave_in_progress')).toBe('0');
  });

  it('answers a failed SAVE with a bare ERR as Redis does, keeps the reason, and marks a failed BGSAVE', async () => {
    await set(world, 'a', '1');
    fs.mkdirSync(world.dir.path('dump.rdb')); // the rename onto dump.rdb cannot succeed
    expect(await world.run('SAVE')).toEqual({ type: 'error', message: 'ERR' });
    expect(world.persistence.lastError).toMatchObject({ code: 'EISDIR' });
    await world.persistence.startBackgroundSave();
    expect(world.info().get('rdb_last_bgsave_status')).toBe('err');
    expect(fs.readdirSync(world.dir.root).filter((name) => name.startsWith('temp-'))).toEqual([]);
  });

  it('counts changes since the last save and resets them on SAVE', async () => {
    world.persistence.noteChanges();
    world.persistence.noteChanges(2);
    expect(world.info().get('rdb_changes_since_last_save')).toBe('3');
    await world.run('SAVE');
    expect(world.info().get('rdb_changes_since_last_save')).toBe('0');
  });

  it('reports the fields in the order of Redis 7.0 INFO persistence', async () => {
    const redis = await startRedis(world.dir.root);
    let theirs: string[];
    try {
      const text = await redis.client.info('persistence');
      theirs = text
        .split('\r\n')
        .filter((line) => line.includes(':'))
        .map((line) => line.slice(0, line.indexOf(':')));
    } finally {
      await redis.stop();
    }
    const ours = world.persistence.infoFields().map(([field]) => field);
    // Ours is the run from current_cow_peak to rdb_last_load_keys_loaded; the server adds loading and the AOF fields around it.
    const start = theirs.indexOf('current_cow_peak');
    expect(theirs.slice(start, start + ours.length)).toEqual(ours);
    expect(theirs.slice(0, start)).toEqual(['loading', 'async_loading']);
    expect(theirs[start + ours.length]).toBe('aof_enabled');
  });
});

describe('BGSAVE', () => {
  let world: World;
  beforeEach(() => {
    world = makeWorld('rdb-bgsave');
  });
  afterEach(() => world.close());

  async function fill(count: number): Promise<void> {
    const change = world.keyspace.change();
    for (let i = 0; i < count; i++) {
      change.set(Buffer.from(`k${i}`), { type: 'string', value: Buffer.from(`value-${i}-${'v'.repeat(100)}`), expireAt: null });
    }
    await change.commit();
  }

  it('saves the data as of the command while writes go on, and refuses a second save meanwhile', async () => {
    const count = 20_000;
    await fill(count);
    world.persistence.noteChanges(count);
    const reply = await world.run('BGSAVE');
    expect(reply).toEqual({ type: 'simple', value: 'Background saving started' });
    expect(world.info().get('rdb_bgsave_in_progress')).toBe('1');
    expect(await world.run('BGSAVE')).toEqual({ type: 'error', message: 'ERR Background save already in progress' });
    expect(await world.run('BGSAVE', 'SCHEDULE')).toEqual({ type: 'error', message: 'ERR Background save already in progress' });
    expect(await world.run('SAVE')).toEqual({ type: 'error', message: 'ERR Background save already in progress' });

    // Writes after the BGSAVE: overwrite, delete and add keys, one small batch per turn, until the save ends.
    let writes = 0;
    while (world.persistence.saving) {
      const i = writes++;
      const change = world.keyspace.change();
      change.set(Buffer.from(`k${i}`), { type: 'string', value: Buffer.from('changed'), expireAt: null });
      change.delete(Buffer.from(`k${count - 1 - i}`));
      change.set(Buffer.from(`new${i}`), { type: 'string', value: Buffer.from('new'), expireAt: null });
      world.persistence.noteChanges(3);
      await change.commit();
    }
    // The save yielded to the writers many times: clients were served while it ran.
    expect(writes).toBeGreaterThan(5);
    const info = world.info();
    expect(info.get('rdb_last_bgsave_status')).toBe('ok');
    expect(info.get('rdb_changes_since_last_save')).toBe(String(writes * 3));
    expect(info.get('rdb_last_bgsave_time_sec')).not.toBe('-1');
    expect(info.get('rdb_current_bgsave_time_sec')).toBe('-1');

    const saved = contents(world.dir.path('dump.rdb'));
    expect(saved.size).toBe(count);
    for (const i of [0, 1, writes - 1, count >> 1, count - 1]) {
      expect(saved.get(`k${i}`)?.value.toString(), `k${i}`).toBe(`value-${i}-${'v'.repeat(100)}`);
    }
    expect(saved.has('new0')).toBe(false);
    expect(checkRdb(world.dir.path('dump.rdb')).ok).toBe(true);
  });

  it('stopBackgroundSave lets a SAVE go first, and the stopped save never replaces its file (SHUTDOWN SAVE)', async () => {
    await fill(20_000);
    const background = world.persistence.startBackgroundSave();
    expect(world.persistence.saving).toBe(true);
    world.persistence.stopBackgroundSave();
    expect(world.persistence.saving).toBe(false);
    await set(world, 'written-after', 'yes');
    const reply = await world.run('SAVE');
    expect(reply, `SAVE failed: ${String(world.persistence.lastError)}`).toEqual({ type: 'simple', value: 'OK' });
    await background;
    const saved = contents(world.dir.path('dump.rdb'));
    expect(saved.get('written-after')?.value.toString()).toBe('yes');
    expect(saved.size).toBe(20_001);
    expect(fs.readdirSync(world.dir.root).filter((name) => name.endsWith('.rdb'))).toEqual(['dump.rdb']);
  });

  it('answers Redis syntax errors, and close() stops a running save without touching dump.rdb', async () => {
    expect(await world.run('BGSAVE', 'NOW')).toEqual({ type: 'error', message: 'ERR syntax error' });
    expect(await world.run('BGSAVE', 'SCHEDULE', 'x')).toEqual({ type: 'error', message: 'ERR syntax error' });
    await set(world, 'a', '1');
    expect(await world.run('SAVE')).toEqual({ type: 'simple', value: 'OK' });
    const first = fs.readFileSync(world.dir.path('dump.rdb'));
    await fill(20_000);
    expect(await world.run('BGSAVE', 'schedule')).toEqual({ type: 'simple', value: 'Background saving started' });
    await world.persistence.close();
    expect(world.persistence.saving).toBe(false);
    expect(world.info().get('rdb_last_bgsave_status')).toBe('err');
    expect(fs.readFileSync(world.dir.path('dump.rdb')).equals(first)).toBe(true);
    expect(fs.readdirSync(world.dir.root).filter((name) => name.endsWith('.rdb'))).toEqual(['dump.rdb']);
    expect(await world.run('BGSAVE')).toEqual({ type: 'error', message: 'ERR' });
  });
});

describe('importRdb', () => {
  let world: World;
  beforeEach(() => {
    world = makeWorld('rdb-import');
  });
  afterEach(() => world.close());

  it('loads what redis-server wrote: every string encoding, TTLs kept, expired keys skipped', async () => {
    const random = seeded(77);
    const values = new Map<string, Buffer>([
      ['int8', Buffer.from('100')],
      ['int16', Buffer.from('-20000')],
      ['int32', Buffer.from('2000000000')],
      ['int64', Buffer.from('-9223372036854775808')],
      ['zero-led', Buffer.from('0012')],
      ['empty', Buffer.alloc(0)],
      ['binary', randomBytes(random, 3000)],
      ['compressible', Buffer.from('redis '.repeat(10_000))],
    ]);
    for (let i = 0; i < 300; i++) values.set(`many:${i}`, Buffer.from(`${i}`.repeat(i % 40)));
    const expireAt = Date.now() + 3_600_000;
    const redisDir = scratch('rdb-import-redis');
    fs.mkdirSync(redisDir.root, { recursive: true });
    const redis = await startRedis(redisDir.root);
    try {
      for (const [key, value] of values) await redis.client.set(key, value);
      await redis.client.set('ttl', 'kept', 'PXAT', expireAt);
      await redis.client.set('short-lived', 'x', 'PX', 60_000);
      await redis.client.save();
    } finally {
      await redis.stop();
    }
    try {
      await set(world, 'int8', 'replaced by the import');
      world.clock.now = Date.now() + 120_000; // short-lived is past its time when we load
      const result = await importRdb(redisDir.path('dump.rdb'), world.keyspace, { batchKeys: 50 });
      expect(result).toMatchObject({ loaded: values.size + 1, expired: 1, version: 10 });
      expect(world.keyspace.size()).toBe(values.size + 1);
      for (const [key, value] of values) expect(world.keyspace.get(Buffer.from(key))?.value.equals(value), key).toBe(true);
      expect(world.keyspace.get(Buffer.from('ttl'))).toMatchObject({ expireAt });
      expect(world.keyspace.get(Buffer.from('short-lived'))).toBeUndefined();
    } finally {
      redisDir.remove();
    }
  });

  it('refuses damaged and unsupported files before writing anything', async () => {
    const redisDir = scratch('rdb-import-bad');
    fs.mkdirSync(redisDir.root, { recursive: true });
    const redis = await startRedis(redisDir.root);
    const file = redisDir.path('dump.rdb');
    try {
      for (let i = 0; i < 100; i++) await redis.client.set(`s${i}`, `v${i}`);
      await redis.client.save();
      const good = fs.readFileSync(file);
      await redis.client.sadd('zz-set', 'a', 'b');
      await redis.client.save();
      const withSet = fs.readFileSync(file);
      await redis.client.del('zz-set');
      await redis.client.select(3);
      await redis.client.set('elsewhere', '1');
      await redis.client.save();
      const otherDatabase = fs.readFileSync(file);

      const cases: [Buffer, string, RegExp][] = [
        [good.subarray(0, good.length - 20), 'DBOS_ECORRUPT', /truncated/],
        [Buffer.concat([good.subarray(0, 60), Buffer.from([(good[60] as number) ^ 0x55]), good.subarray(61)]), 'DBOS_ECORRUPT', /corrupt/],
        [withSet, 'DBOS_ENOTSUP', /holds a set .*'zz-set'.*strings only/],
        [otherDatabase, 'DBOS_ENOTSUP', /database 3/],
      ];
      await set(world, 'keep', 'me');
      for (const [bytes, code, message] of cases) {
        fs.writeFileSync(file, bytes);
        const failure = await importRdb(file, world.keyspace).then(
          () => null,
          (error: unknown) => error,
        );
        expect(failure).toMatchObject({ code, message: expect.stringMatching(message) });
        expect(world.keyspace.size()).toBe(1);
      }
      // The good file passes both checks of the reader.
      fs.writeFileSync(file, good);
      expect(verifyRdb(fileInput(file), 'dump.rdb').stringCount).toBe(100);
    } finally {
      await redis.stop();
      redisDir.remove();
    }
  });
});

describe('the image file', () => {
  it('streams an image larger than the sync interval in order, syncing as it goes, and renames it into place whole', async () => {
    // Past 32 MiB the writer waits for an fdatasync of what it wrote before queueing more.
    const space = scratch('image-file');
    const target = space.path('dump.rdb');
    const chunk = (n: number) => Buffer.alloc(1 << 20, n & 255);
    const chunks = 80;
    let waits = 0;
    const syncs = vi.spyOn(fs, 'fdatasync');
    await writeFileAtomic(target, async (stream) => {
      for (let n = 0; n < chunks; n++) {
        stream.write(chunk(n));
        if (stream.full) {
          waits++;
          await stream.drained();
        }
        expect(fs.existsSync(target)).toBe(false);
      }
    });
    expect(waits).toBeGreaterThanOrEqual(2);
    expect(syncs.mock.calls.length).toBe(Math.floor((chunks << 20) / (32 << 20)));
    syncs.mockRestore();
    const written = fs.readFileSync(target);
    expect(written.length).toBe(chunks << 20);
    for (let n = 0; n < chunks; n++) expect(written[(n << 20) + 12345]).toBe(n & 255);
    expect(fs.readdirSync(space.root)).toEqual(['dump.rdb']);
    space.remove();
  });
});
