// pnpm bench:server (and pnpm bench kv): dbos-kv serve against redis-server 7 on this machine, in
// one run, each server started fresh in its own temporary directory (servers.ts).
//
// 1. redis-benchmark -t set,get -d 100 -c 50 -n N -P 1 and -P 16, like with like:
//      dbos-kv serve --appendfsync everysec   vs  redis-server --appendonly yes --appendfsync everysec
//      dbos-kv serve --appendfsync no         vs  redis-server --appendonly no  (both with --save '')
//    targets (issue 13): >= 1.0x Redis at -P 1, >= 0.8x at -P 16. Three rounds per line, the order
//    of the two servers alternating; each system's median round counts.
// 2. The snapshot experiment (snapshot-experiment.ts): D bytes of 1000-byte values, a steady SET
//    load from 10 connections (pipeline 1), BGSAVE two seconds in. dbos-kv serve (appendfsync
//    everysec, its default, buffer pool sized to hold the data as Redis holds it in RAM) against
//    redis-server --save '' --appendonly no (the fork-based BGSAVE the issue measured). Targets:
//    max latency during the save <= 1/10 of Redis's, p99.9 no worse, throughput during the save
//    >= Redis's, extra memory during the save <= the pages written meanwhile. Two rounds per
//    system, alternating; the cases take the field-by-field median (of 2: the mean).
//
// Profiles: quick (default) N = 50 k at -P 1 and 300 k at -P 16, D = 256 MiB; full
// (DBOS_BENCH_PROFILE=full) N = 500 k / 3 M, D = 1 GiB and 4 GiB. Knobs for development:
// DBOS_KV_SERVER_BENCH_PARTS (comma-separated: benchmark,snapshot), DBOS_KV_SERVER_BENCH_MIB
// (comma-separated data-set sizes in MiB), DBOS_BENCH_DIR (where the servers' directories go),
// DBOS_BENCH_RESULTS_DIR (results elsewhere), DBOS_KV_SERVER_BENCH_NODE_ARGS (node flags for
// dbos-kv serve, e.g. --cpu-prof). Writes benchmarks/results/kv-server.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type BenchCase,
  type BenchFigure,
  type BenchResult,
  benchCase,
  benchProfile,
  resultHeader,
  resultsDir,
} from '@dbos/benchmarks/report';
import { type BenchmarkRun, runRedisBenchmark } from '@dbos/benchmarks/adapters/redis-benchmark';
import { VALUE_BYTES, type SnapshotOutcome, medianOutcome, runSnapshotExperiment } from './snapshot-experiment.js';
import { type RunningServer, benchBase, missingPrerequisite, redisVersion, startDbos, startRedis } from './servers.js';

const profile = benchProfile();
const full = profile === 'full';
const MiB = 2 ** 20;
const REQUESTS = { 1: full ? 500_000 : 50_000, 16: full ? 3_000_000 : 300_000 } as const;
const PIPELINES = [1, 16] as const;
const TARGET = { 1: 1.0, 16: 0.8 } as const;
const SIZES_MIB = (process.env.DBOS_KV_SERVER_BENCH_MIB ?? (full ? '1024,4096' : '256')).split(',').map(Number);
const WINDOW_MS = full ? 12_000 : 8_000;
/** Each system's snapshot experiment runs this many times per data-set size; cases take the median (of 2: the mean). */
const SNAPSHOT_ROUNDS = 2;
const parts = new Set((process.env.DBOS_KV_SERVER_BENCH_PARTS ?? 'benchmark,snapshot').split(','));

const started = Date.now();
const startLoad = os.loadavg()[0] as number;
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits });
const mib = (bytes: number) => bytes / MiB;

