// The clients people already use, against this server: redis-cli and redis-benchmark (Debian's
// redis-tools), ioredis and node-redis (RESP2 and RESP3), including pipelining and errors.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServer } from './frame-helpers.js';

const run = promisify(execFile);

describe('real clients', () => {
  let fixture: Awaited<ReturnType<typeof testServer>>;
  let port: number;
  beforeAll(async () => {
    fixture = await testServer();
    port = fixture.server.port;
  });
  afterAll(async () => {
    await fixture.stop();
  });

  it('redis-cli: commands, errors, RESP3 and a pipe', async () => {
    const cli = (...args: string[]) => run('redis-cli', ['-p', String(port), ...args]);
    expect((await cli('PING')).stdout).toBe('PONG\n');
    expect((await cli('ECHO', 'hello world')).stdout).toBe('hello world\n');
    expect((await cli('NOSUCH', 'x')).stdout).toBe("ERR unknown command 'NOSUCH', with args beginning with: 'x' \n\n");
    expect((await cli('-3', 'HELLO', '3')).stdout).toMatch(/^server redis\nversion 7\.0\.15\nproto 3\n/);
    expect((await cli('INFO', 'keyspace')).stdout).toMatch(/^# Keyspace/);
    expect((await cli('CONFIG', 'GET', 'maxclients')).stdout).toBe('maxclients\n10000\n');
    const piped = await new Promise<string>((resolve, reject) => {
      const child = execFile('redis-cli', ['-p', String(port), '--pipe'], (error, stdout) => (error ? reject(error) : resolve(stdout)));
      child.stdin?.end(Array.from({ length: 1000 }, (_, i) => `ECHO ${i}\r\n`).join(''));
    });
    expect(piped).toMatch(/errors: 0, replies: 1000/);
  });

  it('redis-benchmark runs against it', async () => {
    const { stdout } = await run('redis-benchmark', ['-p', String(port), '-t', 'ping,set,get', '-n', '2000', '-c', '4', '-P', '4', '-q']);
    expect(stdout).toMatch(/PING_INLINE: [\d.]+ requests per second/);
    expect(stdout).toMatch(/PING_MBULK: [\d.]+ requests per second/);
    expect(stdout).toMatch(/SET: [\d.]+ requests per second/);
    expect(stdout).toMatch(/GET: [\d.]+ requests per second/);
  });

  it('ioredis: commands, a pipeline of 500, errors as ReplyError', async () => {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect(); // the ready check sends INFO and reads loading:0
    try {
      expect(await client.ping()).toBe('PONG');
      expect(await client.echo('ä')).toBe('ä');
      expect(await client.client('SETNAME', 'ioredis-test')).toBe('OK');
      expect(await client.client('GETNAME')).toBe('ioredis-test');
      expect(await client.config('GET', 'timeout')).toEqual(['timeout', '0']);
      const pipeline = client.pipeline();
      for (let i = 0; i < 500; i++) pipeline.echo(`m${i}`);
      const results = await pipeline.exec();
      expect(results?.map(([error, value]) => (error ? String(error) : value))).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
      await expect(client.call('NOSUCH', 'a')).rejects.toThrow("ERR unknown command 'NOSUCH', with args beginning with: 'a'");
      await expect(client.select(3)).rejects.toThrow('ERR DB index is out of range');
      expect(await client.set('io:a', 'x', 'EX', 100)).toBe('OK');
      expect(await client.ttl('io:a')).toBe(100);
      expect(await client.incrby('io:n', 5)).toBe(5);
      await expect(client.incr('io:a')).rejects.toThrow('ERR value is not an integer or out of range');
      const writes = client.pipeline();
      for (let i = 0; i < 300; i++) writes.set(`io:p${i}`, `v${i}`);
      await writes.exec();
      expect(await client.mget('io:p0', 'io:p299', 'io:none')).toEqual(['v0', 'v299', null]);
      expect(await client.getBuffer('io:p1')).toEqual(Buffer.from('v1'));
      expect(await client.del('io:a', 'io:n', 'io:none')).toBe(2);
      expect(await client.select(0)).toBe('OK');
    } finally {
      client.disconnect();
    }
  });

  it('node-redis over RESP2 and RESP3', async () => {
    for (const RESP of [2, 3] as const) {
      const client = createClient({ socket: { port, host: '127.0.0.1' }, RESP });
      await client.connect();
      try {
        expect(await client.ping()).toBe('PONG');
        expect(await client.echo('x')).toBe('x');
        expect(await client.configGet('maxclients')).toEqual({ maxclients: '10000' });
        const info = await client.info('server');
        expect(String(info)).toMatch(/redis_version:7\.0\.15/);
        // Commands issued together go out in one write: node-redis pipelines them.
        const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.echo(`p${i}`)));
        expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => `p${i}`));
        await expect(client.sendCommand(['NOSUCH'])).rejects.toThrow("ERR unknown command 'NOSUCH', with args beginning with: ");
        expect(await client.clientId()).toBeGreaterThan(0);
        expect(await client.set(`nr${RESP}`, 'v', { EX: 50 })).toBe('OK');
        expect(await client.get(`nr${RESP}`)).toBe('v');
        expect(await client.get('nr:none')).toBeNull();
        expect(await client.incrByFloat(`nr:f${RESP}`, 1.5)).toBe('1.5');
        expect(await client.exists([`nr${RESP}`, 'nr:none'])).toBe(1);
      } finally {
        await client.quit();
      }
    }
  });
});
