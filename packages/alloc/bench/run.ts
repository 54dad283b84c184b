// pnpm bench: @dbos/alloc against the allocators a user would otherwise use, in one run.
//
//  1. Native churn: random sizes 16 B .. 4 KiB, alloc or free per operation over 4096 slots
//     per thread, 1 and 2 threads; dbos_alloc/dbos_alloc_free vs malloc/free replaying the same
//     sequence (bench/churn.c, compiled here with -O2): glibc's, and jemalloc's and mimalloc's
//     where their development packages are installed (libjemalloc-dev, libmimalloc-dev). Each peer
//     is its own binary, linked so that its malloc replaces glibc's for the whole process, which
//     proves at start that malloc really is that allocator; a peer that does not build or does not
//     prove itself is reported as not run, never measured under its name.
//  2. JS churn: the same kind of sequence from JavaScript, 1024 live allocations, a write to
//     each; Allocator (the default views 'shared', and 'detach') vs Buffer.allocUnsafe + the GC.
//  3. Returning 1 GiB to the OS: dbos trim (THP and 4 KiB pages) vs glibc free of a 1 GiB malloc
//     (munmap) and a plain munmap; time and RSS before/after.
//
// Expected (back of the envelope): glibc's tcache serves <= 1 KiB, so ~3/4 of these requests take
// its locked bin path (~40-60 ns); a per-thread cache pop plus one atomic bit is ~10-20 ns, so 2x.
// jemalloc's and mimalloc's thread caches cover the whole range and pop a free list in ~5-15 ns
// without an atomic: about even with dbos, mimalloc likely ahead (0.5-1x).
// Buffer.allocUnsafe slices an 8 KiB pool (a new pool every ~4 requests here) and leaves garbage
// for the scavenger (~300-600 ns per op on this machine); a cached JS-side pop plus a typed-array
// view is ~100 ns: 3-5x.  A per-allocation external ArrayBuffer costs ~1-2 µs in V8, so 'detach'
// is expected to lose to Buffer.allocUnsafe.  Releasing 1 GiB: zapping 262 144 PTEs with 4 KiB
// pages costs ~60-160 ms (platform-facts: 0.22 µs/page), 512 huge-page PMDs ~3 ms.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { benchCase, benchProfile, resultHeader, writeResult, type BenchCase } from '@dbos/benchmarks/report';
import { median } from '@dbos/benchmarks/measure';
import { Random } from '@dbos/benchmarks/workload';
import { Allocator, type Allocation, type ViewMode } from '../src/index.js';

const require = createRequire(import.meta.url);
const nativeBuild = require('@dbos/native-build') as {
  sources(dir: string, runtime: string): string[];
  includeDirs(dir: string): string[];
};

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const profile = benchProfile();
const NATIVE_OPERATIONS = profile === 'full' ? 10_000_000 : 2_000_000;
const NATIVE_ROUNDS = profile === 'full' ? 7 : 5;
const JS_OPERATIONS = profile === 'full' ? 2_000_000 : 500_000;
const JS_ROUNDS = profile === 'full' ? 5 : 3;
const JS_WINDOW = 1024;
const RELEASE_BYTES = 2 ** 30;

interface ChurnLine {
  kind: 'churn';
  peer: string;
  peerVersion: string;
  threads: number;
  operations: number;
  dbosOpsPerSecond: number;
  peerOpsPerSecond: number;
  failures: number;
  residentMiB: number;
  hugepages: boolean;
}

interface ReleaseLine {
  kind: 'release';
  mechanism: string;
  ms: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
}

/** The malloc each churn binary is linked with: glibc's always, the others where their -dev package is. */
const PEERS = [
  { name: 'glibc', define: null, library: null, package: 'libc6-dev' },
  { name: 'jemalloc', define: 'CHURN_PEER_JEMALLOC', library: '-ljemalloc', package: 'libjemalloc-dev' },
  { name: 'mimalloc', define: 'CHURN_PEER_MIMALLOC', library: '-lmimalloc', package: 'libmimalloc-dev' },
] as const;
type Peer = (typeof PEERS)[number];

