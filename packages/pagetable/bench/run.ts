// pnpm bench: batched page operations against what a competent user writes without dbos, and
// dirty-page collection (userfaultfd WP_ASYNC + PAGEMAP_SCAN) against a full comparison with a
// shadow copy, in one run.
//
// Baselines: adjacent pages are one madvise / one MAP_FIXED mmap over the whole run (nobody would
// make a call per page there); scattered pages are one madvise / mmap per page, which is all plain
// system calls offer. The baselines live in bench/baseline.cc, a bench-only addon: each batch is one
// JavaScript call on both sides, so the columns differ only in what happens inside the call.
//
// Expected, from docs/platform-facts.md: dbos's adjacent batch is the same one system call plus its own
// bookkeeping (JS checks, the list walk, 8-byte entries for 64 pages: ~1 µs against a ~10 µs
// madvise of 64 populated pages), so 0.8-1x of the raw call. 64 scattered pages in one
// process_madvise save the system-call and TLB-flush cost per page (~3x over 64 madvise calls).
// A MAP_FIXED remap of a memfd page costs ~2.9 µs alone and ~0.04 µs per page in 64-page runs;
// scattered remaps are one mmap per page either way (there is no vectored mmap). PAGEMAP_SCAN over
// 1 GiB with ~2 600 written pages should take ~0.5 ms, while comparing 1 GiB with a shadow copy
// reads 2 GiB (~100-300 ms at memory bandwidth): >= 100x apart.
//
// Knobs: DBOS_BENCH_PROFILE=full runs more rounds. dbos runs through the public JavaScript API,
// one call per batch.
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { benchCase, benchProfile, resultHeader, writeResult, type BenchCase } from '@dbos/benchmarks/report';
import { median } from '@dbos/benchmarks/measure';
import { Random, randomIndices } from '@dbos/benchmarks/workload';
import { buildTestAddon } from '@dbos/native-build/ctest';
import { FramePool, PAGE_SIZE, Region, probe } from '../src/index.js';

const profile = benchProfile();
const BATCH = 64;
const BATCH_ROUNDS = profile === 'full' ? 4000 : 1000;
/** Alternating measurements per system (median kept): short rounds on a shared machine swing. */
const PAIR_ROUNDS = profile === 'full' ? 7 : 5;
const DIRTY_BYTES = 2 ** 30;
const DIRTY_PAGES = DIRTY_BYTES / PAGE_SIZE;
const DIRTY_WRITTEN = Math.round(DIRTY_PAGES / 100); // 1 %
const DIRTY_ROUNDS = profile === 'full' ? 9 : 5;

/** bench/baseline.cc: plain system calls on mappings of the bench's own. */
interface Baseline {
  anonymous(pages: number): object;
  frames(frameCount: number, slotCount: number): object;
  populate(mapping: object, pages: Uint32Array): void;
  discardRange(mapping: object, first: number, count: number): void;
  discardEach(mapping: object, pages: Uint32Array): void;
  remapRange(mapping: object, firstSlot: number, firstFrame: number, count: number): void;
  remapEach(mapping: object, slots: Uint32Array, frames: Uint32Array): void;
}
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const baseline = createRequire(import.meta.url)(
  buildTestAddon(packageDir, { name: 'bench_baseline', sources: ['bench/baseline.cc'] }),
) as Baseline;

const now = () => process.hrtime.bigint();
const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9;

/** `BATCH` distinct, non-adjacent pages below `limit`, sorted. */
function scatteredPages(random: Random, limit: number): Uint32Array {
  const pages = new Set<number>();
  while (pages.size < BATCH) pages.add(random.below(limit / 2) * 2);
  return Uint32Array.from([...pages].sort((a, b) => a - b));
}

/** Pages per second of `discard` batches, timing only the discards; pages are populated before each. */
function discardRate(batches: Uint32Array[], populate: (pages: Uint32Array) => void, discard: (pages: Uint32Array) => void): number {
  let elapsed = 0;
  for (const pages of batches) {
    populate(pages);
    const start = now();
    discard(pages);
    elapsed += seconds(start, now());
  }
  return (batches.length * BATCH) / elapsed;
}

