// Connections end to end over TCP: pipelining order, authentication, the protocol limits, idle
// timeout, maxclients, protected mode, output-buffer limits, graceful close, and the connection
// and server commands' replies compared byte for byte with a real redis-server 7.0.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/server.js';
import { type Decoded, RawClient, redisServer, request, testServer } from './frame-helpers.js';

describe('a connection', () => {
  let fixture: Awaited<ReturnType<typeof testServer>>;
  beforeAll(async () => {
    fixture = await testServer();
  });
  afterAll(async () => {
    await fixture.stop();
  });

  it('answers pipelined requests in order, a waiting reply holding back the later ones', async () => {
    const client = await RawClient.connect(fixture.server.port);
    // One write: the sleep's reply is a Promise; PING and ECHO are ready at once but must wait.
    client.send(
      Buffer.concat([request('DEBUG', 'SLEEP', '0.2'), request('PING', 'first'), request('ECHO', 'second'), Buffer.from('PING\r\n')]),
    );
    const started = Date.now();
    expect(await client.reply()).toBe('OK');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(await client.reply()).toBe('first');
    expect(await client.reply()).toBe('second');
    expect(await client.reply()).toBe('PONG');
    client.close();
  });

  it('answers thousands of pipelined requests in one stream, in order', async () => {
    const client = await RawClient.connect(fixture.server.port);
    const count = 5000;
    const bytes = Buffer.concat(Array.from({ length: count }, (_, i) => request('ECHO', `v${i}`)));
    // Split at odd places so requests straddle chunks.
    for (let i = 0; i < bytes.length; i += 7919) client.send(bytes.subarray(i, i + 7919));
    for (let i = 0; i < count; i++) expect(await client.reply()).toBe(`v${i}`);
    client.close();
  });

  it('replies to QUIT and closes, ignoring what was pipelined after it', async () => {
    const client = await RawClient.connect(fixture.server.port);
    client.send(Buffer.concat([request('QUIT'), request('PING')]));
    expect(await client.reply()).toBe('OK');
    expect(await client.closesWithin(2000)).toBe(true);
    expect(client.pending).toBe(0);
  });

  it('answers a protocol error once and closes', async () => {
    const client = await RawClient.connect(fixture.server.port);
    client.send(Buffer.concat([request('PING'), Buffer.from('*1\r\n$abc\r\n'), request('PING')]));
    expect(await client.reply()).toBe('PONG');
    expect(await client.reply()).toEqual({ error: 'ERR Protocol error: invalid bulk length' });
    expect(await client.closesWithin(2000)).toBe(true);
  });

  it('enforces proto-max-bulk-len as set by CONFIG SET', async () => {
    const admin = await RawClient.connect(fixture.server.port);
    expect(await admin.call('CONFIG', 'SET', 'proto-max-bulk-len', '1mb')).toBe('OK');
    const client = await RawClient.connect(fixture.server.port);
    client.send(`*2\r\n$4\r\nECHO\r\n$${1024 * 1024 + 1}\r\n`);
    expect(await client.reply()).toEqual({ error: 'ERR Protocol error: invalid bulk length' });
    expect(await client.closesWithin(2000)).toBe(true);
    expect(await admin.call('CONFIG', 'SET', 'proto-max-bulk-len', '512mb')).toBe('OK');
    admin.close();
  });

  it('closes an inline request longer than 64 KiB', async () => {
    const client = await RawClient.connect(fixture.server.port);
    client.send(`PING ${'x'.repeat(70 * 1024)}`);
    expect(await client.reply()).toEqual({ error: 'ERR Protocol error: too big inline request' });
    expect(await client.closesWithin(2000)).toBe(true);
  });

  it('switches to RESP3 with HELLO 3 and back with RESET', async () => {
    const client = await RawClient.connect(fixture.server.port);
    const hello = (await client.call('HELLO', '3', 'SETNAME', 'app')) as { map: [Decoded, Decoded][] };
    expect(Object.fromEntries(hello.map)).toMatchObject({
      server: 'redis',
      version: '7.0.15',
      proto: 3,
      mode: 'standalone',
      role: 'master',
    });
    expect(await client.call('CLIENT', 'GETNAME')).toBe('app');
    client.send(request('CLIENT', 'INFO'));
    expect(String(await client.reply())).toMatch(/ name=app .* resp=3$/m);
    expect(await client.call('RESET')).toBe('RESET');
    expect(await client.call('CLIENT', 'GETNAME')).toBeNull();
    client.send(request('CONFIG', 'GET', 'maxclients'));
    expect(await client.reply()).toEqual(['maxclients', '10000']); // a flat array again: RESP2
    client.close();
  });

  it('closes idle clients after the timeout', async () => {
    const admin = await RawClient.connect(fixture.server.port);
    const idle = await RawClient.connect(fixture.server.port);
    expect(await admin.call('CONFIG', 'SET', 'timeout', '1')).toBe('OK');
    expect(await idle.closesWithin(3500)).toBe(true);
    expect(await admin.closesWithin(2000)).toBe(true); // also idle since
    const again = await RawClient.connect(fixture.server.port);
    expect(await again.call('CONFIG', 'SET', 'timeout', '0')).toBe('OK');
    again.close();
  });

  it('refuses clients past maxclients', async () => {
    const admin = await RawClient.connect(fixture.server.port);
    expect(await admin.call('CONFIG', 'SET', 'maxclients', '2')).toBe('OK');
    const second = await RawClient.connect(fixture.server.port);
    expect(await second.call('PING')).toBe('PONG');
    const third = await RawClient.connect(fixture.server.port);
    expect(await third.reply()).toEqual({ error: 'ERR max number of clients reached' });
    expect(await third.closesWithin(2000)).toBe(true);
    expect(await admin.call('CONFIG', 'SET', 'maxclients', '10000')).toBe('OK');
    admin.close();
    second.close();
  });

  it('closes a client over the output-buffer soft limit for longer than its seconds', async () => {
    const admin = await RawClient.connect(fixture.server.port);
    expect(await admin.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 0 64kb 1')).toBe('OK');
    const reader = await RawClient.connect(fixture.server.port);
    reader.socket.pause();
    reader.send(Buffer.concat(Array.from({ length: 256 }, () => request('ECHO', 'x'.repeat(64 * 1024)))));
    expect(await reader.closesWithin(4000)).toBe(true);
    expect(await admin.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 0 0 0')).toBe('OK');
    admin.close();
  });

  it('lists clients, filtered by ID or type', async () => {
    const [first, second] = await Promise.all([RawClient.connect(fixture.server.port), RawClient.connect(fixture.server.port)]);
    expect(await first.call('CLIENT', 'SETNAME', 'first')).toBe('OK');
    const id = (await second.call('CLIENT', 'ID')) as number;
    const all = String(await first.call('CLIENT', 'LIST'));
    expect(all).toMatch(/^id=\d+ addr=127\.0\.0\.1:\d+ .*name=first .*cmd=client\|list .*resp=2$/m);
    expect(all).toMatch(new RegExp(`^id=${id} .*cmd=client\\|id `, 'm'));
    expect(
      String(await first.call('CLIENT', 'LIST', 'ID', String(id)))
        .trim()
        .split('\n'),
    ).toHaveLength(1);
    expect(await first.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).toBe('');
    expect(await first.call('CLIENT', 'LIST', 'ID', 'x')).toEqual({ error: 'ERR Invalid client ID' });
    first.close();
    second.close();
  });

  it('closes a client whose unread replies pass the output-buffer hard limit', async () => {
    const admin = await RawClient.connect(fixture.server.port);
    expect(await admin.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 256kb 0 0')).toBe('OK');
    const reader = await RawClient.connect(fixture.server.port);
    reader.socket.pause(); // never reads: the replies pile up in the kernel, then in the server
    const value = 'x'.repeat(64 * 1024);
    const batch = Buffer.concat(Array.from({ length: 64 }, () => request('ECHO', value)));
    for (let i = 0; i < 8 && !reader.closed; i++) {
      reader.send(batch); // 32 MiB of replies in all: more than any kernel buffers
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await reader.closesWithin(5000)).toBe(true);
    expect(await admin.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 0 0 0')).toBe('OK');
    expect(await admin.call('PING')).toBe('PONG');
    admin.close();
  });
});

describe('authentication', () => {
  it('requires AUTH before other commands when requirepass is set', async () => {
    const fixture = await testServer({ requirepass: 'sesame' });
    try {
      const client = await RawClient.connect(fixture.server.port);
      expect(await client.call('PING')).toEqual({ error: 'NOAUTH Authentication required.' });
      expect(await client.call('ECHO')).toEqual({ error: "ERR wrong number of arguments for 'echo' command" });
      expect(await client.call('AUTH', 'wrong')).toEqual({ error: 'WRONGPASS invalid username-password pair or user is disabled.' });
      expect(await client.call('AUTH', 'someone', 'sesame')).toEqual({
        error: 'WRONGPASS invalid username-password pair or user is disabled.',
      });
      expect(await client.call('HELLO', '3')).toEqual({ error: expect.stringMatching(/^NOAUTH HELLO must be called/) });
      expect(await client.call('AUTH', 'sesame')).toBe('OK');
      expect(await client.call('PING')).toBe('PONG');
      expect(await client.call('RESET')).toBe('RESET');
      expect(await client.call('PING')).toEqual({ error: 'NOAUTH Authentication required.' });
      const hello = (await client.call('HELLO', '2', 'AUTH', 'default', 'sesame')) as Decoded[];
      expect(hello.slice(0, 2)).toEqual(['server', 'redis']);
      expect(await client.call('PING')).toBe('PONG');
      client.close();
    } finally {
      await fixture.stop();
    }
  });
});

describe('protected mode', () => {
  it('refuses a non-loopback address without a password, with a stable code', async () => {
    await expect(startServer({ port: 0, bind: '0.0.0.0', dir: '/nonexistent/never-created' })).rejects.toMatchObject({
      code: 'DBOS_EPERM',
    });
  });

  it('listens on a public address with requirepass, or with protected mode off', async () => {
    for (const options of [{ requirepass: 'x' }, { protectedMode: false }]) {
      const fixture = await testServer({ bind: '0.0.0.0', ...options });
      const client = await RawClient.connect(fixture.server.port);
      expect(await client.call('AUTH', 'x')).toEqual(
        options.requirepass ? 'OK' : { error: expect.stringMatching(/^ERR AUTH <password> called/) },
      );
      client.close();
      await fixture.stop();
    }
  });
});

describe('graceful close', () => {
  it('answers every request already read before the store closes', async () => {
    const fixture = await testServer();
    const client = await RawClient.connect(fixture.server.port);
    client.send(Buffer.concat([request('DEBUG', 'SLEEP', '0.3'), request('PING', 'after')]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = fixture.server.close();
    expect(await client.reply()).toBe('OK');
    expect(await client.reply()).toBe('after');
    expect(await client.closesWithin(2000)).toBe(true);
    await closing;
    expect(fixture.server.store.closed).toBe(true);
    await fixture.stop();
  });

  it('loses no acknowledged write when closed mid-stream, under every appendfsync', async () => {
    for (const appendfsync of ['no', 'everysec', 'always'] as const) {
      const fixture = await testServer({ appendfsync });
      const dir = fixture.server.dir;
      const client = await RawClient.connect(fixture.server.port);
      const count = 2000;
      client.send(Buffer.concat(Array.from({ length: count }, (_, i) => request('SET', `k${i}`, `v${i}`))));
      let acknowledged = 0;
      const reading = (async () => {
        for (; acknowledged < count; acknowledged++) if ((await client.reply()) !== 'OK') break;
      })().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 5));
      await fixture.server.close();
      await reading;
      expect(acknowledged, appendfsync).toBeGreaterThan(0);
      // Reopen the same store: every acknowledged SET is there.
      const reopened = await testServer({ dir });
      for (let i = 0; i < acknowledged; i++) expect(reopened.server.keyspace.get(Buffer.from(`k${i}`))?.value.toString()).toBe(`v${i}`);
      await reopened.stop();
      await fixture.stop();
    }
  });

  it('syncs the log within a second of a write under everysec, not under no', async () => {
    for (const appendfsync of ['everysec', 'no'] as const) {
      const fixture = await testServer({ appendfsync });
      const client = await RawClient.connect(fixture.server.port);
      const syncRecord = Buffer.concat([Buffer.of(0), Buffer.from('sync')]);
      expect(fixture.server.store.get(syncRecord)).toBeUndefined();
      expect(await client.call('SET', 'a', 'b')).toBe('OK');
      await new Promise((resolve) => setTimeout(resolve, 1300));
      expect(fixture.server.store.get(syncRecord) !== undefined, appendfsync).toBe(appendfsync === 'everysec');
      client.close();
      await fixture.stop();
    }
  });

  it('closes on SHUTDOWN without a reply; SHUTDOWN SAVE writes dump.rdb first', async () => {
    for (const option of ['NOSAVE', 'SAVE']) {
      const fixture = await testServer();
      const client = await RawClient.connect(fixture.server.port);
      client.send(request('SHUTDOWN', option));
      expect(await client.closesWithin(3000)).toBe(true);
      await fixture.server.closed;
      expect(client.pending).toBe(0);
      expect(fs.existsSync(path.join(fixture.server.dir, 'dump.rdb'))).toBe(option === 'SAVE');
      await fixture.stop();
    }
  });
});

/** Requests whose replies must equal redis-server's byte for byte (no ids, ports or times in them). */
const SAME_AS_REDIS: string[][] = [
  ['PING'],
  ['PING', 'hello'],
  ['PING', 'a', 'b'],
  ['ping'],
  ['ECHO'],
  ['ECHO', 'x y'],
  ['NOSUCHCOMMAND', 'a', 'b'],
  ['NOSUCHCOMMAND'],
  ['nosuch', 'x'.repeat(200)],
  ['SELECT', 'x'],
  ['SELECT', '0'],
  ['AUTH', 'pw'],
  ['AUTH', 'default', 'pw'],
  ['AUTH', 'a', 'b', 'c'],
  ['HELLO', '4'],
  ['HELLO', 'x'],
  ['HELLO', '3', 'FOO'],
  ['HELLO', '3', 'AUTH', 'a'],
  ['CLIENT'],
  ['CLIENT', 'FOO'],
  ['CLIENT', 'SETNAME', 'a b'],
  ['CLIENT', 'SETNAME', 'name'],
  ['CLIENT', 'GETNAME'],
  ['CLIENT', 'SETNAME', ''],
  ['CLIENT', 'GETNAME'],
  ['CONFIG'],
  ['CONFIG', 'FOO'],
  ['CONFIG', 'GET'],
  ['CONFIG', 'SET', 'timeout'],
  ['CONFIG', 'SET', 'timeout', 'x'],
  ['CONFIG', 'SET', 'timeout', '-1'],
  ['CONFIG', 'SET', 'nosuch', 'x'],
  ['CONFIG', 'SET', 'maxclients', '0'],
  ['CONFIG', 'SET', 'appendfsync', 'sometimes'],
  ['CONFIG', 'SET', 'proto-max-bulk-len', '10'],
  ['CONFIG', 'SET', 'timeout', '1', 'timeout', '2'],
  ['CONFIG', 'SET', 'client-output-buffer-limit', 'normal 1 2'],
  ['CONFIG', 'SET', 'client-output-buffer-limit', 'bogus 1 2 3'],
  ['CONFIG', 'SET', 'timeout', '7', 'appendfsync', 'no'],
  ['CONFIG', 'GET', 'timeout'],
  ['CONFIG', 'GET', 'appendfs*'],
  ['CONFIG', 'GET', 'nothing*'],
  ['CONFIG', 'SET', 'timeout', '0', 'appendfsync', 'everysec'],
  ['CONFIG', 'RESETSTAT'],
  ['CONFIG', 'RESETSTAT', 'x'],
  ['COMMAND', 'FOO'],
  ['COMMAND', 'INFO', 'nosuch'],
  ['COMMAND', 'GETKEYS', 'ping'],
  ['COMMAND', 'GETKEYS', 'ping', 'a'],
  ['COMMAND', 'GETKEYS', 'nosuch', 'a'],
  ['FUNCTION', 'FOO'],
  ['FUNCTION', 'FLUSH'],
  ['FUNCTION', 'FLUSH', 'ASYNC'],
  ['FUNCTION', 'FLUSH', 'x'],
  ['FUNCTION', 'LIST'],
  ['SHUTDOWN', 'bogus'],
  ['SHUTDOWN', 'ABORT'],
  ['QUIT'],
];

describe('the same replies as redis-server 7.0', () => {
  it('gives byte-identical replies for connection and server commands and their errors', async () => {
    const redis = await redisServer();
    const fixture = await testServer();
    try {
      for (const protocol of ['2', '3']) {
        const [ours, theirs] = await Promise.all([RawClient.connect(fixture.server.port), RawClient.connect(redis.port)]);
        if (protocol === '3') await Promise.all([ours.call('HELLO', '3'), theirs.call('HELLO', '3')]);
        for (const words of SAME_AS_REDIS) {
          const [mine, reference] = await Promise.all([ours.call(...words), theirs.call(...words)]);
          expect(mine, `${words.join(' ')} (RESP${protocol})`).toEqual(reference);
        }
        ours.close();
        theirs.close();
      }
    } finally {
      await fixture.stop();
      await redis.stop();
    }
  });

  it('reports INFO fields under the names and sections redis-server uses', async () => {
    const redis = await redisServer();
    const fixture = await testServer();
    try {
      const [ours, theirs] = await Promise.all([RawClient.connect(fixture.server.port), RawClient.connect(redis.port)]);
      await Promise.all([ours.call('SET', 'a', '1', 'EX', '100'), theirs.call('SET', 'a', '1', 'EX', '100')]);
      const sections = (text: string): Map<string, string[]> => {
        const out = new Map<string, string[]>();
        let current = '';
        for (const line of text.split('\r\n')) {
          if (line.startsWith('# ')) {
            current = line.slice(2);
            out.set(current, []);
          } else if (line.includes(':')) out.get(current)?.push(line.slice(0, line.indexOf(':')));
        }
        return out;
      };
      const mine = sections(String(await ours.call('INFO', 'everything')));
      const reference = sections(String(await theirs.call('INFO', 'everything')));
      expect([...mine.keys()]).toEqual([...reference.keys()].filter((name) => mine.has(name)));
      expect([...mine.keys()]).toEqual(expect.arrayContaining(['Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'Keyspace']));
      for (const [section, fields] of mine) {
        const known = reference.get(section) ?? [];
        for (const field of fields) if (!field.startsWith('dbos_')) expect(known, `${section}: ${field}`).toContain(field);
      }
      expect(String(await ours.call('INFO', 'keyspace'))).toBe('# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\n');
      expect(await ours.call('INFO', 'nosuchsection')).toBe('');
      ours.close();
      theirs.close();
    } finally {
      await fixture.stop();
      await redis.stop();
    }
  });

  it('describes every command in its table as redis-server does (COMMAND INFO: arity, flags, keys, categories)', async () => {
    const redis = await redisServer();
    const fixture = await testServer();
    try {
      const [ours, theirs] = await Promise.all([RawClient.connect(fixture.server.port), RawClient.connect(redis.port)]);
      const sorted = (set: Decoded): string[] => [...(set as string[])].sort();
      const shape = (entry: Decoded[]) => ({
        arity: entry[1],
        flags: sorted(entry[2] as Decoded),
        keys: entry.slice(3, 6),
        categories: sorted(entry[6] as Decoded),
      });
      const table = (await ours.call('COMMAND')) as Decoded[][];
      expect(table.length).toBe(await ours.call('COMMAND', 'COUNT'));
      for (const entry of table) {
        const [reference] = (await theirs.call('COMMAND', 'INFO', entry[0] as string)) as Decoded[][];
        expect(reference, String(entry[0])).toBeTruthy();
        expect(shape(entry), String(entry[0])).toEqual(shape(reference as Decoded[]));
        const theirSubcommands = new Map(((reference as Decoded[])[9] as Decoded[][]).map((sub) => [sub[0], sub]));
        for (const sub of entry[9] as Decoded[][]) {
          const match = theirSubcommands.get(sub[0]);
          expect(match, String(sub[0])).toBeTruthy();
          expect({ ...shape(sub), categories: [] }, String(sub[0])).toEqual({ ...shape(match as Decoded[]), categories: [] });
        }
      }
      ours.close();
      theirs.close();
    } finally {
      await fixture.stop();
      await redis.stop();
    }
  });

  it('gives the same errors as redis-server before and after AUTH when a password is set', async () => {
    const redis = await redisServer(['--requirepass', 'pw']);
    const fixture = await testServer({ requirepass: 'pw' });
    try {
      const [ours, theirs] = await Promise.all([RawClient.connect(fixture.server.port), RawClient.connect(redis.port)]);
      const sequence = [
        ['PING'],
        ['ECHO'],
        ['NOSUCH'],
        ['CLIENT', 'FOO'],
        ['HELLO', '3'],
        ['AUTH', 'bad'],
        ['AUTH', 'default', 'bad'],
        ['AUTH', 'pw'],
        ['PING'],
        ['RESET'],
        ['PING'],
        ['HELLO', '2', 'AUTH', 'default', 'bad'],
        ['AUTH', 'default', 'pw'],
        ['ECHO', 'ok'],
      ];
      for (const words of sequence) {
        const [mine, reference] = await Promise.all([ours.call(...words), theirs.call(...words)]);
        expect(mine, words.join(' ')).toEqual(reference);
      }
      ours.close();
      theirs.close();
    } finally {
      await fixture.stop();
      await redis.stop();
    }
  });
});