/** Compile bench/churn.c against `peer`'s malloc; the compiler's complaint when that is not possible. */
function buildChurn(peer: Peer): { exe: string } | { missing: string } {
  const exe = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-alloc-bench-')), `churn-${peer.name}`);
  const args = ['-std=gnu11', '-O2', '-pthread']
    .concat(nativeBuild.includeDirs(packageDir).map((dir) => `-I${dir}`))
    .concat(peer.define ? [`-D${peer.define}`] : [])
    .concat(nativeBuild.sources(packageDir, 'host'), [path.join(packageDir, 'bench', 'churn.c'), '-o', exe, '-lpthread'])
    .concat(peer.library ? [peer.library] : []);
  const result = spawnSync(process.env.CC || 'cc', args, { encoding: 'utf8' });
  if (result.status === 0) return { exe };
  if (peer.library === null) throw new Error(`compiling bench/churn.c failed:\n${result.stderr}`);
  const first = result.stderr.split('\n').find((line) => /error|cannot find/.test(line)) ?? `exit ${result.status}`;
  return { missing: `${peer.name}: not run (install ${peer.package}; the build said: ${first.trim()})` };
}

function runChurn<T>(exe: string, args: string[]): T[] {
  const result = spawnSync(exe, args, { encoding: 'utf8', timeout: 600_000 });
  if (result.status === 3) throw new Error(`churn ${args.join(' ')}: ${result.stderr.trim()}`);
  if (result.status !== 0) throw new Error(`churn ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  process.stderr.write(result.stderr);
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as T);
}

function jsSizes(count: number): Uint16Array {
  const sizes = new Uint16Array(count);
  const random = new Random(0x2545f491); // the same sizes for every allocator
  for (let i = 0; i < count; i++) sizes[i] = 16 + random.below(4081);
  return sizes;
}

/** One round: each operation replaces the allocation in one of JS_WINDOW slots. Returns ops/s. */
function churnAllocator(allocator: Allocator, sizes: Uint16Array): number {
  const window: (Allocation | null)[] = new Array(JS_WINDOW).fill(null);
  const start = process.hrtime.bigint();
  for (let i = 0; i < sizes.length; i++) {
    const slot = i & (JS_WINDOW - 1);
    const previous = window[slot];
    if (previous) allocator.free(previous);
    const allocation = allocator.alloc(sizes[i]!);
    allocation.bytes[0] = i & 0xff;
    window[slot] = allocation;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  for (const allocation of window) if (allocation) allocator.free(allocation);
  return sizes.length / seconds;
}

function churnBuffer(sizes: Uint16Array): number {
  const window: (Buffer | null)[] = new Array(JS_WINDOW).fill(null);
  const start = process.hrtime.bigint();
  for (let i = 0; i < sizes.length; i++) {
    const buffer = Buffer.allocUnsafe(sizes[i]!);
    buffer[0] = i & 0xff;
    window[i & (JS_WINDOW - 1)] = buffer; // the displaced buffer becomes garbage
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return sizes.length / seconds;
}

// Each system runs its rounds back to back after one full collection, so neither pays for the
// other's garbage, and each keeps the young-generation size its own steady state grows to; the
// scavenges a system's allocations trigger stay inside its time (the cost Buffer users pay).
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

function measureRounds(run: () => number): number {
  collectGarbage();
  run(); // warm-up: JIT, slabs, caches, heap sizing
  const rates: number[] = [];
  for (let round = 0; round < JS_ROUNDS; round++) rates.push(run());
  return median(rates);
}

function measureJs(views: ViewMode, sizes: Uint16Array): { dbos: number; buffer: number } {
  const allocator = new Allocator({ views, limitBytes: 256 * 2 ** 20 });
  const dbos = measureRounds(() => churnAllocator(allocator, sizes));
  allocator.close();
  const buffer = measureRounds(() => churnBuffer(sizes));
  return { dbos, buffer };
}

function main(): void {
  const cases: BenchCase[] = [];
  const notes: string[] = [];
  const builds = PEERS.map((peer) => ({ peer, build: buildChurn(peer) }));
  const ran: string[] = [];
  let glibcExe = '';

  for (const { peer, build } of builds) {
    if ('missing' in build) {
      notes.push(build.missing);
      console.log(build.missing);
      continue;
    }
    if (peer.name === 'glibc') glibcExe = build.exe;
    for (const threads of [1, 2]) {
      let line: ChurnLine | undefined;
      try {
        [line] = runChurn<ChurnLine>(build.exe, ['churn', String(NATIVE_OPERATIONS), String(threads), String(NATIVE_ROUNDS)]);
      } catch (error) {
        if (peer.name === 'glibc') throw error;
        notes.push(`${peer.name}: not run (${(error as Error).message})`);
        break;
      }
      if (!line || line.failures || line.peer !== peer.name)
        throw new Error(`native churn against ${peer.name} with ${threads} threads failed`);
      // jemalloc reports its git description too (5.3.0-0-g54eaed1…): the release is enough here.
      const version = line.peerVersion.split('-')[0] ?? line.peerVersion;
      if (threads === 1) ran.push(`${peer.name} ${version}`);
      cases.push(
        benchCase({
          case: `native malloc/free churn vs ${peer.name}, random 16 B–4 KiB, ${threads} thread${threads > 1 ? 's' : ''}, ${NATIVE_OPERATIONS / 1e6} M ops, median of ${NATIVE_ROUNDS}`,
          metric: 'throughput',
          unit: 'ops/s',
          value: line.dbosOpsPerSecond,
          baseline: { system: `${peer.name} ${version} malloc/free`, value: line.peerOpsPerSecond },
          higherIs: 'better',
          // The target is against glibc; the specialised allocators are measured, not targeted.
          target: peer.name === 'glibc' ? 1.5 : null,
        }),
      );
      console.log(
        `native churn vs ${peer.name} ${threads}T: dbos ${(line.dbosOpsPerSecond / 1e6).toFixed(1)} M/s, ${peer.name} ${(line.peerOpsPerSecond / 1e6).toFixed(1)} M/s`,
      );
    }
  }
  notes.push(`native churn peers that ran: ${ran.join(', ')}; each in its own process with dbos, rounds alternating between the two.`);

  const sizes = jsSizes(JS_OPERATIONS);
  for (const views of ['shared', 'detach'] as const) {
    const { dbos, buffer } = measureJs(views, sizes);
    cases.push(
      benchCase({
        case: `JS alloc/free churn, random 16 B–4 KiB, 1024 live, views: '${views}'${views === 'shared' ? ' (default)' : ''}`,
        metric: 'throughput',
        unit: 'ops/s',
        value: dbos,
        baseline: { system: 'Buffer.allocUnsafe + GC', value: buffer },
        higherIs: 'better',
        target: 3,
      }),
    );
    console.log(`JS churn '${views}': dbos ${(dbos / 1e6).toFixed(2)} M/s, Buffer.allocUnsafe ${(buffer / 1e6).toFixed(2)} M/s`);
  }

  const releases = runChurn<ReleaseLine>(glibcExe, ['release', String(RELEASE_BYTES)]);
  const byName = new Map(releases.map((line) => [line.mechanism, line]));
  const glibc = byName.get('glibc free (munmap)')!;
  // Equal page sizes on both sides: THP against THP, 4 KiB pages against 4 KiB pages.
  const pairs: [string, string][] = [
    ['dbos trim (4 KiB pages)', 'glibc free (munmap)'],
    ['dbos trim (4 KiB pages)', 'munmap'],
    ['dbos trim (THP)', 'munmap (THP)'],
  ];
  for (const [ours, theirs] of pairs) {
    const a = byName.get(ours)!;
    const b = byName.get(theirs)!;
    cases.push(
      benchCase({
        case: `return 1 GiB to the OS: ${ours} vs ${theirs}`,
        metric: 'time',
        unit: 'ms',
        value: a.ms,
        baseline: { system: theirs, value: b.ms },
        higherIs: 'worse',
        target: null,
      }),
    );
  }
  for (const line of releases) {
    notes.push(
      `1 GiB release, ${line.mechanism}: ${line.ms.toFixed(2)} ms, RSS ${line.rssBeforeMiB.toFixed(0)} MiB → ${line.rssAfterMiB.toFixed(0)} MiB.`,
    );
    console.log(notes.at(-1));
  }
  notes.push(
    `glibc malloc of 1 GiB is its own mmap, so free() is a munmap of 4 KiB pages (${glibc.ms.toFixed(1)} ms): it is compared with a pool of 4 KiB pages; the THP pool is compared with a THP munmap (THP needs MADV_HUGEPAGE here, enabled=madvise).`,
    "JS churn: each system's rounds run back to back after one full garbage collection (outside the timing); each pays for the scavenges its own allocations cause.",
    "JS churn: 'shared' views come from a JavaScript-side per-class cache refilled in batches of up to 64 by one native call; 'detach' makes one external ArrayBuffer per allocation (detached on free), whose V8 cost dominates.",
    'Native churn: each thread owns 4096 slots; each op frees the slot if occupied, else allocates and writes the first and last byte; the peer and dbos replay identical xorshift sequences, alternating round by round; medians reported.',
  );

  const file = writeResult({
    ...resultHeader(new URL('../package.json', import.meta.url)),
    runtime: 'host',
    kvm: 'not-used',
    cases,
    notes,
  });
  console.log(`wrote ${file}`);
}

main();