async function withServer<T>(start: () => Promise<RunningServer>, body: (server: RunningServer) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

// ---- 1. redis-benchmark ------------------------------------------------------------------------

interface Pairing {
  durability: string;
  dbos: () => Promise<RunningServer>;
  redis: () => Promise<RunningServer>;
}

const pairings: Pairing[] = [
  { durability: 'appendfsync everysec', dbos: () => startDbos('everysec'), redis: () => startRedis('aof-everysec') },
  { durability: 'no fsync', dbos: () => startDbos('no'), redis: () => startRedis('none') },
];

interface BenchmarkPair {
  pairing: Pairing;
  pipeline: 1 | 16;
  /** Each system's median round per test (see medianRun), and every round. */
  dbos: BenchmarkRun & { label: string };
  redis: BenchmarkRun & { label: string };
  dbosRounds: BenchmarkRun[];
  redisRounds: BenchmarkRun[];
}

/**
 * Each redis-benchmark line runs this many rounds per system, the order alternating (Redis first in
 * odd rounds, ours first in even ones); the line keeps each system's median round per test. One
 * round each let a stall of the shared machine decide a line: a GET line that no write touches
 * came out 30 % apart between the two durability modes in one run.
 */
const BENCHMARK_ROUNDS = 3;

/** Per test (SET, GET), the row of the round with the median rate. */
function medianRun(runs: (BenchmarkRun & { label: string })[]): BenchmarkRun & { label: string } {
  const first = runs[0] as BenchmarkRun & { label: string };
  const rows = first.rows.map((row) => {
    const sameTest = runs.map((run) => run.rows.find((r) => r.test === row.test)).filter((r) => r !== undefined);
    sameTest.sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
    return sameTest[Math.floor(sameTest.length / 2)] ?? row;
  });
  return { ...first, rows };
}

async function redisBenchmarkLines(): Promise<BenchmarkPair[]> {
  const pairs: BenchmarkPair[] = [];
  const rate = (run: BenchmarkRun, test: string) => run.rows.find((r) => r.test === test)?.requestsPerSecond ?? 0;
  for (const pairing of pairings)
    for (const pipeline of PIPELINES) {
      const runOf = (start: () => Promise<RunningServer>) =>
        withServer(start, async (s) => ({ label: s.label, ...(await runRedisBenchmark(s.port, REQUESTS[pipeline], pipeline)) }));
      const redisRounds: (BenchmarkRun & { label: string })[] = [];
      const dbosRounds: (BenchmarkRun & { label: string })[] = [];
      for (let round = 0; round < BENCHMARK_ROUNDS; round++) {
        if (round % 2 === 0) {
          redisRounds.push(await runOf(pairing.redis));
          dbosRounds.push(await runOf(pairing.dbos));
        } else {
          dbosRounds.push(await runOf(pairing.dbos));
          redisRounds.push(await runOf(pairing.redis));
        }
      }
      const redis = medianRun(redisRounds);
      const dbos = medianRun(dbosRounds);
      const rounds = (runs: BenchmarkRun[], test: string) => runs.map((run) => fmt(rate(run, test))).join('/');
      log(
        `  -P ${pipeline}, ${pairing.durability}: SET ${fmt(rate(dbos, 'SET'))} vs ${fmt(rate(redis, 'SET'))}/s, GET ${fmt(rate(dbos, 'GET'))} vs ${fmt(rate(redis, 'GET'))}/s (dbos vs redis, medians of rounds: SET dbos ${rounds(dbosRounds, 'SET')}, redis ${rounds(redisRounds, 'SET')}; GET dbos ${rounds(dbosRounds, 'GET')}, redis ${rounds(redisRounds, 'GET')})`,
      );
      pairs.push({ pairing, pipeline, dbos, redis, dbosRounds, redisRounds });
    }
  return pairs;
}

function benchmarkCases(pairs: BenchmarkPair[]): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const { pairing, pipeline, dbos, redis } of pairs)
    for (const test of ['SET', 'GET']) {
      const ours = dbos.rows.find((r) => r.test === test);
      const theirs = redis.rows.find((r) => r.test === test);
      if (!ours || !theirs) continue;
      cases.push(
        benchCase({
          case: `redis-benchmark ${test}, 100 B values, 50 clients, -P ${pipeline}, ${pairing.durability}`,
          metric: 'throughput',
          unit: 'requests/s',
          value: ours.requestsPerSecond,
          baseline: { system: redis.label, value: theirs.requestsPerSecond },
          higherIs: 'better',
          target: TARGET[pipeline],
        }),
      );
    }
  return cases;
}

// ---- 2. The snapshot experiment ----------------------------------------------------------------

interface SnapshotPair {
  sizeMiB: number;
  /** Field-by-field medians of the rounds. */
  dbos: SnapshotOutcome;
  redis: SnapshotOutcome;
  dbosRounds: SnapshotOutcome[];
  redisRounds: SnapshotOutcome[];
}

