// Native writer threads for the tests and the benchmark: the C workload in test/native/, built into a
// test-only addon (.ctest/snapshot_workload.node) that attaches to a space through
// space.nativeHandle(), exactly as a C engine in another addon would. Nothing here ships: the
// package's addon and entry point know nothing of it.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildTestAddon } from '@dbos/native-build/ctest';
import { fromNative, STATUS_CODES, typeError } from '@dbos/platform';
import type { Snapshot, SnapshotSpace, SpaceNativeHandle } from '../../src/index.js';

interface NativeWorkload {
  fill(): void;
  start(writers: number, barrier: boolean, wholePage: boolean, trackEpochs: boolean, hotPages: number, realtime: boolean): void;
  stop(): void;
  stats(resetGap: boolean): WriterStats;
  check(image: Uint8Array, epoch: number, quiesce: number): { mismatches: number; firstBad: number };
  firstWrites(barrier: boolean, first: number, count: number, stride: number): number;
  forkPwrite(fd: number): number;
  entry(name: string, a: unknown, b: unknown): void;
  attached(): boolean;
  close(): void;
}

interface WorkloadAddon {
  Workload: new (handle: SpaceNativeHandle) => NativeWorkload;
  WRITERS_MAX: number;
}

const packageDir = fileURLToPath(new URL('../..', import.meta.url));
/** The test-only addon's path, rebuilt when a source or header changed. */
export const workloadAddonPath = buildTestAddon(packageDir, {
  name: 'snapshot_workload',
  sources: ['test/native/snap_workload.c', 'test/native/snap_fork_peer.c', 'test/native/workload.cc'],
});
const addon = createRequire(import.meta.url)(workloadAddonPath) as WorkloadAddon;

/** Most writer threads one workload runs (SNAP_WORKLOAD_WRITERS_MAX, read from the addon). */
export const WRITERS_MAX = addon.WRITERS_MAX;

// The addon has no status names (no platform layer in it): it throws `status`, named here with the
// platform's list, then converted like every other native error.
function call<T>(run: () => T, context: string): T {
  try {
    return run();
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && error instanceof Error) Object.assign(error, { code: STATUS_CODES[status] ?? 'DBOS_EIO' });
    throw fromNative(error, context);
  }
}

const workloads = new WeakMap<SnapshotSpace, NativeWorkload>();

/** The space's workload, attached through its native handle on first use. */
function workloadOf(space: SnapshotSpace): NativeWorkload {
  let workload = workloads.get(space);
  if (!workload) {
    const handle = space.nativeHandle();
    workload = call(() => new addon.Workload(handle), 'attaching the workload');
    workloads.set(space, workload);
  }
  return workload;
}

/** Options of startWriters. */
export interface WritersOptions {
  /** Threads, 1..WRITERS_MAX. Default 2. */
  writers?: number;
  /** Rewrite whole pages (needed by checkSnapshot) instead of one 64-byte line. Default true. */
  wholePage?: boolean;
  /** Keep per-epoch versions so checkSnapshot works for epoch spaces (up to epoch 32). Default true. */
  trackEpochs?: boolean;
  /** Write only the first N pages (a hot set); 0: all pages. Default 0. */
  hotPages?: number;
  /** Ask for SCHED_FIFO so other processes cannot preempt the writers (needs privilege; see writerStats). Default false. */
  realtime?: boolean;
  /**
   * Write through the barrier (the handle's write_begin / write_end). Default: for epoch spaces. False on an
   * epoch space writes raw stores past the barrier: only with no snapshot live (the benchmark's baseline).
   */
  barrier?: boolean;
}

/** Counters of the writers. */
export interface WriterStats {
  /** Writes so far by the running writers. */
  writes: number;
  /** The longest pause of any writer since the last reset (ns). */
  gapNsMax: number;
  /** Quiesces (uffd-wp and fork takes) so far. */
  quiesces: number;
  /** Writers that got SCHED_FIFO. */
  realtimeWriters: number;
}

const quiesceOf = new WeakMap<Snapshot, number>();

/** Fill every page with version 0's pattern, raw (before any snapshot; blocks: touches all memory). */
export function fill(space: SnapshotSpace): void {
  const workload = workloadOf(space);
  call(() => workload.fill(), 'fill');
}

/**
 * Start native writer threads that rewrite pages with a (page, version) pattern: through the barrier
 * (the handle's write_begin / write_end) for epoch spaces, raw otherwise (parked by the workload's
 * quiesce hook at each take).
 */