function discardCases(): BenchCase[] {
  const pageCount = 1 << 16; // 256 MiB of address space each, 256 KiB in use at a time
  const region = Region.reserve(pageCount * PAGE_SIZE, { mapped: true });
  const plain = baseline.anonymous(pageCount);
  const random = new Random(7);
  const contiguous = Array.from({ length: BATCH_ROUNDS }, (_, round) => {
    const first = ((round * BATCH) % (pageCount - BATCH)) & ~(BATCH - 1);
    return Uint32Array.from({ length: BATCH }, (_, i) => first + i);
  });
  const scattered = Array.from({ length: BATCH_ROUNDS }, () => scatteredPages(random, pageCount));
  const dbos = (pages: Uint32Array) => region.discard(pages);
  const dbosPopulate = (pages: Uint32Array) => region.populate(pages);
  const plainPopulate = (pages: Uint32Array) => baseline.populate(plain, pages);
  const oneMadvise = (pages: Uint32Array) => baseline.discardRange(plain, pages[0] as number, pages.length);
  const madviseEach = (pages: Uint32Array) => baseline.discardEach(plain, pages);
  // Warm-up (one whole round each, so the JIT has settled), then each measurement alternates the two
  // systems so load from elsewhere on the machine hits both alike.
  discardRate(contiguous, dbosPopulate, dbos);
  discardRate(contiguous, plainPopulate, oneMadvise);
  const pair = (batches: Uint32Array[], theirs: (pages: Uint32Array) => void) => {
    const ours: number[] = [];
    const peer: number[] = [];
    for (let round = 0; round < PAIR_ROUNDS; round++) {
      ours.push(discardRate(batches, dbosPopulate, dbos));
      peer.push(discardRate(batches, plainPopulate, theirs));
    }
    return [median(ours), median(peer)] as const;
  };
  const [adjacentDbos, adjacentPlain] = pair(contiguous, oneMadvise);
  const [scatteredDbos, scatteredPlain] = pair(scattered, madviseEach);
  region.close();
  return [
    benchCase({
      case: `discard ${BATCH} adjacent pages: dbos batch (a list, one madvise) vs one madvise over the range`,
      metric: 'throughput',
      unit: 'pages/s',
      value: adjacentDbos,
      baseline: { system: 'one MADV_DONTNEED over the 64 pages', value: adjacentPlain },
      higherIs: 'better',
      target: 0.8,
    }),
    benchCase({
      case: `discard ${BATCH} scattered pages: dbos batch (one process_madvise) vs one madvise per page`,
      metric: 'throughput',
      unit: 'pages/s',
      value: scatteredDbos,
      baseline: { system: 'MADV_DONTNEED per page (64 calls)', value: scatteredPlain },
      higherIs: 'better',
      target: 5,
    }),
  ];
}

/** Pages per second of remapping `BATCH` slots between two frame windows, timing only the remaps. */
function remapRate(slotBatches: Uint32Array[], remap: (slots: Uint32Array, frames: Uint32Array) => void): number {
  let elapsed = 0;
  let window = 0;
  for (const slots of slotBatches) {
    window ^= 1;
    const frames = Uint32Array.from(slots, (_, i) => window * BATCH + i);
    const start = now();
    remap(slots, frames);
    elapsed += seconds(start, now());
  }
  return (slotBatches.length * BATCH) / elapsed;
}

function remapCases(): BenchCase[] {
  const slotCount = 1024;
  const pool = FramePool.create(2 * BATCH);
  const region = Region.reserve(slotCount * PAGE_SIZE);
  const plain = baseline.frames(2 * BATCH, slotCount);
  // Touch every frame once so remaps move real pages.
  region.mapFrames({ first: 0, count: 2 * BATCH }, pool, { first: 0, count: 2 * BATCH });
  region.populate({ first: 0, count: 2 * BATCH });
  region.unmap({ first: 0, count: 2 * BATCH });
  const random = new Random(11);
  const contiguous = Array.from({ length: BATCH_ROUNDS }, (_, round) => {
    const first = ((round % 8) * 2 * BATCH) % (slotCount - BATCH);
    return Uint32Array.from({ length: BATCH }, (_, i) => first + i);
  });
  const scattered = Array.from({ length: BATCH_ROUNDS }, () => scatteredPages(random, slotCount));
  const dbos = (slots: Uint32Array, frames: Uint32Array) => region.mapFrames(slots, pool, frames);
  const oneMmap = (slots: Uint32Array, frames: Uint32Array) =>
    baseline.remapRange(plain, slots[0] as number, frames[0] as number, slots.length);
  const mmapEach = (slots: Uint32Array, frames: Uint32Array) => baseline.remapEach(plain, slots, frames);
  remapRate(contiguous, dbos);
  remapRate(contiguous, oneMmap);
  const pair = (batches: Uint32Array[], theirs: (slots: Uint32Array, frames: Uint32Array) => void) => {
    const ours: number[] = [];
    const peer: number[] = [];
    for (let round = 0; round < PAIR_ROUNDS; round++) {
      ours.push(remapRate(batches, dbos));
      peer.push(remapRate(batches, theirs));
    }
    return [median(ours), median(peer)] as const;
  };
  const [adjacentDbos, adjacentPlain] = pair(contiguous, oneMmap);
  const [scatteredDbos, scatteredPlain] = pair(scattered, mmapEach);
  region.close();
  pool.close();
  return [
    benchCase({
      case: `remap ${BATCH} adjacent slots to other memfd frames: dbos batch (one MAP_FIXED mmap) vs one mmap over the run`,
      metric: 'throughput',
      unit: 'pages/s',
      value: adjacentDbos,
      baseline: { system: 'one MAP_FIXED mmap of the 64 frames', value: adjacentPlain },
      higherIs: 'better',
      target: 0.8,
    }),
    benchCase({
      case: `remap ${BATCH} scattered slots: one mmap per run either way on the host`,
      metric: 'throughput',
      unit: 'pages/s',
      value: scatteredDbos,
      baseline: { system: 'MAP_FIXED mmap per page (64 calls)', value: scatteredPlain },
      higherIs: 'better',
      target: null,
    }),
  ];
}