/** The buffer pool for D bytes of values: twice the data (keys, page headers, partly full leaves). */
const cacheFor = (dataBytes: number) => Math.max(256 * MiB, 2 * dataBytes);

async function snapshotLines(skipped: string[]): Promise<SnapshotPair[]> {
  const pairs: SnapshotPair[] = [];
  for (const sizeMiB of SIZES_MIB) {
    const dataBytes = sizeMiB * MiB;
    // Redis needs the data plus its copies during the save; ours its buffer pool: one at a time.
    const needed = Math.max(cacheFor(dataBytes), 2.5 * dataBytes) + 512 * MiB;
    if (os.freemem() < needed) {
      skipped.push(`${sizeMiB} MiB skipped: ${fmt(mib(os.freemem()))} MiB free, ${fmt(mib(needed))} MiB needed`);
      log(`  ${skipped.at(-1)}`);
      continue;
    }
    const redisRounds: SnapshotOutcome[] = [];
    const dbosRounds: SnapshotOutcome[] = [];
    // Alternating, Redis first: drift of the shared machine falls on both.
    for (let round = 0; round < SNAPSHOT_ROUNDS; round++) {
      const redis = await withServer(
        () => startRedis('none'),
        (s) => runSnapshotExperiment(s, dataBytes, WINDOW_MS, log),
      );
      logOutcome(redis);
      redisRounds.push(redis);
      const dbos = await withServer(
        () => startDbos('everysec', cacheFor(dataBytes)),
        (s) => runSnapshotExperiment(s, dataBytes, WINDOW_MS, log),
      );
      logOutcome(dbos);
      dbosRounds.push(dbos);
    }
    pairs.push({ sizeMiB, dbos: medianOutcome(dbosRounds), redis: medianOutcome(redisRounds), dbosRounds, redisRounds });
  }
  return pairs;
}

function logOutcome(o: SnapshotOutcome): void {
  log(
    `  ${o.label}: save ${o.saveSeconds.toFixed(2)} s; during: ${fmt(o.during.opsPerSecond)} SET/s (before ${fmt(o.before.opsPerSecond)}), p50 ${o.during.p50ms.toFixed(2)} p99 ${o.during.p99ms.toFixed(2)} p99.9 ${o.during.p999ms.toFixed(2)} max ${o.during.maxms.toFixed(2)} ms; memory ${fmt(mib(o.memoryBeforeBytes))} -> peak ${fmt(mib(o.memoryPeakBytes))} MiB (+${fmt(mib(o.extraBytes), 1)}), reported COW ${fmt(mib(o.reportedCowBytes), 1)} MiB, ${fmt(o.keysWrittenDuringSave)} keys written during the save`,
  );
}

/** Memory differences below the sampler's noise (allocator and heap churn) count as this much. */
const MEMORY_FLOOR_MIB = 1;