export function startWriters(space: SnapshotSpace, options: WritersOptions = {}): void {
  const writers = options.writers ?? 2;
  if (!Number.isInteger(writers) || writers < 1 || writers > WRITERS_MAX) throw typeError(`writers must be 1..${WRITERS_MAX}`);
  const workload = workloadOf(space);
  const barrier = options.barrier ?? space.mechanism === 'epoch';
  call(
    () =>
      workload.start(
        writers,
        barrier,
        options.wholePage ?? true,
        options.trackEpochs ?? true,
        options.hotPages ?? 0,
        options.realtime ?? false,
      ),
    'startWriters',
  );
}

export function stopWriters(space: SnapshotSpace): void {
  const workload = workloadOf(space);
  call(() => workload.stop(), 'stopWriters');
}

/** The writers' counters; `resetGap` restarts the longest-pause measurement. */
export function writerStats(space: SnapshotSpace, resetGap = false): WriterStats {
  const workload = workloadOf(space);
  return call(() => workload.stats(resetGap), 'writerStats');
}

/** Take a snapshot and remember which quiesce froze it, so checkSnapshot can find its versions. */
export function snapshot(space: SnapshotSpace): Snapshot {
  const taken = space.snapshot();
  quiesceOf.set(taken, writerStats(space).quiesces);
  return taken;
}

/** Pages of a snapshot from snapshot() that differ from their pattern at its instant (0 when correct). */
export function checkSnapshot(taken: Snapshot): { mismatches: number; firstBad: number } {
  const workload = workloadOf(taken.space);
  const image = taken.read(0, taken.space.size);
  return call(() => workload.check(image, taken.epoch, quiesceOf.get(taken) ?? 0), 'checkSnapshot');
}

/** One thread writes one word into `count` pages, `stride` apart, through the barrier on epoch spaces; ns per write. */
export function firstWrites(space: SnapshotSpace, first: number, count: number, stride = 1): number {
  const workload = workloadOf(space);
  return call(() => workload.firstWrites(space.mechanism === 'epoch', first, count, stride), 'firstWrites');
}

/**
 * The benchmark's fork peer: a fork() child writes the space's memory raw to `path` with pwrite(2) (8 MiB
 * per call, page cache, no checksum, no fsync) and exits. Blocks the caller until the child is gone; returns
 * the milliseconds from the fork to its exit.
 */
export function forkPwrite(space: SnapshotSpace, path: string): number {
  const workload = workloadOf(space);
  const fd = fs.openSync(path, 'w');
  try {
    return call(() => workload.forkPwrite(fd), 'forkPwrite') / 1e6;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * firstWrites with its arguments as given (numbers, BigInts up to 2^64 - 1, anything): the hostile-call
 * tests' way to reach the workload's range check.
 */
export function firstWritesRaw(space: SnapshotSpace, barrier: unknown, first: unknown, count: unknown, stride: unknown): number {
  const workload = workloadOf(space);
  return call(() => workload.firstWrites(barrier as boolean, first as number, count as number, stride as number), 'firstWrites');
}

/**
 * Call one entry point of the space's handle table from C with values as given: `'page_prepare'` or
 * `'write_begin'` with page `a`, `'write_copy'` with offset `a` and length `b` (numbers or BigInts up to
 * 2^64 - 1). The core must refuse anything outside the space with DBOS_ERANGE.
 */
export function handleEntry(space: SnapshotSpace, name: unknown, a: unknown, b: unknown): void {
  const workload = workloadOf(space);
  call(() => workload.entry(name as string, a, b), `handle ${String(name)}`);
}

/** True while the workload is attached: false once the space closed (its detach callback ran). */
export function attached(space: SnapshotSpace): boolean {
  return workloads.get(space)?.attached() ?? false;
}

/** Stop the writers and detach from the space (before close(), or to let another engine attach). */
export function detach(space: SnapshotSpace): void {
  workloads.get(space)?.close();
  workloads.delete(space);
}

/** Attach another workload through `handle` directly (tests of the attach rules); close() detaches it. */
export function attachEngine(handle: SpaceNativeHandle): { attached(): boolean; close(): void } {
  const workload = call(() => new addon.Workload(handle), 'attaching the workload');
  return { attached: () => workload.attached(), close: () => workload.close() };
}
