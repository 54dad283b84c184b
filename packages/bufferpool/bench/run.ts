// pnpm bench: @dbos/bufferpool against what a database would otherwise stand on, in one run, every
// system reading the same page file under the same memory budget.
//
// The page file: 4x the pool (quick: pool 256 MiB, file 1 GiB; full: pool 1 GiB, file 4 GiB, shrunk
// with a note when the disk is short), written once through the dbos pool (allocate, fill, flush),
// so every data page carries dbos's header (checksum, its own id) and every system reads the same
// bytes; every fixed page's id is checked by the driver.
//
// Systems (bench/*.c, one executable; each system in its own child process and memory cgroup with
// limit = pool + a fixed allowance for the process, the page cache counting; caches dropped between
// systems):
//   dbos      fix_shared + unfix_shared one at a time; fix_many + unfix_many in batches of 32;
//             O_DIRECT reads through the shared gateway (io_uring), read-only pool
//   hashpool  the classic pool: hash of page id -> frame, striped latches, clock, pread O_DIRECT per
//             miss; a batch is 32 fixes in a row (there is nothing else a synchronous pool can do)
//   mmap      the file MAP_SHARED, MADV_RANDOM, a fix is a touch (LMDB); "mmap + WILLNEED" also
//             asks for a batch's 32 pages with madvise(MADV_WILLNEED) before touching them
//   device    fio-style random 4 KiB O_DIRECT reads at queue depth 1 and 32 (raw io_uring), no pool
// Workloads: random page reads, uniform and zipf (theta 0.9, ranks scattered over the file), 1 and
// 2 threads, one fix at a time and batches of 32; in memory (keys over 3/4 of the pool's pages,
// spread over the file) and out of memory (keys over the whole file, 4x the pool). Key sequences
// come from fixed seeds, the same in every process. Untimed fill first (the in-memory working set;
// a random pool's worth of pages out of memory), then per workload a warm-up and a timed window.
// Latency: per fix (every 8th fix sampled) or per batch / 32 (every batch).
//
// Expected (back of the envelope, docs/platform-facts.md and the issue's measurements): a dbos hit
// is a state-word CAS to fix and another to unfix, ~10-20 ns a pair single-threaded (target <= 50);
// the hash pool's hit is a latch, a hash probe and a pin (~15-30 ns), but random hits over 192 MiB
// of pages miss the TLB and caches either way (~100-300 ns), so in memory the ratio is set by the
// hash probe's extra cache misses: ~1.3-2x. Out of memory, one synchronous read per miss bounds
// the hash pool and mmap (and dbos one at a time) at the device's QD1 rate (~9-19 k/s here, 52-100
// us each) per thread; dbos's batches put ~24 misses (75 % of 32 uniform) in flight per thread, so
// they approach the device's QD32 rate (~45-120 k/s): 3-6x mmap, >= 80 % of the device with two
// threads, somewhat less with one (each batch waits for its slowest read). mmap + WILLNEED starts
// a batch's reads asynchronously too and should land between.
//
// Knobs: DBOS_BENCH_PROFILE=full (bigger pool and file, longer windows); DBOS_BENCH_DIR (where the
// page file goes, default the OS temp dir); DBOS_BENCH_KEEP_FILE=1 (keep the page file and reuse
// it next time when it matches); DBOS_BENCH_RESULTS_DIR (results elsewhere, for trial runs).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCase, benchProfile, resultHeader, writeResult, type BenchCase } from '@dbos/benchmarks/report';
import { createMemoryCgroup, dropPageCache, type MemoryCgroup } from '@dbos/benchmarks/cgroup';
import { type RunProgress, runProgress } from '@dbos/benchmarks/progress';

