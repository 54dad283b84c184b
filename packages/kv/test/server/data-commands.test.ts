// The data commands where this server differs from Redis on purpose (the store's key and value
// limits, one database), and what a differential run cannot see: expiry without any access,
// and values, expiries and counts surviving a restart or a FLUSHALL ASYNC.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_BYTES_MAX, VALUE_BYTES_MAX } from '../../src/server/keyspace.js';
import { type KvServer, startServer } from '../../src/server/server.js';
import { type Resp, RespConnection } from './differential-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scratchDir(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-data-'));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  return path.join(root, 'store');
}

async function serve(
  dir: string,
): Promise<{ server: KvServer; client: RespConnection; call: (...words: (string | Buffer)[]) => Promise<Resp> }> {
  const server = await startServer({ port: 0, dir, appendfsync: 'always', cacheBytes: 8 * 1024 * 1024 });
  const client = await RespConnection.connect(server.port);
  const stop = async () => {
    client.close();
    await server.close();
  };
  cleanups.push(stop);
  return { server, client, call: (...words) => client.call(words) };
}

const ok = { type: 'status', value: 'OK' };
const int = (value: number) => ({ type: 'integer', value: String(value) });
const text = (value: string | null) => ({ type: 'bulk', value });

describe('data commands: documented differences from Redis', () => {
  it(`refuses keys longer than ${KEY_BYTES_MAX} bytes on writes and finds nothing for them on reads`, async () => {
    const { call } = await serve(scratchDir());
    const long = 'k'.repeat(KEY_BYTES_MAX + 1);
    const refused = await call('SET', long, 'v');
    expect(refused.type).toBe('error');
    expect(refused.value).toMatch(/^ERR a key is at most 1011 bytes \(got 1012\)/);
    expect(await call('MSET', 'short', '1', long, '2')).toMatchObject({ type: 'error' });
    expect(await call('GET', 'short')).toEqual(text(null)); // MSET is all or nothing
    expect(await call('GET', long)).toEqual(text(null));
    expect(await call('EXISTS', long)).toEqual(int(0));
    expect(await call('DEL', long)).toEqual(int(0));
    const longest = 'k'.repeat(KEY_BYTES_MAX);
    expect(await call('SET', longest, 'v', 'PX', '100000')).toEqual(ok);
    expect(await call('GET', longest)).toEqual(text('v'));
  });

  it(`limits strings to ${VALUE_BYTES_MAX} bytes (the store's value limit less the header)`, async () => {
    const { call } = await serve(scratchDir());
    const tooLong = { type: 'error', value: 'ERR string exceeds maximum allowed size (proto-max-bulk-len)' };
    expect(await call('SETRANGE', 'k', String(VALUE_BYTES_MAX), 'x')).toEqual(tooLong);
    expect(await call('EXISTS', 'k')).toEqual(int(0));
    expect(await call('SETRANGE', 'k', String(VALUE_BYTES_MAX - 1), '')).toEqual(int(0));
  });

  it('has one database: COPY … DB takes only 0', async () => {
    const { call } = await serve(scratchDir());
    await call('SET', 'a', '1');
    expect(await call('COPY', 'a', 'b', 'DB', '1')).toEqual({ type: 'error', value: 'ERR DB index is out of range' });
    expect(await call('COPY', 'a', 'b', 'DB', '0')).toEqual(int(1));
    expect(await call('GET', 'b')).toEqual(text('1'));
  });
});

describe('data commands: expiry and durability through the server', () => {
  it('expires keys nobody reads (active expiry) and counts them down', async () => {
    const { call } = await serve(scratchDir());
    for (let i = 0; i < 20; i++) await call('SET', `short:${i}`, 'v', 'PX', '20');
    await call('SET', 'long', 'v', 'EX', '1000');
    await call('SET', 'plain', 'v');
    let size = -1;
    for (let attempt = 0; attempt < 100 && size !== 2; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      size = Number((await call('DBSIZE')).value);
    }
    expect(size).toBe(2);
    expect(await call('INFO', 'keyspace')).toMatchObject({ type: 'bulk' });
    const info = String((await call('INFO', 'keyspace')).value);
    expect(info).toContain('db0:keys=2,expires=1');
  });

  it('keeps values, expiry times and counts across a restart', async () => {
    const dir = scratchDir();
    const first = await serve(dir);
    await first.call('SET', 'plain', 'p');
    await first.call('SET', 'timed', 't', 'PXAT', String(Date.now() + 3_600_000));
    await first.call('INCRBY', 'counter', '41');
    await first.call('EXPIRE', 'counter', '5000');
    await first.call('PERSIST', 'counter');
    await first.call('SETEX', 'gone', '1000', 'x');
    await first.call('PEXPIRE', 'gone', '-1'); // a non-positive expiry deletes the key
    const pexpiretime = await first.call('PEXPIRETIME', 'timed');
    first.client.close();
    await first.server.close();
    const second = await serve(dir);
    expect(await second.call('DBSIZE')).toEqual(int(3));
    expect(await second.call('MGET', 'plain', 'timed', 'counter', 'gone')).toEqual({
      type: 'array',
      value: [text('p'), text('t'), text('41'), text(null)],
    });
    expect(await second.call('PEXPIRETIME', 'timed')).toEqual(pexpiretime);
    expect(await second.call('TTL', 'counter')).toEqual(int(-1));
    expect(String((await second.call('INFO', 'keyspace')).value)).toContain('db0:keys=3,expires=1');
  });

  it('looks empty at once after FLUSHALL ASYNC, and only later writes survive a restart', async () => {
    const dir = scratchDir();
    const first = await serve(dir);
    const words: string[] = [];
    for (let i = 0; i < 3000; i++) words.push(`key:${i}`, 'v');
    expect(await first.call('MSET', ...words)).toEqual(ok);
    expect(await first.call('FLUSHALL', 'ASYNC')).toEqual(ok);
    expect(await first.call('DBSIZE')).toEqual(int(0));
    expect(await first.call('KEYS', '*')).toEqual({ type: 'array', value: [] });
    expect(await first.call('GET', 'key:1')).toEqual(text(null));
    expect(await first.call('SET', 'key:1', 'after')).toEqual(ok);
    first.client.close();
    await first.server.close();
    const second = await serve(dir);
    expect(await second.call('DBSIZE')).toEqual(int(1));
    expect(await second.call('SCAN', '0', 'COUNT', '100')).toEqual({
      type: 'array',
      value: [text('0'), { type: 'array', value: [text('key:1')] }],
    });
    expect(await second.call('GET', 'key:1')).toEqual(text('after'));
  });
});
