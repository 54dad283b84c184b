// Redis is the specification: the same seeded command sequences run against a real redis-server
// 7.0 and against this server, and every reply must be the same (see differential-generator.ts
// for what is generated and which replies compare with a tolerance).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyCommands } from '../../src/server/commands/keys.js';
import { stringCommands } from '../../src/server/commands/strings.js';
import { type KvServer, startServer } from '../../src/server/server.js';
import { type Resp, RespConnection, startRedis } from './differential-client.js';
import { floatCases, generate, globCases, KEYS, lcsCases, type Step } from './differential-generator.js';

/** DIFF_SEEDS=n runs seeds 1..n instead (a longer sweep by hand; 150 seeds pass). */
const SEEDS = process.env.DIFF_SEEDS
  ? Array.from({ length: Number(process.env.DIFF_SEEDS) }, (_, i) => i + 1)
  : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const STEPS_PER_SEED = Number(process.env.DIFF_STEPS ?? 400);
/** SCAN iterations stop here: a cursor that never returns to 0 is a failure, not a hang. */
const SCAN_CALLS_MAX = 10_000;

let redis: { port: number; stop: () => Promise<void> };
let ours: KvServer;
let root: string;
let theirs: RespConnection;
let mine: RespConnection;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-differential-'));
  redis = await startRedis();
  ours = await startServer({ port: 0, dir: path.join(root, 'store'), appendfsync: 'no', cacheBytes: 16 * 1024 * 1024 });
  theirs = await RespConnection.connect(redis.port);
  mine = await RespConnection.connect(ours.port);
});

