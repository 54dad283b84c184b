// pnpm bench: batched page operations against one system call per page, and dirty-page collection
// (userfaultfd WP_ASYNC + PAGEMAP_SCAN) against a full comparison with a shadow copy, in one run.
//
// Expected, from platform-facts.md: MADV_DONTNEED costs ~1.4 µs for one page and ~0.2 µs per page
// in a large batch, so 64 adjacent pages in one call should be ≥ 5× faster per page; 64 scattered
// pages in one process_madvise save the system-call and TLB-flush cost per page (~3×). A MAP_FIXED
// remap of a memfd page costs ~2.9 µs alone and ~0.04 µs per page in 64-page runs. PAGEMAP_SCAN over
// 1 GiB with ~2 600 written pages should take ~0.5 ms, while comparing 1 GiB with a shadow copy
// reads 2 GiB (~100-300 ms at memory bandwidth): ≥ 100× apart.
//
// Knobs: DBOS_BENCH_PROFILE=full runs more rounds. Every operation goes through the public
// JavaScript API, one call per batch (the batch) or one call per page (the baseline).
import { benchCase, benchProfile, resultHeader, writeResult, type BenchCase } from '@dbos/benchmarks/report';
import { median } from '@dbos/benchmarks/measure';
import { FramePool, PAGE_SIZE, Region, probe } from '../src/index.js';

const profile = benchProfile();
const BATCH = 64;
const BATCH_ROUNDS = profile === 'full' ? 4000 : 1000;
const DIRTY_BYTES = 2 ** 30;
const DIRTY_PAGES = DIRTY_BYTES / PAGE_SIZE;
const DIRTY_WRITTEN = Math.round(DIRTY_PAGES / 100); // 1 %
const DIRTY_ROUNDS = profile === 'full' ? 9 : 5;

const now = () => process.hrtime.bigint();
const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9;