const require = createRequire(import.meta.url);
const nativeBuild = require('@dbos/native-build') as {
  sources(dir: string, runtime: string): string[];
  includeDirs(dir: string): string[];
};

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const profile = benchProfile();
const MiB = 2 ** 20;
const PAGE_SIZE = 4096;
const POOL_BYTES = profile === 'full' ? 1024 * MiB : 256 * MiB;
const FILE_FACTOR = 4;
/** The process's own memory on top of the pool: code, key sequences (8 MiB each), page tables, metadata. */
const ALLOWANCE_BYTES = 64 * MiB;
const WARM_SECONDS = profile === 'full' ? 3 : 1;
const RUN_SECONDS = profile === 'full' ? 8 : 2.5;
const DEVICE_SECONDS = profile === 'full' ? 6 : 2.5;
const HIT_PAIRS = profile === 'full' ? 20_000_000 : 5_000_000;
const BATCH = 32;
const FILL_THREADS = 2;

const started = Date.now();
const deviceHistory: Map<number, Line>[] = [];
const startLoad = os.loadavg()[0]!;
const notes: string[] = [];
const stamp = (line: string) => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`;
// A bar on a terminal (its message the latest line), plain log lines elsewhere; main() sizes it.
let run: RunProgress | null = null;
const log = (line: string) => (run ? run.log(stamp(line)) : console.log(stamp(line)));
/** A measurement finished: one step of the bar. */
const measured = (line: string) => (run ? run.advance(stamp(line)) : console.log(stamp(line)));

// ---- Build ---------------------------------------------------------------------------------------

function buildProgram(): string {
  const exe = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-bufferpool-bench-')), 'bpbench');
  const benchSources = fs
    .readdirSync(path.join(packageDir, 'bench'))
    .filter((name) => name.endsWith('.c'))
    .map((name) => path.join(packageDir, 'bench', name));
  const args = ['-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Wno-unused-parameter', '-pthread']
    .concat(nativeBuild.includeDirs(packageDir).map((dir) => `-I${dir}`))
    .concat(nativeBuild.sources(packageDir, 'host'), benchSources, ['-o', exe, '-lpthread', '-lm']);
  const result = spawnSync(process.env.CC || 'cc', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`compiling the benchmark program failed:\n${result.stderr}`);
  return exe;
}

// ---- Memory cgroups and the page cache: @dbos/benchmarks/cgroup -------------------------------

/** Why the last system ran without a cgroup, for the notes; null while every system had one. */
let cgroupMissing: string | null = null;
/** Whether the page cache could be dropped before each system (null: not tried yet). */
let dropCachesWorks: boolean | null = null;
function dropCaches(): void {
  dropCachesWorks = dropPageCache();
}

// ---- Running the program -------------------------------------------------------------------------

interface Line {
  kind: string;
  [key: string]: unknown;
}
interface WorkLine extends Line {
  kind: 'work';
  label: string;
  distribution: 'uniform' | 'zipf';
  threads: number;
  batch: number;
  pagesPerSecond: number;
  p99us: number;
  p50us: number;
  reads: number;
  hits: number;
  seconds: number;
  vmHwmBytes: number;
  cgroupPeakBytes: number;
  badPages: number;
}

/** Run the program, in `cgroup` when given; resolves with its JSON lines (echoed as they come). */
function runProgram(exe: string, args: string[], cgroup: MemoryCgroup | null, echo: boolean): Promise<Line[]> {
  const command = cgroup ? cgroup.spawn(exe, args) : spawn(exe, args);
  return new Promise((resolve, reject) => {
    const lines: Line[] = [];
    let pending = '';
    let stderr = '';
    command.stdout.setEncoding('utf8');
    command.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const text = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        if (!text.startsWith('{')) continue;
        const line = JSON.parse(text) as Line;
        lines.push(line);
        if (echo) (line.kind === 'work' ? measured : log)(describeLine(line));
      }
    });
    command.stderr.setEncoding('utf8');
    command.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      process.stderr.write(chunk);
    });
    command.on('error', reject);
    command.on('close', (code, signal) => {
      if (code === 0) resolve(lines);
      else reject(new Error(`bpbench ${args.slice(0, 2).join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-2000)}`));
    });
  });
}

function describeLine(line: Line): string {
  if (line.kind === 'work') {
    const w = line as WorkLine;
    return `  ${w.label.padEnd(26)} ${(w.pagesPerSecond / 1e3).toFixed(1).padStart(9)} k pages/s  p99 ${w.p99us.toFixed(1).padStart(8)} us  reads ${w.reads}  hwm ${(w.vmHwmBytes / MiB).toFixed(0)} MiB  cgroup ${(w.cgroupPeakBytes / MiB).toFixed(0)} MiB`;
  }
  if (line.kind === 'fill') return `  fill ${line.pages} pages in ${line.seconds} s`;
  if (line.kind === 'open') return `  ${line.describe}`;
  return `  ${JSON.stringify(line)}`;
}

// ---- The page file -------------------------------------------------------------------------------

interface PageFile {
  path: string;
  dataPages: number;
  created: boolean;
}

/** Data pages of an existing dbos page file with this page size, or null. */
function existingDataPages(file: string): number | null {
  if (!fs.existsSync(file)) return null;
  const header = Buffer.alloc(48);
  const fd = fs.openSync(file, 'r');
  const got = fs.readSync(fd, header, 0, 48, 0);
  fs.closeSync(fd);
  // struct dbos_bp_file_header: magic "dbosBPf1", format version, page size, page count (header page included).
  if (got !== 48 || header.toString('latin1', 0, 8) !== 'dbosBPf1' || header.readUInt32LE(12) !== PAGE_SIZE) return null;
  return Number(header.readBigUInt64LE(16)) - 1;
}

async function pageFile(exe: string): Promise<PageFile> {
  const dir = process.env.DBOS_BENCH_DIR ?? os.tmpdir();
  let bytes = POOL_BYTES * FILE_FACTOR;
  const stats = fs.statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  const reserve = 2 * 2 ** 30; // leave others room to work
  while (bytes + reserve > free && bytes > 2 * POOL_BYTES) bytes /= 2;
  if (bytes < POOL_BYTES * FILE_FACTOR)
    notes.push(
      `The disk under ${dir} had ${(free / 2 ** 30).toFixed(1)} GiB free: the page file was shrunk to ${bytes / MiB} MiB (${bytes / POOL_BYTES}x the pool instead of ${FILE_FACTOR}x).`,
    );
  if (bytes + reserve > free) throw new Error(`not enough disk under ${dir} for a ${bytes / MiB} MiB page file`);
  const dataPages = bytes / PAGE_SIZE - 1;
  const file = path.join(dir, `dbos-bufferpool-bench-${profile}.db`);
  const keep = process.env.DBOS_BENCH_KEEP_FILE === '1';
  if (keep && existingDataPages(file) === dataPages) {
    log(`reusing ${file} (${dataPages} data pages)`);
    return { path: file, dataPages, created: false };
  }
  log(`writing ${file}: ${dataPages} data pages through the dbos pool`);
  const [prepared] = await runProgram(exe, ['prepare', file, String(PAGE_SIZE), String(dataPages)], null, false);
  if (!prepared || prepared.pageCount !== dataPages) throw new Error(`prepare wrote ${JSON.stringify(prepared)}`);
  log(`  written in ${prepared.seconds} s`);
  notes.push(
    `Page file: ${(bytes / MiB).toFixed(0)} MiB (${dataPages} data pages of ${PAGE_SIZE} B + the header page), written through dbos_bp_allocate + dbos_bp_flush in ${prepared.seconds} s.`,
  );
  return { path: file, dataPages, created: !keep };
}

// ---- The run -------------------------------------------------------------------------------------

interface SystemRun {
  name: string;
  work: WorkLine[];
  describe: string;
  cgroupLimitBytes: number | null;
  cgroupPeakBytes: number | null;
  cgroupFailcnt: number | null;
}

function workSteps(keys: { memory: number; file: number }, poolPages: number, batches: number[], only?: 'out-of-memory'): string[] {
  const steps: string[] = [];
  const matrix = (phase: string, keyCount: number, batchList: number[]) => {
    for (const distribution of ['uniform', 'zipf'])
      for (const threads of [1, 2])
        for (const batch of batchList)
          steps.push(
            `work:${phase}-${distribution}-${threads}t-b${batch}:${distribution}:${keyCount}:${threads}:${batch}:${WARM_SECONDS}:${RUN_SECONDS}`,
          );
  };
  if (only !== 'out-of-memory') {
    steps.push(`fill:${keys.memory}:${keys.memory}:${FILL_THREADS}:${BATCH}`);
    // In memory every fix is a hit: batches only matter for dbos's batch path, measured in the full profile.
    matrix('mem', keys.memory, profile === 'full' ? [1, BATCH] : [1]);
  }
  steps.push(`fill:${keys.file}:${Math.min(poolPages, keys.file)}:${FILL_THREADS}:${BATCH}`);
  matrix('oom', keys.file, batches);
  return steps;
}

async function runSystem(exe: string, file: PageFile, name: string, variant: string, steps: string[]): Promise<SystemRun> {
  dropCaches();
  const label = variant ? `${name}-${variant}` : name;
  const made = createMemoryCgroup(label, POOL_BYTES + ALLOWANCE_BYTES);
  if ('none' in made) cgroupMissing = made.none;
  const cgroup = 'none' in made ? null : made;
  log(`${label}: ${cgroup ? `cgroup v${cgroup.version} ${cgroup.dir}, limit ${(cgroup.limitBytes / MiB).toFixed(0)} MiB` : 'no cgroup'}`);
  try {
    const lines = await runProgram(
      exe,
      ['run', name, variant || '-', file.path, String(PAGE_SIZE), String(POOL_BYTES), cgroup?.dir ?? '-', ...steps],
      cgroup,
      true,
    );
    const work = lines.filter((line): line is WorkLine => line.kind === 'work');
    for (const w of work) if (w.badPages) throw new Error(`${label} ${w.label}: ${w.badPages} pages carried the wrong id`);
    return {
      name: label,
      work,
      describe: String(lines.find((line) => line.kind === 'open')?.describe ?? ''),
      cgroupLimitBytes: cgroup?.limitBytes ?? null,
      cgroupPeakBytes: cgroup ? cgroup.peakBytes() : null,
      cgroupFailcnt: cgroup ? cgroup.limitHits() : null,
    };
  } finally {
    cgroup?.remove();
  }
}

function find(run: SystemRun, label: string): WorkLine {
  const line = run.work.find((w) => w.label === label);
  if (!line) throw new Error(`${run.name}: no result for ${label}`);
  return line;
}

const describeWorkload = (w: WorkLine) =>
  `${w.distribution === 'zipf' ? 'zipf 0.9' : 'uniform'}, ${w.threads} thread${w.threads > 1 ? 's' : ''}, ${w.batch === 1 ? 'one fix at a time' : `batches of ${w.batch}`}`;

/** Random O_DIRECT reads at QD1 and QD32 with nothing cached. */
async function measureDevice(exe: string, file: PageFile): Promise<Map<number, Line>> {
  dropCaches();
  const device = new Map<number, Line>();
  for (const depth of [1, BATCH]) {
    const [line] = await runProgram(
      exe,
      ['device', file.path, String(PAGE_SIZE), String(depth), '0.5', String(DEVICE_SECONDS)],
      null,
      false,
    );
    if (!line) throw new Error('device: no result');
    device.set(depth, line);
    measured(`device QD${depth}: ${((line.readsPerSecond as number) / 1e3).toFixed(1)} k reads/s, p99 ${line.p99us} us`);
  }
  deviceHistory.push(device);
  return device;
}

async function main(): Promise<void> {
  log(`profile ${profile}: pool ${POOL_BYTES / MiB} MiB, file ${FILE_FACTOR}x, warm-up ${WARM_SECONDS} s, window ${RUN_SECONDS} s`);
  const exe = buildProgram();
  process.on('exit', () => fs.rmSync(path.dirname(exe), { recursive: true, force: true }));
  const file = await pageFile(exe);
  try {
    const poolPages = POOL_BYTES / PAGE_SIZE;
    const keys = { memory: Math.floor((poolPages * 3) / 4), file: file.dataPages };
    const cases: BenchCase[] = [];

    // The device before the pools and again after them: the machine's other load changes over a run,
    // so the reference is the better of the two (the stricter bar for dbos).
    const allSteps = workSteps(keys, poolPages, [1, BATCH]);
    const willneedSteps = workSteps(keys, poolPages, [BATCH], 'out-of-memory');
    const workCount = (steps: string[]) => steps.filter((step) => step.startsWith('work:')).length;
    // Steps: the work of four systems, the device measured twice at two depths, two hit loops.
    run = runProgress(`bufferpool bench (${profile})`, 3 * workCount(allSteps) + workCount(willneedSteps) + 4 + 2);
    const deviceRuns = [await measureDevice(exe, file)];
    const hashpool = await runSystem(exe, file, 'hashpool', '', allSteps);
    const mmap = await runSystem(exe, file, 'mmap', '', allSteps);
    const willneed = await runSystem(exe, file, 'mmap', 'willneed', willneedSteps);
    const dbos = await runSystem(exe, file, 'dbos', '', allSteps);
    const systems = [dbos, hashpool, mmap, willneed];
    deviceRuns.push(await measureDevice(exe, file));
    const device = new Map<number, Line>(
      [1, BATCH].map((depth) => {
        const [first, last] = deviceRuns.map((run) => run.get(depth)!);
        return [depth, (first!.readsPerSecond as number) >= (last!.readsPerSecond as number) ? first! : last!];
      }),
    );

    // Hit path: one resident page, fix + unfix in a loop; both pools in one process, rounds alternating.
    const hit = new Map<string, number>();
    const hitLines = await runProgram(
      exe,
      ['hit', file.path, String(PAGE_SIZE), String(POOL_BYTES), String(HIT_PAIRS), 'dbos', 'hashpool'],
      null,
      false,
    );
    for (const line of hitLines) {
      hit.set(line.system as string, line.nsPerPair as number);
      measured(`hit ${line.system}: ${line.nsPerPair} ns per fix + unfix`);
    }
    if (!hit.has('dbos') || !hit.has('hashpool')) throw new Error('hit: no result');
    cases.push(
      benchCase({
        case: 'hit path: fix_shared + unfix_shared of one resident page (C, 1 thread, best of 7 rounds)',
        metric: 'time per fix + unfix',
        unit: 'ns',
        value: hit.get('dbos')!,
        baseline: { system: "the issue's bound", value: 50 },
        higherIs: 'worse',
        target: 1,
      }),
      benchCase({
        case: 'hit path: fix + unfix of one resident page, dbos vs the hash-table pool',
        metric: 'time per fix + unfix',
        unit: 'ns',
        value: hit.get('dbos')!,
        baseline: { system: 'hash-table pool (latch, probe, pin)', value: hit.get('hashpool')! },
        higherIs: 'worse',
        target: null,
      }),
    );

    const pagesCase = (ours: WorkLine, theirs: WorkLine, system: string, phase: string, target: number | null) =>
      benchCase({
        case: `${phase}: random page reads, ${describeWorkload(ours)}`,
        metric: 'throughput',
        unit: 'pages/s',
        value: ours.pagesPerSecond,
        baseline: { system, value: theirs.pagesPerSecond },
        higherIs: 'better',
        target,
      });

    // In memory: the working set (3/4 of the pool) fits; every fix is a hit after the fill.
    for (const distribution of ['uniform', 'zipf'])
      for (const threads of [1, 2]) {
        const label = `mem-${distribution}-${threads}t-b1`;
        cases.push(pagesCase(find(dbos, label), find(hashpool, label), 'hash-table pool', 'in memory', 1.5));
        cases.push(pagesCase(find(dbos, label), find(mmap, label), 'mmap', 'in memory', null));
      }

    // Out of memory: the file is 4x the pool.
    for (const distribution of ['uniform', 'zipf'])
      for (const threads of [1, 2]) {
        const one = `oom-${distribution}-${threads}t-b1`;
        const batch = `oom-${distribution}-${threads}t-b${BATCH}`;
        cases.push(pagesCase(find(dbos, one), find(mmap, one), 'mmap (MADV_RANDOM)', 'out of memory', 2));
        cases.push(pagesCase(find(dbos, batch), find(mmap, batch), 'mmap (MADV_RANDOM), 32 touches', 'out of memory', 2));
        cases.push(pagesCase(find(dbos, batch), find(willneed, batch), 'mmap + MADV_WILLNEED per batch', 'out of memory', null));
        cases.push(pagesCase(find(dbos, batch), find(hashpool, batch), 'hash-table pool, 32 fixes in a row', 'out of memory', null));
        cases.push(
          benchCase({
            case: `out of memory: p99 latency, ${describeWorkload(find(dbos, batch))} (per batch / ${BATCH})`,
            metric: 'latency p99',
            unit: 'µs',
            value: find(dbos, batch).p99us,
            baseline: { system: 'mmap (MADV_RANDOM)', value: find(mmap, batch).p99us },
            higherIs: 'worse',
            target: null,
          }),
        );
      }

    // The device: dbos's reads per second in uniform batches against the device's QD32 rate.
    const qd32 = device.get(BATCH)!.readsPerSecond as number;
    const qd1 = device.get(1)!.readsPerSecond as number;
    for (const threads of [1, 2]) {
      const w = find(dbos, `oom-uniform-${threads}t-b${BATCH}`);
      cases.push(
        benchCase({
          case: `out of memory, uniform, ${threads} thread${threads > 1 ? 's' : ''}, fix_many batches of ${BATCH}: page reads/s (misses) vs the device`,
          metric: 'device reads',
          unit: 'reads/s',
          value: w.reads / w.seconds,
          baseline: { system: `device, random 4 KiB O_DIRECT, io_uring QD${BATCH}`, value: qd32 },
          higherIs: 'better',
          target: 0.8,
        }),
      );
    }
    const single = find(dbos, 'oom-uniform-1t-b1');
    cases.push(
      benchCase({
        case: 'out of memory, uniform, 1 thread, one fix at a time: page reads/s vs the device at QD1',
        metric: 'device reads',
        unit: 'reads/s',
        value: single.reads / single.seconds,
        baseline: { system: 'device, random 4 KiB O_DIRECT, io_uring QD1', value: qd1 },
        higherIs: 'better',
        target: null,
      }),
    );

    // Peak memory, out of memory, 2 threads, batches: what each system held at most.
    const peakLabel = `oom-uniform-2t-b${BATCH}`;
    for (const peer of [hashpool, mmap])
      cases.push(
        benchCase({
          case: `peak RSS (VmHWM in the window), out of memory, uniform, 2 threads, batches of ${BATCH}`,
          metric: 'peak RSS',
          unit: 'MiB',
          value: find(dbos, peakLabel).vmHwmBytes / MiB,
          baseline: { system: peer.name, value: find(peer, peakLabel).vmHwmBytes / MiB },
          higherIs: 'worse',
          target: null,
        }),
      );

    notes.push(...describeRun(systems, device, file));
    run.stop(stamp('measured; writing the result'));
    run = null;
    const result = writeResult({
      ...resultHeader(new URL('../package.json', import.meta.url)),
      runtime: 'host',
      kvm: 'not-used',
      cases,
      notes,
    });
    for (const c of cases)
      console.log(
        `${c.met === null ? 'info  ' : c.met ? 'met   ' : 'MISSED'} ${c.ratio.toFixed(2).padStart(7)}x  ${c.case}: ${c.value} vs ${c.baseline.value} ${c.unit}`,
      );
    log(`wrote ${result}`);
  } finally {
    if (file.created) fs.rmSync(file.path, { force: true });
  }
}

function describeRun(systems: SystemRun[], device: Map<number, Line>, file: PageFile): string[] {
  const lines: string[] = [];
  const cgroupText = systems.every((s) => s.cgroupLimitBytes)
    ? `each system ran in its own memory cgroup (limit ${((POOL_BYTES + ALLOWANCE_BYTES) / MiB).toFixed(0)} MiB = pool ${POOL_BYTES / MiB} MiB + ${ALLOWANCE_BYTES / MiB} MiB for the process; page cache counts)`
    : `NO CGROUP for ${systems
        .filter((s) => !s.cgroupLimitBytes)
        .map((s) => s.name)
        .join(
          ', ',
        )}: ${cgroupMissing}; those ran without a memory limit (mmap's page cache then bounded only by the machine), and cgroup peaks are missing`;
  lines.push(
    `Profile ${profile}: pool ${POOL_BYTES / MiB} MiB, page file ${file.dataPages} data pages of ${PAGE_SIZE} B; ${cgroupText}; caches ${dropCachesWorks ? 'dropped (sync; echo 3 > drop_caches)' : 'NOT dropped (drop_caches not writable)'} before each system; warm-up ${WARM_SECONDS} s, then a ${RUN_SECONDS} s window per workload.`,
    `The machine has 2 cores shared with other activity (other builds and tests ran at the same time; load average ${startLoad.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end): numbers swing between runs; every number here is from this one run, the systems one after the other.`,
    'dbos checks every page it reads (the CRC32C of the page, computed as its mechanism line below says, and its page id) and refuses a bad one; the peers check only the page id of every page fixed, as the driver does for every system.',
    'Latency: one-at-a-time workloads time one fix + unfix (every 8th sampled); batch workloads time one batch (fix_many + unfix_many, or its equivalent) divided by 32 (every batch sampled). Percentiles come from a log-linear histogram (3 % buckets).',
    'Targets applied to every matching workload: in memory dbos >= 1.5x the hash-table pool (one fix at a time); out of memory dbos >= 2x mmap in both modes (one at a time, both sides are bounded by one synchronous read per thread: the device at QD1 or QD2); batches of 32 >= 80 % of the device at QD32 (dbos misses/s, uniform keys).',
    `Device (the physical limit, same file, random 4 KiB O_DIRECT reads over all data pages, io_uring, 1 thread): QD1 ${fmt(device.get(1)!.readsPerSecond as number)} reads/s (p99 ${device.get(1)!.p99us} µs), QD32 ${fmt(device.get(BATCH)!.readsPerSecond as number)} reads/s (p99 ${device.get(BATCH)!.p99us} µs), measured before and after the pools (${deviceHistory.map((run) => `QD1 ${fmt(run.get(1)!.readsPerSecond as number)}, QD32 ${fmt(run.get(BATCH)!.readsPerSecond as number)}`).join(' / ')} reads/s), the better kept. fio is not installed here; the in-bench reader is the reference.`,
  );
  for (const s of systems) {
    const within =
      s.cgroupLimitBytes && s.cgroupPeakBytes !== null
        ? `cgroup peak ${(s.cgroupPeakBytes / MiB).toFixed(0)} MiB of ${(s.cgroupLimitBytes / MiB).toFixed(0)} MiB, limit hit ${s.cgroupFailcnt ?? '?'} times (reclaim)`
        : 'no cgroup';
    lines.push(`${s.name}: ${s.describe}; ${within}.`);
  }
  const header = '| system | workload | pages/s | p50 µs | p99 µs | reads/s | hit % | peak RSS MiB | cgroup peak MiB |';
  const rows = [header, '|---|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const s of systems)
    for (const w of s.work) {
      const readsPerSecond = w.reads / w.seconds;
      const hitPercent = w.reads || w.hits ? ((100 * w.hits) / (w.hits + w.reads)).toFixed(1) : '—';
      rows.push(
        `| ${s.name} | ${w.label} | ${fmt(w.pagesPerSecond)} | ${w.p50us.toFixed(2)} | ${w.p99us.toFixed(2)} | ${fmt(readsPerSecond)} | ${s.name.startsWith('mmap') ? '—' : hitPercent} | ${(w.vmHwmBytes / MiB).toFixed(0)} | ${w.cgroupPeakBytes ? (w.cgroupPeakBytes / MiB).toFixed(0) : '—'} |`,
      );
    }
  lines.push(
    `All measurements (reads/s: pages read from the file; for mmap, major faults, which MADV_WILLNEED reads do not count):\n\n${rows.join('\n')}`,
  );
  lines.push(`Wall time ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  return lines;
}

function fmt(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1); // the exit handler of @dbos/benchmarks/cgroup removes the groups still there
});