function snapshotCases(pairs: SnapshotPair[]): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const { sizeMiB, dbos, redis } of pairs) {
    const size = sizeMiB >= 1024 ? `${sizeMiB / 1024} GiB` : `${sizeMiB} MiB`;
    const prefix = `snapshot, ${size} of 1000 B values, SET load 10 connections pipeline 1, BGSAVE at 2 s`;
    const peer = { system: `${redis.label} (fork)`, during: redis.during };
    const latency = (name: string, ours: number, theirs: number, target: number | null) =>
      benchCase({
        case: `${prefix}: ${name} during the save`,
        metric: `latency ${name}`,
        unit: 'ms',
        value: ours,
        baseline: { system: peer.system, value: theirs },
        higherIs: 'worse',
        target,
      });
    cases.push(
      latency('max', dbos.during.maxms, redis.during.maxms, 10),
      latency('p99.9', dbos.during.p999ms, redis.during.p999ms, 1),
      latency('p99', dbos.during.p99ms, redis.during.p99ms, null),
      latency('p50', dbos.during.p50ms, redis.during.p50ms, null),
      benchCase({
        case: `${prefix}: throughput during the save`,
        metric: 'throughput',
        unit: 'SET/s',
        value: dbos.during.opsPerSecond,
        baseline: { system: peer.system, value: redis.during.opsPerSecond },
        higherIs: 'better',
        target: 1,
      }),
      benchCase({
        case: `${prefix}: throughput before the save`,
        metric: 'throughput',
        unit: 'SET/s',
        value: dbos.before.opsPerSecond,
        baseline: { system: redis.label, value: redis.before.opsPerSecond },
        higherIs: 'better',
        target: null,
      }),
      benchCase({
        case: `${prefix}: save duration (BGSAVE to rdb_bgsave_in_progress:0)`,
        metric: 'duration',
        unit: 's',
        value: dbos.saveSeconds,
        baseline: { system: peer.system, value: redis.saveSeconds },
        higherIs: 'worse',
        target: null,
      }),
      benchCase({
        case: `${prefix}: peak memory during the save (Pss of the server and its children)`,
        metric: 'memory',
        unit: 'MiB',
        value: mib(dbos.memoryPeakBytes),
        baseline: { system: peer.system, value: mib(redis.memoryPeakBytes) },
        higherIs: 'worse',
        target: null,
      }),
      benchCase({
        case: `${prefix}: extra memory during the save`,
        metric: 'memory',
        unit: 'MiB',
        value: Math.max(MEMORY_FLOOR_MIB, mib(dbos.extraBytes)),
        baseline: { system: peer.system, value: Math.max(MEMORY_FLOOR_MIB, mib(redis.extraBytes)) },
        higherIs: 'worse',
        target: null,
      }),
    );
    // "Pages written meanwhile": what the store copied on write during the save, as it reports it
    // (INFO persistence rdb_last_cow_size: epoch pages copied x page size); where it reports nothing,
    // one 4 KiB page per distinct key written (each 1000-byte value sits on one leaf page).
    const written = dbos.reportedCowBytes > 0 ? dbos.reportedCowBytes : dbos.keysWrittenDuringSave * 4096;
    cases.push(
      benchCase({
        case: `${prefix}: extra memory during the save vs the pages written meanwhile`,
        metric: 'memory',
        unit: 'MiB',
        value: Math.max(MEMORY_FLOOR_MIB, mib(dbos.extraBytes)),
        baseline: {
          system:
            dbos.reportedCowBytes > 0
              ? "pages written during the save (the store's copy-on-write count x page size, INFO rdb_last_cow_size)"
              : 'pages written during the save (distinct keys written x 4 KiB)',
          value: Math.max(MEMORY_FLOOR_MIB, mib(written)),
        },
        higherIs: 'worse',
        target: 1,
      }),
    );
  }
  return cases;
}

/**
 * The first round of each system as time series around the BGSAVE (per 100 ms: SET/s and p99),
 * one figure each, with the BGSAVE and each save's end marked.
 */
function snapshotFigures(pairs: SnapshotPair[]): BenchFigure[] {
  const figures: BenchFigure[] = [];
  for (const { sizeMiB, dbosRounds, redisRounds } of pairs) {
    const rounds = [redisRounds[0], dbosRounds[0]].filter((o): o is SnapshotOutcome => o !== undefined);
    const marks = [
      { x: 0, label: 'BGSAVE' },
      ...rounds.map((o) => ({ x: Math.round(o.saveSeconds * 100) / 100, label: `${o.label.split(',')[0]}: save done` })),
    ];
    const line = (pick: (point: [number, number, number]) => number) =>
      rounds.map((o) => ({ name: o.label, points: o.series.map((point): [number, number] => [point[0] / 1000, pick(point)]) }));
    figures.push(
      {
        id: `save-${sizeMiB}mib-throughput`,
        title: `SET/s around a BGSAVE, ${sizeMiB} MiB, 10 clients (round 1, per 100 ms)`,
        kind: 'timeseries',
        x: { title: 'seconds since BGSAVE' },
        y: { title: 'SET/s' },
        series: line((point) => point[1]),
        marks,
      },
      {
        id: `save-${sizeMiB}mib-p99`,
        title: `p99 SET latency around a BGSAVE, ${sizeMiB} MiB (round 1, per 100 ms)`,
        kind: 'timeseries',
        x: { title: 'seconds since BGSAVE' },
        y: { title: 'p99 latency (ms)', scale: 'log' },
        // A slot with no completed request has no p99: left out rather than drawn as 0.
        series: line((point) => point[2]).map((series) => ({ ...series, points: series.points.filter(([, p99]) => p99 > 0) })),
        marks,
      },
    );
  }
  return figures;
}