function xorshift(seed: number): () => number {
  let state = seed | 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

/** `BATCH` distinct, non-adjacent pages below `limit`, sorted. */
function scatteredPages(random: () => number, limit: number): Uint32Array {
  const pages = new Set<number>();
  while (pages.size < BATCH) pages.add((random() % (limit / 2)) * 2);
  return Uint32Array.from([...pages].sort((a, b) => a - b));
}

/** Pages per second of `discard`, timing only the discards; pages are populated before each round. */
function discardRate(region: Region, batches: Uint32Array[], batched: boolean): number {
  let elapsed = 0;
  for (const pages of batches) {
    region.populate(pages);
    const start = now();
    if (batched) region.discard(pages);
    else for (const page of pages) region.discard({ first: page, count: 1 });
    elapsed += seconds(start, now());
  }
  return (batches.length * BATCH) / elapsed;
}

function discardCases(): BenchCase[] {
  const pageCount = 1 << 16; // 256 MiB of address space, 256 KiB in use at a time
  const region = Region.reserve(pageCount * PAGE_SIZE, { mapped: true });
  const random = xorshift(7);
  const contiguous = Array.from({ length: BATCH_ROUNDS }, (_, round) => {
    const first = ((round * BATCH) % (pageCount - BATCH)) & ~(BATCH - 1);
    return Uint32Array.from({ length: BATCH }, (_, i) => first + i);
  });
  const scattered = Array.from({ length: BATCH_ROUNDS }, () => scatteredPages(random, pageCount));
  discardRate(region, contiguous.slice(0, 50), true); // warm-up
  discardRate(region, contiguous.slice(0, 50), false);
  const cases: BenchCase[] = [];
  const contiguousBatch = median([1, 2, 3].map(() => discardRate(region, contiguous, true)));
  const contiguousSingle = median([1, 2, 3].map(() => discardRate(region, contiguous, false)));
  cases.push(
    benchCase({
      case: `discard ${BATCH} adjacent pages: one batch (1 madvise) vs one call per page`,
      metric: 'throughput',
      unit: 'pages/s',
      value: contiguousBatch,
      baseline: { system: 'MADV_DONTNEED per page', value: contiguousSingle },
      higherIs: 'better',
      target: 5,
    }),
  );
  const scatteredBatch = median([1, 2, 3].map(() => discardRate(region, scattered, true)));
  const scatteredSingle = median([1, 2, 3].map(() => discardRate(region, scattered, false)));
  cases.push(
    benchCase({
      case: `discard ${BATCH} scattered pages: one batch (1 process_madvise) vs one call per page`,
      metric: 'throughput',
      unit: 'pages/s',
      value: scatteredBatch,
      baseline: { system: 'MADV_DONTNEED per page', value: scatteredSingle },
      higherIs: 'better',
      target: 5,
    }),
  );
  region.close();
  return cases;
}

/** Pages per second of remapping `BATCH` slots between two frame windows, timing only the remaps. */
function remapRate(region: Region, pool: FramePool, slotBatches: Uint32Array[], batched: boolean): number {
  let elapsed = 0;
  let window = 0;
  for (const slots of slotBatches) {
    window ^= 1;
    const frames = Uint32Array.from(slots, (_, i) => window * BATCH + i);
    const start = now();
    if (batched) region.mapFrames(slots, pool, frames);
    else for (let i = 0; i < slots.length; i++) region.mapFrames({ first: slots[i]!, count: 1 }, pool, { first: frames[i]!, count: 1 });
    elapsed += seconds(start, now());
  }
  return (slotBatches.length * BATCH) / elapsed;
}

function remapCases(): BenchCase[] {
  const pool = FramePool.create(2 * BATCH);
  const region = Region.reserve(1024 * PAGE_SIZE);
  // Touch every frame once so remaps move real pages.
  region.mapFrames({ first: 0, count: 2 * BATCH }, pool, { first: 0, count: 2 * BATCH });
  region.populate({ first: 0, count: 2 * BATCH });
  region.unmap({ first: 0, count: 2 * BATCH });
  const random = xorshift(11);
  const contiguous = Array.from({ length: BATCH_ROUNDS }, (_, round) => {
    const first = ((round % 8) * 2 * BATCH) % (1024 - BATCH);
    return Uint32Array.from({ length: BATCH }, (_, i) => first + i);
  });
  const scattered = Array.from({ length: BATCH_ROUNDS }, () => scatteredPages(random, 1024));
  remapRate(region, pool, contiguous.slice(0, 50), true);
  remapRate(region, pool, contiguous.slice(0, 50), false);
  const batch = median([1, 2, 3].map(() => remapRate(region, pool, contiguous, true)));
  const single = median([1, 2, 3].map(() => remapRate(region, pool, contiguous, false)));
  const scatteredBatch = median([1, 2, 3].map(() => remapRate(region, pool, scattered, true)));
  const scatteredSingle = median([1, 2, 3].map(() => remapRate(region, pool, scattered, false)));
  region.close();
  pool.close();
  return [
    benchCase({
      case: `remap ${BATCH} adjacent slots to other frames (memfd MAP_FIXED run) vs one mmap per page`,
      metric: 'throughput',
      unit: 'pages/s',
      value: batch,
      baseline: { system: 'MAP_FIXED mmap per page', value: single },
      higherIs: 'better',
      target: 5,
    }),
    benchCase({
      case: `remap ${BATCH} scattered slots (one mmap per run either way on the host)`,
      metric: 'throughput',
      unit: 'pages/s',
      value: scatteredBatch,
      baseline: { system: 'MAP_FIXED mmap per page', value: scatteredSingle },
      higherIs: 'better',
      target: null,
    }),
  ];
}

/** Median seconds to collect-and-reset the dirty pages after writing a fresh random 1 % each round. */
function collectSeconds(region: Region, rounds: number, check: boolean): { collect: number; write: number } {
  const random = xorshift(1234);
  const bytes = region.view(0, DIRTY_BYTES);
  const collects: number[] = [];
  const writes: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const written = new Set<number>();
    while (written.size < DIRTY_WRITTEN) written.add(random() % DIRTY_PAGES);
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
  const random = xorshift(99);
  const bytes = plain.view(0, DIRTY_BYTES);
  const start = now();
  for (let i = 0; i < DIRTY_WRITTEN; i++) bytes[(random() % DIRTY_PAGES) * PAGE_SIZE] = 1;
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
    `batch ${BATCH} pages, ${BATCH_ROUNDS} batches per measurement, median of 3; dirty: median of ${DIRTY_ROUNDS} rounds (shadow: 3)`,
    'only the page operations are timed; pages are populated (or frames touched) before each batch',
    `wall time ${((Date.now() - started) / 1000).toFixed(1)} s`,
  ],
});
for (const c of cases) console.log(`${c.ratio.toFixed(2).padStart(8)}x  ${c.case}: ${c.value} vs ${c.baseline.value} ${c.unit}`);
console.log(`wrote ${file}`);
