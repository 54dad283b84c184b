// tsx bench/rdb-save.ts: how long writing dump.rdb takes here, against redis-server on the same
// machine and the same data. Not a test: it prints a table and writes nothing else.
//
// Data: DBOS_RDB_BENCH_KEYS keys (default 200 000) "key:<n>" with 100-byte values of random
// letters and digits (a little compressible, like real text; redis-benchmark's "xxx…" values would
// flatter LZF). Lines:
//   dbos-kv SAVE              blocking save from a snapshot (the command's path)
//   dbos-kv BGSAVE            the background save (the command's path): snapshot read on pool
//                             threads (liveEntriesAsync), streamed write, event loop free
//   dbos-kv BGSAVE (main)     the same, reading the snapshot on the main thread in slices (liveEntries)
//   dbos-kv BGSAVE (lzf)      the background save with LZF compression on, as Redis's default
//   redis SAVE / BGSAVE       redis-server 7 with its defaults (rdbcompression yes, rdbchecksum yes)
// BGSAVE lines are wall time from the command to the file renamed into place (Redis: polling INFO
// every 2 ms until rdb_bgsave_in_progress is 0). For ours, "loop max" is the longest time the event
// loop was kept from a 1 ms timer during the save (what a client would wait at worst).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startRedisOnSocket } from '@dbos/benchmarks/adapters/redis-server';
import { ALPHANUMERIC, Random } from '@dbos/benchmarks/workload';
import { Redis } from 'ioredis';
import { createPersistence } from '../src/server/commands/persistence.js';
import { type BinaryStore, Keyspace } from '../src/server/keyspace.js';
import { saveRdb } from '../src/server/rdb/save.js';
import { open } from '../src/store.js';

const KEYS = Number(process.env.DBOS_RDB_BENCH_KEYS ?? 200_000);
const VALUE_BYTES = 100;
const ROUNDS = Number(process.env.DBOS_RDB_BENCH_ROUNDS ?? 3);

function* dataset(): Generator<[Buffer, Buffer]> {
  const random = new Random(0x12345678);
  for (let i = 0; i < KEYS; i++) {
    const value = Buffer.allocUnsafe(VALUE_BYTES);
    random.fillFrom(value, ALPHANUMERIC);
    yield [Buffer.from(`key:${i}`), value];
  }
}