/** Median seconds to collect-and-reset the dirty pages after writing a fresh random 1 % each round. */
function collectSeconds(region: Region, rounds: number, check: boolean): { collect: number; write: number } {
  const random = new Random(1234);
  const bytes = region.view(0, DIRTY_BYTES);
  const collects: number[] = [];
  const writes: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const written = new Set<number>();
    while (written.size < DIRTY_WRITTEN) written.add(random.below(DIRTY_PAGES));
    const writeStart = now();
    for (const page of written) bytes[page * PAGE_SIZE + (page % PAGE_SIZE)] = round + 1;
    writes.push(seconds(writeStart, now()));
    const start = now();
    const dirty = region.collectDirty({ reset: true });
    collects.push(seconds(start, now()));
    if (check && dirty.length !== written.size) throw new Error(`collected ${dirty.length} of ${written.size} written pages`);
  }
  region.release(bytes);
  return { collect: median(collects), write: median(writes) };
}

function dirtyRegion(mechanism: 'uffd-wp-async' | 'shadow-compare'): Region {
  const region = Region.reserve(DIRTY_BYTES, { mapped: true });
  region.populate({ first: 0, count: DIRTY_PAGES });
  region.startDirtyTracking({ mechanism });
  return region;
}

function dirtyCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  // One 1 GiB region at a time (plus the shadow copy): at most 2 GiB resident.
  const shadow = dirtyRegion('shadow-compare');
  const compared = collectSeconds(shadow, 3, true);
  shadow.close();
  if (probe().dirty !== 'uffd-wp-async') {
    cases.push(
      benchCase({
        case: 'dirty pages of 1 GiB, 1 % written: uffd WP_ASYNC unavailable, shadow compare only',
        metric: 'collect time',
        unit: 'ms',
        value: compared.collect * 1e3,
        baseline: { system: 'memcmp of 1 GiB with a shadow copy', value: compared.collect * 1e3 },
        higherIs: 'worse',
        target: 10,
      }),
    );
    return cases;
  }
  const tracked = dirtyRegion('uffd-wp-async');
  const scanned = collectSeconds(tracked, DIRTY_ROUNDS, true);
  tracked.close();
  const plain = Region.reserve(DIRTY_BYTES, { mapped: true });
  plain.populate({ first: 0, count: DIRTY_PAGES });
  // The pages are drawn before the clock starts, as collectSeconds draws its pages before timing.
  const pages = randomIndices(DIRTY_WRITTEN, DIRTY_PAGES, 99);
  const bytes = plain.view(0, DIRTY_BYTES);
  const start = now();
  for (let i = 0; i < DIRTY_WRITTEN; i++) bytes[(pages[i] as number) * PAGE_SIZE] = 1;
  const untrackedWrite = seconds(start, now());
  plain.close();
  cases.push(
    benchCase({
      case: `dirty pages of 1 GiB, 1 % (${DIRTY_WRITTEN}) written: PAGEMAP_SCAN collect+reset vs memcmp with a shadow copy`,
      metric: 'collect time',
      unit: 'ms',
      value: scanned.collect * 1e3,
      baseline: { system: 'memcmp of 1 GiB with a shadow copy (shadow-compare)', value: compared.collect * 1e3 },
      higherIs: 'worse',
      target: 10,
    }),
    benchCase({
      case: `writers' cost: writing ${DIRTY_WRITTEN} random pages once each while tracked (WP_ASYNC fault per page) vs untracked`,
      metric: 'write time',
      unit: 'ms',
      value: scanned.write * 1e3,
      baseline: { system: 'untracked writes', value: untrackedWrite * 1e3 },
      higherIs: 'worse',
      target: null,
    }),
  );
  return cases;
}

const started = Date.now();
const cases = [...discardCases(), ...remapCases(), ...dirtyCases()];
const capabilities = probe();
const file = writeResult({
  ...resultHeader(new URL('../package.json', import.meta.url)),
  runtime: 'host',
  kvm: 'not-used',
  cases,
  notes: [
    `mechanisms: dirty=${capabilities.dirty}, faults=${capabilities.faults}, hugePages=${capabilities.hugePages}`,
    `batch ${BATCH} pages, ${BATCH_ROUNDS} batches per measurement, median of ${PAIR_ROUNDS} alternating rounds per system after one warm-up round each; dirty: median of ${DIRTY_ROUNDS} rounds (shadow: 3)`,
    'baselines: plain madvise / mmap in a bench-only addon (bench/baseline.cc), one JavaScript call per batch like dbos; adjacent pages get one system call over the range, scattered pages one per page',
    'only the page operations are timed; pages are populated (or frames touched) before each batch',
    `wall time ${((Date.now() - started) / 1000).toFixed(1)} s`,
  ],
});
for (const c of cases) console.log(`${c.ratio.toFixed(2).padStart(8)}x  ${c.case}: ${c.value} vs ${c.baseline.value} ${c.unit}`);
console.log(`wrote ${file}`);