function snapshotNotes(pairs: SnapshotPair[]): string[] {
  const notes: string[] = [];
  for (const { sizeMiB, dbosRounds, redisRounds } of pairs) {
    for (const [index, o] of [...redisRounds, ...dbosRounds].entries())
      notes.push(
        `Snapshot ${sizeMiB} MiB, ${o.label}, round ${(index % SNAPSHOT_ROUNDS) + 1} of ${SNAPSHOT_ROUNDS}: ${fmt(o.keys)} keys filled (MSET of 100, 2 connections) in ${o.fillSeconds.toFixed(1)} s, the server idle (under 10 % of a core for 0.5 s) ${o.settleSeconds.toFixed(1)} s later; before the save ${fmt(o.before.opsPerSecond)} SET/s (p50 ${o.before.p50ms.toFixed(2)}, p99 ${o.before.p99ms.toFixed(2)}, p99.9 ${o.before.p999ms.toFixed(2)}, max ${o.before.maxms.toFixed(2)} ms); during the save (${o.saveSeconds.toFixed(2)} s, ${fmt(o.during.requests)} requests) ${fmt(o.during.opsPerSecond)} SET/s, p50 ${o.during.p50ms.toFixed(2)}, p99 ${o.during.p99ms.toFixed(2)}, p99.9 ${o.during.p999ms.toFixed(2)}, max ${o.during.maxms.toFixed(2)} ms; after it ${fmt(o.after.opsPerSecond)} SET/s (max ${o.after.maxms.toFixed(2)} ms); memory (Pss, server + children) ${fmt(mib(o.memoryBeforeBytes))} MiB before, peak ${fmt(mib(o.memoryPeakBytes))} MiB (+${fmt(mib(o.extraBytes), 1)} MiB), VmRSS peak ${fmt(mib(o.rssPeakBytes))} MiB (at the Pss peak the server process's RssAnon had grown ${fmt(mib(o.anonGrowthBytes), 1)} MiB and RssFile ${fmt(mib(o.fileGrowthBytes), 1)} MiB), the server's own rdb_last_cow_size ${fmt(mib(o.reportedCowBytes), 1)} MiB; ${fmt(o.keysWrittenDuringSave)} distinct keys written during the save; dump.rdb ${fmt(mib(o.dumpBytes))} MiB; ${o.sampleCount} memory samples.`,
      );
  }
  return notes;
}