interface Line {
  name: string;
  ms: number[];
  bytes: number;
  loopMaxMs?: number[];
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function timeOurs(root: string): Promise<Line[]> {
  fs.mkdirSync(path.join(root, 'store'), { recursive: true });
  const store: BinaryStore = open(path.join(root, 'store'), { keyEncoding: 'binary', valueEncoding: 'binary' });
  const keyspace = new Keyspace(store, { now: Date.now, sync: () => false, activeExpiry: false });
  let change = keyspace.change();
  let pending = 0;
  for (const [key, value] of dataset()) {
    change.set(key, { type: 'string', value, expireAt: null });
    if (++pending === 1000) {
      await change.commit();
      change = keyspace.change();
      pending = 0;
    }
  }
  await change.commit();
  await store.checkpoint();
  const plain = createPersistence({ dir: root, store, keyspace, now: Date.now });
  const file = plain.file;
  const lines: Line[] = [
    { name: 'dbos-kv SAVE', ms: [], bytes: 0 },
    { name: 'dbos-kv BGSAVE', ms: [], bytes: 0, loopMaxMs: [] },
    { name: 'dbos-kv BGSAVE (main)', ms: [], bytes: 0, loopMaxMs: [] },
    { name: 'dbos-kv BGSAVE (lzf)', ms: [], bytes: 0, loopMaxMs: [] },
  ];
  const lzfDir = path.join(root, 'lzf');
  fs.mkdirSync(lzfDir);
  const lzf = new (plain.constructor as typeof import('../src/server/persistence.js').Persistence)({
    dir: lzfDir,
    store,
    keyspace,
    now: Date.now,
    compress: true,
  });
  const measureLoop = async (run: () => Promise<unknown>): Promise<[number, number]> => {
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const started = performance.now();
    await run();
    const elapsed = performance.now() - started;
    histogram.disable();
    return [elapsed, histogram.max / 1e6];
  };
  for (let round = 0; round < ROUNDS; round++) {
    let started = performance.now();
    plain.saveSync();
    (lines[0] as Line).ms.push(performance.now() - started);
    (lines[0] as Line).bytes = fs.statSync(file).size;

    const [background, backgroundLoop] = await measureLoop(() => plain.startBackgroundSave());
    (lines[1] as Line).ms.push(background);
    (lines[1] as Line).loopMaxMs?.push(backgroundLoop);
    (lines[1] as Line).bytes = fs.statSync(file).size;

    const [main, mainLoop] = await measureLoop(async () => {
      const snapshot = store.snapshot();
      try {
        started = performance.now();
        await saveRdb(
          file,
          { keyCount: keyspace.size(), expiringCount: 0, entries: keyspace.liveEntries(snapshot) },
          { nowMs: Date.now() },
        );
      } finally {
        snapshot.close();
      }
    });
    (lines[2] as Line).ms.push(main);
    (lines[2] as Line).loopMaxMs?.push(mainLoop);
    (lines[2] as Line).bytes = fs.statSync(file).size;

    const [compressed, compressedLoop] = await measureLoop(() => lzf.startBackgroundSave());
    (lines[3] as Line).ms.push(compressed);
    (lines[3] as Line).loopMaxMs?.push(compressedLoop);
    (lines[3] as Line).bytes = fs.statSync(lzf.file).size;
  }
  if (plain.lastError !== null || lzf.lastError !== null) throw plain.lastError ?? lzf.lastError;
  keyspace.stop();
  await store.close();
  return lines;
}

async function timeRedis(root: string): Promise<Line[]> {
  const server = await startRedisOnSocket(root);
  try {
    const client = new Redis({ path: server.socketPath });
    try {
      let pipeline = client.pipeline();
      let pending = 0;
      for (const [key, value] of dataset()) {
        pipeline.set(key, value);
        if (++pending === 1000) {
          await pipeline.exec();
          pipeline = client.pipeline();
          pending = 0;
        }
      }
      await pipeline.exec();
      const lines: Line[] = [
        { name: 'redis SAVE', ms: [], bytes: 0 },
        { name: 'redis BGSAVE', ms: [], bytes: 0 },
      ];
      const file = path.join(root, 'dump.rdb');
      for (let round = 0; round < ROUNDS; round++) {
        let started = performance.now();
        await client.save();
        (lines[0] as Line).ms.push(performance.now() - started);
        (lines[0] as Line).bytes = fs.statSync(file).size;
        started = performance.now();
        await client.bgsave();
        while (/rdb_bgsave_in_progress:1/.test(await client.info('persistence'))) await new Promise((resolve) => setTimeout(resolve, 2));
        (lines[1] as Line).ms.push(performance.now() - started);
        (lines[1] as Line).bytes = fs.statSync(file).size;
        if (!/rdb_last_bgsave_status:ok/.test(await client.info('persistence'))) throw new Error('redis BGSAVE failed');
      }
      return lines;
    } finally {
      client.disconnect();
    }
  } finally {
    await server.stop();
  }
}

const root = fs.mkdtempSync(path.join(process.env.DBOS_BENCH_DIR ?? os.tmpdir(), 'dbos-rdb-bench-'));
try {
  const ours = await timeOurs(path.join(root, 'ours'));
  fs.mkdirSync(path.join(root, 'redis'));
  const theirs = await timeRedis(path.join(root, 'redis'));
  console.log(`${KEYS} keys x ${VALUE_BYTES} B values, median of ${ROUNDS}; ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(2)}`);
  console.log('| line | time (ms) | MB/s of file | file bytes | loop max (ms) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const line of [...ours, ...theirs]) {
    const ms = median(line.ms);
    const loop = line.loopMaxMs ? median(line.loopMaxMs).toFixed(1) : '';
    console.log(`| ${line.name} | ${ms.toFixed(0)} | ${(line.bytes / 1e6 / (ms / 1000)).toFixed(0)} | ${line.bytes} | ${loop} |`);
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