afterAll(async () => {
  theirs?.close();
  mine?.close();
  await ours?.close();
  await redis?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

function integerOf(reply: Resp): number | null {
  return reply.type === 'integer' ? Number(reply.value) : null;
}

/** Every key a full SCAN with `options` returns, sorted; or the error reply of its first call. */
async function scanAll(connection: RespConnection, options: readonly string[]): Promise<string[] | Resp> {
  const found = new Set<string>();
  let cursor = '0';
  for (let calls = 0; calls < SCAN_CALLS_MAX; calls++) {
    const reply = await connection.call(['SCAN', cursor, ...options]);
    if (reply.type !== 'array' || reply.value === null) return reply;
    const [next, keys] = reply.value as [Resp, Resp];
    for (const key of (keys.value as Resp[]) ?? []) found.add(String(key.value));
    cursor = String(next.value);
    if (cursor === '0') return [...found].sort();
  }
  throw new Error(`SCAN ${options.join(' ')} did not finish in ${SCAN_CALLS_MAX} calls`);
}

async function both(words: readonly string[]): Promise<[Resp, Resp]> {
  return Promise.all([theirs.call(words), mine.call(words)]);
}

/** Run one step on both servers and check that the replies agree as the step says. */
async function check(step: Step, where: string): Promise<void> {
  const words = step.words;
  switch (step.compare) {
    case 'exact': {
      const [expected, actual] = await both(words);
      expect(actual, where).toEqual(expected);
      return;
    }
    case 'seconds':
    case 'milliseconds': {
      const [expected, actual] = await both(words);
      const a = integerOf(expected);
      const b = integerOf(actual);
      if (a === null || b === null || a < 0 || b < 0) {
        expect(actual, where).toEqual(expected);
        return;
      }
      expect(Math.abs(a - b), `${where}: ${a} vs ${b}`).toBeLessThanOrEqual(step.compare === 'seconds' ? 1 : 250);
      return;
    }
    case 'sorted': {
      const [expected, actual] = await both(words);
      const sorted = (reply: Resp) =>
        reply.type === 'array' && reply.value ? reply.value.map((item) => String(item.value)).sort() : reply;
      expect(sorted(actual), where).toEqual(sorted(expected));
      return;
    }
    case 'scan': {
      const options = words.slice(1);
      const [expected, actual] = await Promise.all([scanAll(theirs, options), scanAll(mine, options)]);
      expect(actual, where).toEqual(expected);
      return;
    }
    case 'randomkey': {
      const [expected, actual] = await both(words);
      expect(actual.type, where).toBe('bulk');
      expect(actual.value === null, where).toBe(expected.value === null);
      if (actual.value !== null) expect(KEYS, where).toContain(actual.value);
      return;
    }
    case 'settled': {
      const [existsExpected, existsActual] = await both(['EXISTS', ...KEYS]);
      expect(existsActual, `${where} (EXISTS over every key first)`).toEqual(existsExpected);
      const [expected, actual] = await both(words);
      expect(actual, where).toEqual(expected);
      return;
    }
  }
}

describe('differential: the same commands against redis-server and this server', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${STEPS_PER_SEED} generated commands get identical replies`, async () => {
      const [flushExpected, flushActual] = await both(['FLUSHALL']);
      expect(flushActual).toEqual(flushExpected);
      const steps = generate(seed, STEPS_PER_SEED, Date.now());
      for (const [index, step] of steps.entries()) {
        await check(step, `seed ${seed} step ${index}: ${JSON.stringify(step.words)}`);
      }
      // The end state: every key's value and whether it expires.
      for (const key of KEYS) {
        const [expected, actual] = await both(['GET', key]);
        expect(actual, `seed ${seed} final GET ${key}`).toEqual(expected);
        const [ttlExpected, ttlActual] = await both(['TTL', key]);
        expect(Math.sign(Number(ttlActual.value)), `seed ${seed} final TTL ${key}`).toBe(Math.sign(Number(ttlExpected.value)));
      }
    });
  }
});

describe('differential: focused cases', () => {
  it('matches KEYS glob patterns as Redis does (classes, ranges, escapes, bytes above 0x7f)', async () => {
    for (const seed of [1, 2, 3]) {
      await both(['FLUSHALL']);
      const { keys, patterns } = globCases(seed, 40, 250);
      for (const key of keys) await both(['SET', key, 'v']);
      for (const pattern of patterns)
        await check({ words: ['KEYS', pattern], compare: 'sorted' }, `seed ${seed} KEYS ${JSON.stringify(pattern)}`);
    }
  });

  it('computes and prints INCRBYFLOAT chains in long double as Redis does', async () => {
    for (const seed of [1, 2, 3, 4]) {
      await both(['DEL', 'float']);
      for (const increment of floatCases(seed, 150)) {
        await check({ words: ['INCRBYFLOAT', 'float', increment], compare: 'exact' }, `seed ${seed} INCRBYFLOAT ${increment}`);
        // Restart now and then from a value Redis wrote, or from one given as text.
        if (increment.length % 7 === 0)
          await check({ words: ['SET', 'float', increment], compare: 'exact' }, `seed ${seed} SET ${increment}`);
      }
    }
  });

  it('quotes unknown commands, subcommands and options back byte for byte, as Redis does', async () => {
    const raw = '\xe9t\xe9 \xff\xfe caf\xc3\xa9';
    const long = 'x'.repeat(90);
    const cases: string[][] = [
      ['NOSUCH', raw],
      [`NO${raw}`, 'a\r\nb', 'c\nd'],
      ['NOSUCH', 'before\0after', 'z'],
      [`N\0UL`, 'q'],
      ['NOSUCH', long, long, long],
      ['NOSUCH', ...Array.from({ length: 60 }, (_, i) => `w${i}`)],
      [long + long + long],
      ['CONFIG', raw],
      ['CLIENT', `x\ry${raw}`],
      ['EXPIRE', 'k', '10', raw],
      ['EXPIRE', 'k', '10', 'a\0b'],
    ];
    for (const words of cases) await check({ words, compare: 'exact' }, `${JSON.stringify(words)}`);
  });

  it('finds the same LCS, lengths and match ranges', async () => {
    for (const [a, b] of lcsCases(5, 120)) {
      await both(['MSET', 'x', a, 'y', b]);
      for (const options of [[], ['LEN'], ['IDX'], ['IDX', 'WITHMATCHLEN'], ['IDX', 'MINMATCHLEN', '2', 'WITHMATCHLEN']]) {
        await check({ words: ['LCS', 'x', 'y', ...options], compare: 'exact' }, `LCS ${a} ${b} ${options.join(' ')}`);
      }
    }
  });
});

describe('differential: the command table', () => {
  it('reports the arity, flags and key positions of every data command as Redis does', async () => {
    const names = [...stringCommands, ...keyCommands].map((spec) => spec.name);
    for (const name of names) {
      const [expected, actual] = await both(['COMMAND', 'INFO', name]);
      // name, arity, flags, first key, last key, step: what clients use to route and check calls.
      const head = (reply: Resp) => ((reply.value as Resp[])[0]?.value as Resp[] | null)?.slice(0, 6);
      expect(head(expected), name).toHaveLength(6);
      expect(head(actual), name).toEqual(head(expected));
    }
  });
});
