// The snapshot experiment: a server holding `dataBytes` of 1000-byte values under a steady SET
// load (10 connections, one request in flight on each, uniform keys over the loaded set), BGSAVE
// sent two seconds in. Every request's latency goes into a histogram of the phase it completed in
// (before the save, during it, after it) and of its 100 ms slot; the save's end is when INFO
// persistence first reports rdb_bgsave_in_progress:0 (polled every 25 ms); memory is sampled every
// 50 ms (memory-sampler.ts).
import fs from 'node:fs';
import path from 'node:path';
import { median } from '@dbos/benchmarks/measure';
import { LatencyHistogram } from './histogram.js';
import { MemorySampler, type MemorySample } from './memory-sampler.js';
import { RespClient, encodeCommand, infoFields } from '@dbos/benchmarks/adapters/resp-client';
import { Random } from '@dbos/benchmarks/workload';
import type { RunningServer } from './servers.js';

export const VALUE_BYTES = 1000;
const CONNECTIONS = 10;
const FILL_BATCH = 100;
const FILL_IN_FLIGHT = 8;
const FILL_CONNECTIONS = 2;
const BGSAVE_AT_MS = 2000;
/** The before-save throughput leaves out the first half second (connections warming up). */
const WARMUP_MS = 500;
const AFTER_SAVE_MS = 1000;
const SLOT_MS = 100;
const POLL_MS = 25;
/** A save still running after this long fails the run instead of hanging it. */
const SAVE_LIMIT_MS = 600_000;
/** Distinct values cycled through by the fill and the load (1 MiB), pseudo-random bytes. */
const VALUE_POOL = 1024;

/** The server counts as settled after the fill once it uses under this share of a core for SETTLE_WINDOW_MS. */
const SETTLE_CPU_SHARE = 0.1;
const SETTLE_WINDOW_MS = 500;
const SETTLE_LIMIT_MS = 60_000;
/** Linux's USER_HZ: /proc/PID/stat counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

export interface PhaseStats {
  requests: number;
  seconds: number;
  opsPerSecond: number;
  p50ms: number;
  p99ms: number;
  p999ms: number;
  maxms: number;
}

export interface SnapshotOutcome {
  label: string;
  keys: number;
  dataBytes: number;
  fillSeconds: number;
  /** How long the server kept working after the fill before it was idle (work left behind by the fill: checkpoints, log writes). */
  settleSeconds: number;
  before: PhaseStats;
  during: PhaseStats;
  after: PhaseStats;
  saveSeconds: number;
  dumpBytes: number;
  /** Pss (process + children) at the last sample before BGSAVE, the peak during the save, and their difference. */
  memoryBeforeBytes: number;
  memoryPeakBytes: number;
  extraBytes: number;
  /** The server process's own VmRSS peak during the save. */
  rssPeakBytes: number;
  /** The server process's RssAnon and RssFile at the Pss peak, less their values before BGSAVE. */
  anonGrowthBytes: number;
  fileGrowthBytes: number;
  /** What the server itself says was copied on write (INFO persistence rdb_last_cow_size). */
  reportedCowBytes: number;
  /** Distinct keys whose SET was sent while the save ran. */
  keysWrittenDuringSave: number;
  /** One point per 100 ms from two seconds before BGSAVE on: [ms since BGSAVE, SET/s, p99 ms]. */
  series: [number, number, number][];
  sampleCount: number;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function keyOf(index: number): Buffer {
  return Buffer.from(`key:${index.toString().padStart(10, '0')}`);
}

function valuePool(): Buffer[] {
  const random = new Random(0x9e3779b9);
  return Array.from({ length: VALUE_POOL }, () => {
    const value = Buffer.allocUnsafe(VALUE_BYTES);
    random.fill(value);
    return value;
  });
}

function phaseStats(histogram: LatencyHistogram, seconds: number): PhaseStats {
  const ms = (p: number) => histogram.percentileNs(p) / 1e6;
  return {
    requests: histogram.count,
    seconds,
    opsPerSecond: seconds > 0 ? histogram.count / seconds : 0,
    p50ms: ms(50),
    p99ms: ms(99),
    p999ms: ms(99.9),
    maxms: histogram.maxNs / 1e6,
  };
}