/** What the numbers say about the missed targets: computed from this run, except the profile (measured separately, as stated). */
function analysisNotes(benchmarkPairs: BenchmarkPair[], snapshotPairs: SnapshotPair[]): string[] {
  const notes: string[] = [];
  if (benchmarkPairs.length > 0)
    notes.push(
      "Why dbos-kv trails Redis most at -P 16: a CPU profile of dbos-kv serve (node --cpu-prof; measured on this machine on 2026-12-08, not in this run) under redis-benchmark -t set,get -d 100 -c 50 -n 1000000 -P 16 -r 100000 had 18 % of its samples in the store's native get (GET's read, and the read of the old entry each SET makes for the key count and expiry index), 14 % in socket writes (libuv's writeBuffer), 5 % in the native write of each event-loop turn's write group (the SETs of a turn go to the store as one batch and one log record), about 15 % spread over RESP parsing, Buffer slicing, dispatch and reply encoding, 2 % GC, and 21 % idle (redis-benchmark shares the 2 cores). Redis does the same work in C on one thread, a few hundred ns per command; closing the gap needs the request path (RESP parsing, GET and SET) in native code, not more tuning of the JavaScript one. At -P 1 every request is its own socket read and write, where Node's per-event cost adds to the system calls Redis also makes.",
    );
  for (const { sizeMiB, dbos, redis } of snapshotPairs)
    notes.push(
      `Reading the ${sizeMiB} MiB snapshot lines: with no save running, Redis's own max latency was already ${fmt(redis.before.maxms, 1)} ms (p99.9 ${fmt(redis.before.p999ms, 1)} ms) and ours ${fmt(dbos.before.maxms, 1)} ms: on 2 cores shared by the server, the load generator and other work, stalls of tens to hundreds of ms are the scheduler's, so max latency here measures the machine more than either save; the issue's 1/10-of-Redis target needs an idle machine with cores to spare (the issue's Redis figures come from one). Any save work competes with the clients for the same 2 cores: Redis went from ${fmt(redis.before.opsPerSecond)} to ${fmt(redis.during.opsPerSecond)} SET/s during its save (its fork child encodes on the other core), dbos-kv from ${fmt(dbos.before.opsPerSecond)} to ${fmt(dbos.during.opsPerSecond)} (its BGSAVE reads the snapshot on pool threads and encodes the RDB on the server's event loop in short slices between client turns; a CPU profile of the server over a separate 256 MiB round had the event loop idle in about 40 % of the samples taken while the save ran and the RDB encoder at a few %, so the drop is the save's work taking the shared cores rather than the loop being held). The save took ${dbos.saveSeconds.toFixed(1)} s here against Redis's ${redis.saveSeconds.toFixed(1)} s. Extra memory: Redis's Pss grew ${fmt(mib(redis.extraBytes), 1)} MiB, matching its own COW report (${fmt(mib(redis.reportedCowBytes), 1)} MiB), which checks the Pss method; ours grew ${fmt(mib(dbos.extraBytes), 1)} MiB (${fmt(mib(dbos.anonGrowthBytes), 1)} MiB of it anonymous memory of the server process) against ${fmt(mib(dbos.reportedCowBytes), 1)} MiB of pages the store copied on write.`,
    );
  for (const { sizeMiB, dbosRounds, redisRounds } of snapshotPairs) {
    const perRound = (rounds: SnapshotOutcome[]) =>
      rounds
        .map((o) => `${fmt(o.during.maxms, 1)} ms (longest stretch with no SET completing ${fmt(longestStall(o).seconds, 1)} s)`)
        .join(', ');
    const stalled = dbosRounds.filter((o) => longestStall(o).seconds >= 1);
    const atSaveEnd = stalled.filter((o) => longestStall(o).endsWithSave);
    notes.push(
      `Round to round (${sizeMiB} MiB), max latency during the save: dbos-kv ${perRound(dbosRounds)}; Redis ${perRound(redisRounds)}.${
        atSaveEnd.length > 0
          ? ` In ${atSaveEnd.length} dbos-kv round(s) no reply came for a second or more until the save ended (the time series shows the stretch ending within 0.3 s of the save's end). Such stalls were diagnosed on 2026-12-08 (a CPU profile of the server and a PING probe): closing the save's snapshot freed its page copies (1.5 GiB at 4 GiB) on the event loop for 2-5 s; the store's background thread frees them since, so a stall at the end of the save in this run has another cause, not yet diagnosed.`
          : stalled.length > 0
            ? ` In ${stalled.length} dbos-kv round(s) no reply came for a second or more during the save (not diagnosed in this run).`
            : ''
      }`,
    );
  }
  return notes;
}

/**
 * The longest run of 100 ms slots inside the save with no request completing (from the time
 * series), and whether it lasted until the save's end.
 */
function longestStall(o: SnapshotOutcome): { seconds: number; endsWithSave: boolean } {
  const saveEndMs = o.saveSeconds * 1000;
  let longest = 0;
  let longestEndMs = 0;
  let current = 0;
  for (const [atMs, rate] of o.series) {
    if (atMs < 0 || atMs > saveEndMs) continue;
    current = rate === 0 ? current + 1 : 0;
    if (current > longest) {
      longest = current;
      longestEndMs = atMs + 100;
    }
  }
  return { seconds: longest / 10, endsWithSave: longest > 0 && saveEndMs - longestEndMs <= 300 };
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const missing = missingPrerequisite();
  if (missing) {
    console.error(`kv server benchmark not run: ${missing}`);
    process.exitCode = 1;
    return;
  }
  const version = redisVersion();
  log(`profile ${profile}; redis-server ${version}; servers under ${benchBase}`);
  const benchmarkPairs = parts.has('benchmark') ? await redisBenchmarkLines() : [];
  const skipped: string[] = [];
  const snapshotPairs = parts.has('snapshot') ? await snapshotLines(skipped) : [];
  const cases = [...benchmarkCases(benchmarkPairs), ...snapshotCases(snapshotPairs)];
  if (cases.length === 0) throw new Error('nothing was measured');

  const notes = [
    `dbos-kv serve (this package's Redis-protocol server) against redis-server ${version} (Debian), one run, on this machine (${os.cpus().length} vCPUs, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB). Each server starts fresh in its own temporary directory under ${benchBase} (the same disk for both) on a free 127.0.0.1 port, and is stopped before the next starts. The client tools (redis-benchmark, and this Node process for the snapshot experiment) run on the same 2 cores as the server, so every number includes the client competing with the server for CPU; other work shared the machine too (load average ${startLoad.toFixed(1)} at the start, ${(os.loadavg()[0] as number).toFixed(1)} at the end).`,
    `redis-benchmark lines: ${benchmarkPairs[0] ? `\`${benchmarkPairs[0].dbos.command.replace(/-p \d+/, '-p PORT')}\` (and -P 16 with -n ${REQUESTS[16]})` : 'not run'}; without -r every SET and GET names the same key, as the issue's numbers do. Peers like with like: dbos-kv serve --appendfsync everysec vs redis-server --appendonly yes --appendfsync everysec; dbos-kv serve --appendfsync no (its WAL still written, not fsynced) vs redis-server --appendonly no; both Redis configs with --save ''. Each line runs three rounds, Redis first in the first and third, ours first in the second; each system's median round per test is the line (every round is in the log). p50/p99 of redis-benchmark: ${benchmarkPairs
      .map(
        (p) =>
          `-P ${p.pipeline} ${p.pairing.durability}: ${p.dbos.rows.map((r) => `dbos ${r.test} ${r.p50ms}/${r.p99ms} ms`).join(', ')}, ${p.redis.rows.map((r) => `redis ${r.test} ${r.p50ms}/${r.p99ms} ms`).join(', ')}`,
      )
      .join('; ')}.`,
    `Snapshot experiment: keys "key:%010d", ${VALUE_BYTES} B pseudo-random (incompressible) values, filled with MSET; once the server is idle again (work the fill left behind, such as checkpoints, is not charged to the load), 10 connections each with one SET in flight (uniform keys over the loaded set, this benchmark's own lean RESP client), BGSAVE on a separate connection 2 s in, INFO persistence polled every 25 ms until rdb_bgsave_in_progress:0 (the save's end; its duration includes Redis's fork). Each system runs ${SNAPSHOT_ROUNDS} rounds, alternating (Redis first); the cases are field-by-field medians of the rounds. Every request's latency goes into a log-linear histogram (1.6 % buckets, exact max) of the phase it completed in; "before" is 0.5-2 s; the window runs ${WINDOW_MS / 1000} s or until 1 s after the save. Memory: Pss from /proc/PID/smaps_rollup of the server and its child processes (Redis's fork child), every 50 ms on a worker thread; extra memory = peak during the save - last sample before BGSAVE (a difference under ${MEMORY_FLOOR_MIB} MiB is counted as ${MEMORY_FLOOR_MIB} MiB). Redis: --save '' --appendonly no, rdbcompression yes (default). dbos-kv: appendfsync everysec (its default), startServer with the store's buffer pool at 2x the data (serve-child.ts; the CLI's default pool is 256 MiB) so the data set is in memory as in Redis.`,
    ...snapshotNotes(snapshotPairs),
    ...analysisNotes(benchmarkPairs, snapshotPairs),
    ...skipped.map((line) => `Snapshot ${line}.`),
    `Wall time ${((Date.now() - started) / 1000).toFixed(0)} s (profile ${profile}).`,
  ];
  const result: BenchResult = {
    ...resultHeader(new URL('../../package.json', import.meta.url)),
    package: '@dbos/kv (Redis-protocol server)',
    runtime: 'host',
    kvm: 'not-used',
    cases,
    notes,
    figures: snapshotFigures(snapshotPairs),
  };
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, 'kv-server.json');
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  for (const c of cases)
    console.log(
      `${c.met === null ? 'info  ' : c.met ? 'met   ' : 'MISSED'} ${c.ratio.toFixed(2).padStart(7)}x  ${c.case}: ${c.value} vs ${c.baseline.system} ${c.baseline.value} ${c.unit}`,
    );
  log(`wrote ${file}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
