// End to end through `dbos-kv serve`: --import loads a dump.rdb that redis-server wrote before the
// server listens; BGSAVE over the socket keeps answering other clients' writes while it runs, and
// the file it leaves is what redis-check-rdb accepts and holds the data as of the command.
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServeUsageError, takeImportFlag } from '../../src/cli-serve.js';
import { main } from '../../src/cli.js';
import { fileInput } from '../../src/server/rdb/input.js';
import { readRdb } from '../../src/server/rdb/reader.js';
import { scratch } from '../helpers.js';
import { checkRdb, startRedis } from './rdb-redis.js';

describe('--import flag', () => {
  it('is taken out of the serve arguments in both spellings, once', () => {
    expect(takeImportFlag(['--port', '1', '--import', 'a.rdb', '--dir', 'd'])).toEqual({
      importFile: 'a.rdb',
      rest: ['--port', '1', '--dir', 'd'],
    });
    expect(takeImportFlag(['--import=b.rdb'])).toEqual({ importFile: 'b.rdb', rest: [] });
    expect(takeImportFlag(['--dir', 'd'])).toEqual({ importFile: null, rest: ['--dir', 'd'] });
    expect(() => takeImportFlag(['--import'])).toThrow(ServeUsageError);
    expect(() => takeImportFlag(['--import=a', '--import', 'b'])).toThrow(/twice/);
  });
});

describe('dbos-kv serve --import, then BGSAVE', () => {
  const source = scratch('rdb-serve-source');
  const served = scratch('rdb-serve');
  const expireAt = Date.now() + 3_600_000;
  const KEYS = 20_000;

  beforeAll(async () => {
    fs.mkdirSync(source.root, { recursive: true });
    const redis = await startRedis(source.root);
    try {
      let pipeline = redis.client.pipeline();
      for (let i = 0; i < KEYS; i++) pipeline.set(`key:${i}`, i % 3 === 0 ? String(i) : `value ${i} `.repeat(1 + (i % 9)));
      await pipeline.exec();
      pipeline = redis.client.pipeline();
      pipeline.set('ttl', 'kept', 'PXAT', expireAt);
      await pipeline.exec();
      await redis.client.save();
    } finally {
      await redis.stop();
    }
  });

  afterAll(() => {
    source.remove();
    served.remove();
  });

  it('refuses a damaged file with its code before listening', async () => {
    const bad = source.path('bad.rdb');
    const good = fs.readFileSync(source.path('dump.rdb'));
    fs.writeFileSync(bad, good.subarray(0, good.length >> 1));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['serve', '--import', bad, '--port', '0', '--dir', served.path('bad')], {
      out: (text) => out.push(text),
      err: (text) => err.push(text),
      tty: false,
    });
    expect(code).toBe(3);
    expect(err.join('')).toMatch(/bad\.rdb is truncated.*\(DBOS_ECORRUPT\)/);
    expect(out.join('')).not.toMatch(/serving/);
  });

  it('serves the imported keys, and a BGSAVE under concurrent writes saves the moment of the command', async () => {
    const out: string[] = [];
    let listening: (port: number) => void = () => {};
    const port = new Promise<number>((resolve) => {
      listening = resolve;
    });
    const io = {
      out: (text: string) => {
        out.push(text);
        const match = /serving on [^:]+:(\d+)/.exec(text);
        if (match) listening(Number(match[1]));
      },
      err: (text: string) => out.push(text),
      tty: false,
    };
    const exited = main(['serve', '--import', source.path('dump.rdb'), '--port', '0', '--dir', served.root], io);
    // No reconnecting: SHUTDOWN's answer is the closed connection.
    const options = { port: await port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 };
    const client = new Redis(options);
    const writer = new Redis(options);
    await Promise.all([client.connect(), writer.connect()]);
    try {
      expect(out.join('')).toMatch(`imported ${KEYS + 1} keys`);
      expect(await client.dbsize()).toBe(KEYS + 1);
      expect(await client.get('key:3')).toBe('3');
      expect(await client.get('key:4')).toBe('value 4 '.repeat(5));
      expect(await client.pexpiretime('ttl')).toBe(expireAt);

      const before = await client.lastsave();
      expect(await client.bgsave()).toBe('Background saving started');
      // Another client keeps writing, and every write is answered, while the save runs.
      let answered = 0;
      let sawInProgress = false;
      for (;;) {
        const info = await client.info('persistence');
        if (info.includes('rdb_bgsave_in_progress:1')) sawInProgress = true;
        else break;
        await writer.set(`after:${answered}`, 'x');
        await writer.set('key:0', 'changed');
        answered++;
      }
      expect(sawInProgress).toBe(true);
      expect(answered).toBeGreaterThan(0);
      const info = await client.info('persistence');
      expect(info).toMatch(/rdb_last_bgsave_status:ok/);
      expect(await client.lastsave()).toBeGreaterThanOrEqual(before);

      const file = served.path('dump.rdb');
      const check = checkRdb(file);
      expect(check.ok, check.output).toBe(true);
      const saved = new Map<string, string>();
      const input = fileInput(file);
      for (const record of readRdb(input, 'dump.rdb'))
        if (record.kind === 'string') saved.set(record.key.toString(), record.value.toString());
      input.close();
      expect(saved.size).toBe(KEYS + 1);
      expect(saved.get('key:0')).toBe('0');
      expect([...saved.keys()].some((key) => key.startsWith('after:'))).toBe(false);
    } finally {
      writer.disconnect();
      await client.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      client.disconnect();
    }
    expect(await exited).toBe(0);
  });
});