/** MSET every key once, FILL_BATCH keys a command, several commands in flight on each connection. */
async function fill(port: number, keys: number, values: Buffer[]): Promise<number> {
  const started = nowMs();
  let next = 0;
  const worker = async () => {
    const client = await RespClient.connect(port);
    const inFlight = new Set<Promise<unknown>>();
    try {
      while (next < keys) {
        const args: Buffer[] = [Buffer.from('MSET')];
        for (const end = Math.min(keys, next + FILL_BATCH); next < end; next++) args.push(keyOf(next), values[next % VALUE_POOL] as Buffer);
        const request = client.sendRaw(encodeCommand(args)).then((reply) => {
          if (reply !== 'OK') throw new Error(`MSET answered ${String(reply)}`);
        });
        inFlight.add(request);
        void request.finally(() => inFlight.delete(request)).catch(() => {});
        if (inFlight.size >= FILL_IN_FLIGHT) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    } finally {
      client.close();
    }
  };
  await Promise.all(Array.from({ length: FILL_CONNECTIONS }, worker));
  const client = await RespClient.connect(port);
  try {
    const size = await client.send('DBSIZE');
    if (size !== keys) throw new Error(`after the fill DBSIZE is ${String(size)}, not ${keys}`);
  } finally {
    client.close();
  }
  return (nowMs() - started) / 1000;
}

/** User + system CPU seconds process `pid` has used (/proc/PID/stat utime, stime). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Wait until the server is idle after the fill, so the load starts on a quiet server; seconds waited. */
async function settle(pid: number): Promise<number> {
  const started = nowMs();
  for (;;) {
    const before = cpuSeconds(pid);
    await sleep(SETTLE_WINDOW_MS);
    if (cpuSeconds(pid) - before < (SETTLE_CPU_SHARE * SETTLE_WINDOW_MS) / 1000) break;
    if (nowMs() - started > SETTLE_LIMIT_MS) throw new Error(`the server was still busy ${SETTLE_LIMIT_MS / 1000} s after the fill`);
  }
  return (nowMs() - started) / 1000;
}

export async function runSnapshotExperiment(
  server: RunningServer,
  dataBytes: number,
  windowMs: number,
  log: (line: string) => void,
): Promise<SnapshotOutcome> {
  const keys = Math.ceil(dataBytes / VALUE_BYTES);
  const values = valuePool();
  const fillSeconds = await fill(server.port, keys, values);
  const settleSeconds = await settle(server.pid);
  log(
    `  ${server.label}: filled ${keys} keys (${(dataBytes / 2 ** 20).toFixed(0)} MiB of values) in ${fillSeconds.toFixed(1)} s, idle ${settleSeconds.toFixed(1)} s later`,
  );

  const phases = { before: new LatencyHistogram(), during: new LatencyHistogram(), after: new LatencyHistogram() };
  const slots: LatencyHistogram[] = [];
  const writtenDuringSave = new Uint8Array(keys);
  let phase: 'warmup' | 'before' | 'during' | 'after' = 'warmup';
  let stop = false;

  const sampler = new MemorySampler(server.pid);
  const control = await RespClient.connect(server.port);
  const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => RespClient.connect(server.port)));
  const started = nowMs();
  const loops = clients.map(async (client, index) => {
    const random = new Random((0x2545f491 * (index + 1)) >>> 0);
    let version = index;
    while (!stop) {
      const key = random.below(keys);
      if (phase === 'during') writtenDuringSave[key] = 1;
      const request = encodeCommand(['SET', keyOf(key), values[version++ % VALUE_POOL] as Buffer]);
      const sent = process.hrtime.bigint();
      const reply = await client.sendRaw(request);
      const done = process.hrtime.bigint();
      if (reply !== 'OK') throw new Error(`SET answered ${String(reply)}`);
      const ns = Number(done - sent);
      const slot = Math.floor((Number(done) / 1e6 - started) / SLOT_MS);
      let slotHistogram = slots[slot];
      if (slotHistogram === undefined) {
        slotHistogram = new LatencyHistogram();
        slots[slot] = slotHistogram;
      }
      slotHistogram.record(ns);
      if (phase !== 'warmup') phases[phase].record(ns);
    }
  });
  let failed: unknown = null;
  const failure = Promise.all(loops).catch((error) => {
    failed = error;
    stop = true;
  });

  let bgsaveAt = 0;
  let saveEndAt = 0;
  let beforeFrom = 0;
  let persistence = new Map<string, string>();
  let samples: MemorySample[] = [];
  try {
    await sleep(WARMUP_MS);
    beforeFrom = nowMs();
    phase = 'before';
    await sleep(Math.max(0, started + BGSAVE_AT_MS - nowMs()));
    if (failed) throw failed;
    bgsaveAt = nowMs();
    phase = 'during';
    const answer = await control.send('BGSAVE');
    if (typeof answer !== 'string' || !/^Background saving started/.test(answer)) throw new Error(`BGSAVE answered ${String(answer)}`);
    for (;;) {
      persistence = infoFields(await control.send('INFO', 'persistence'));
      if (persistence.get('rdb_bgsave_in_progress') === '0') break;
      if (nowMs() - bgsaveAt > SAVE_LIMIT_MS) throw new Error(`the save ran longer than ${SAVE_LIMIT_MS / 1000} s`);
      if (failed) throw failed;
      await sleep(POLL_MS);
    }
    saveEndAt = nowMs();
    phase = 'after';
    if (persistence.get('rdb_last_bgsave_status') !== 'ok')
      throw new Error(`the save failed (rdb_last_bgsave_status ${persistence.get('rdb_last_bgsave_status')})`);
    await sleep(Math.max(AFTER_SAVE_MS, started + windowMs - nowMs()));
  } finally {
    stop = true;
    await failure;
    for (const client of clients) client.close();
    control.close();
    samples = await sampler.stop();
  }
  if (failed) throw failed;
  const endedAt = nowMs();

  const before = samples.filter((s) => s.atMs < bgsaveAt).at(-1) ?? (samples[0] as MemorySample);
  const inSave = samples.filter((s) => s.atMs >= bgsaveAt && s.atMs <= saveEndAt + POLL_MS);
  const peak = inSave.reduce((a, s) => (s.pssBytes > a.pssBytes ? s : a), before);
  const rssPeak = inSave.reduce((max, s) => Math.max(max, s.rssBytes), before.rssBytes);
  let keysWrittenDuringSave = 0;
  for (let i = 0; i < keys; i++) keysWrittenDuringSave += writtenDuringSave[i] as number;

  const series: [number, number, number][] = [];
  const firstSlot = Math.max(0, Math.floor((bgsaveAt - 2000 - started) / SLOT_MS));
  const lastSlot = Math.floor((endedAt - started) / SLOT_MS) - 1;
  for (let slot = firstSlot; slot <= lastSlot; slot++) {
    const histogram = slots[slot];
    series.push([
      Math.round(started + slot * SLOT_MS - bgsaveAt),
      histogram ? histogram.count * (1000 / SLOT_MS) : 0,
      histogram ? Math.round((histogram.percentileNs(99) / 1e6) * 100) / 100 : 0,
    ]);
  }
  const dumpFile = path.join(server.dir, 'dump.rdb');
  return {
    label: server.label,
    keys,
    dataBytes,
    fillSeconds,
    settleSeconds,
    before: phaseStats(phases.before, (bgsaveAt - beforeFrom) / 1000),
    during: phaseStats(phases.during, (saveEndAt - bgsaveAt) / 1000),
    after: phaseStats(phases.after, (endedAt - saveEndAt) / 1000),
    saveSeconds: (saveEndAt - bgsaveAt) / 1000,
    dumpBytes: fs.existsSync(dumpFile) ? fs.statSync(dumpFile).size : 0,
    memoryBeforeBytes: before.pssBytes,
    memoryPeakBytes: peak.pssBytes,
    extraBytes: Math.max(0, peak.pssBytes - before.pssBytes),
    rssPeakBytes: rssPeak,
    anonGrowthBytes: peak.rssAnonBytes - before.rssAnonBytes,
    fileGrowthBytes: peak.rssFileBytes - before.rssFileBytes,
    reportedCowBytes: Number(persistence.get('rdb_last_cow_size') ?? 0),
    keysWrittenDuringSave,
    series,
    sampleCount: samples.length,
  };
}

/**
 * The median of several rounds, field by field (each latency, rate and size on its own: the
 * result need not be one round's). Label, keys and time series are the first round's.
 */
export function medianOutcome(rounds: SnapshotOutcome[]): SnapshotOutcome {
  const first = rounds[0];
  if (first === undefined) throw new Error('medianOutcome of no rounds');
  const of = (pick: (o: SnapshotOutcome) => number) => median(rounds.map(pick));
  const phase = (pick: (o: SnapshotOutcome) => PhaseStats): PhaseStats => ({
    requests: of((o) => pick(o).requests),
    seconds: of((o) => pick(o).seconds),
    opsPerSecond: of((o) => pick(o).opsPerSecond),
    p50ms: of((o) => pick(o).p50ms),
    p99ms: of((o) => pick(o).p99ms),
    p999ms: of((o) => pick(o).p999ms),
    maxms: of((o) => pick(o).maxms),
  });
  return {
    ...first,
    fillSeconds: of((o) => o.fillSeconds),
    settleSeconds: of((o) => o.settleSeconds),
    before: phase((o) => o.before),
    during: phase((o) => o.during),
    after: phase((o) => o.after),
    saveSeconds: of((o) => o.saveSeconds),
    dumpBytes: of((o) => o.dumpBytes),
    memoryBeforeBytes: of((o) => o.memoryBeforeBytes),
    memoryPeakBytes: of((o) => o.memoryPeakBytes),
    extraBytes: of((o) => o.extraBytes),
    rssPeakBytes: of((o) => o.rssPeakBytes),
    anonGrowthBytes: of((o) => o.anonGrowthBytes),
    fileGrowthBytes: of((o) => o.fileGrowthBytes),
    reportedCowBytes: of((o) => o.reportedCowBytes),
    keysWrittenDuringSave: of((o) => o.keysWrittenDuringSave),
    sampleCount: of((o) => o.sampleCount),
  };
}
