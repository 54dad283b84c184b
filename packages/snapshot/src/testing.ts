// Native writer threads for tests and benchmarks: a workload written in C (csrc/host/snap_workload.c).
import { typeError } from '@dbos/platform';
import { nativeSpace } from './space.js';
import type { Snapshot, SnapshotSpace } from './space.js';

/** Options of startWriters. */
export interface WritersOptions {
  /** Threads, 1..8. Default 2. */
  writers?: number;
  /** Rewrite whole pages (needed by checkSnapshot) instead of one 64-byte line. Default true. */
  wholePage?: boolean;
  /** Keep per-epoch versions so checkSnapshot works for epoch spaces (up to epoch 32). Default true. */
  trackEpochs?: boolean;
  /** Write only the first N pages (a hot set); 0: all pages. Default 0. */
  hotPages?: number;
  /** Ask for SCHED_FIFO so other processes cannot preempt the writers (needs privilege; see writerStats). Default false. */
  realtime?: boolean;
}

const quiesceOf = new WeakMap<Snapshot, number>();

/**
 * Test and benchmark hooks: native writer threads that rewrite pages with a (page, version) pattern,
 * through the barrier for epoch spaces and raw otherwise (parked by the quiesce hook at each take).
 */
export const testing = {
  /** Fill every page with version 0's pattern, raw (before any snapshot; blocks: touches all memory). */
  fill(space: SnapshotSpace): void {
    space[nativeSpace].workloadFill();
  },
  startWriters(space: SnapshotSpace, options: WritersOptions = {}): void {
    const writers = options.writers ?? 2;
    if (!Number.isInteger(writers) || writers < 1 || writers > 8) throw typeError('writers must be 1..8');
    space[nativeSpace].workloadStart(writers, space.mechanism === 'epoch', options.wholePage ?? true, options.trackEpochs ?? true, options.hotPages ?? 0, options.realtime ?? false);
  },
  stopWriters(space: SnapshotSpace): void {
    space[nativeSpace].workloadStop();
  },
  /** Writes so far, the longest pause of any writer since the last reset (ns), quiesces so far, writers on SCHED_FIFO. */
  writerStats(space: SnapshotSpace, resetGap = false): { writes: number; gapNsMax: number; quiesces: number; realtimeWriters: number } {
    return space[nativeSpace].workloadStats(resetGap);
  },
  /** Take a snapshot and remember which quiesce froze it, so checkSnapshot can find its versions. */
  snapshot(space: SnapshotSpace): Snapshot {
    const snapshot = space.snapshot();
    quiesceOf.set(snapshot, space[nativeSpace].workloadStats(false).quiesces);
    return snapshot;
  },
  /** Pages of a snapshot from testing.snapshot() that differ from their pattern at its instant (0 when correct). */
  checkSnapshot(snapshot: Snapshot): { mismatches: number; firstBad: number } {
    return snapshot.space[nativeSpace].workloadCheck(snapshot.id, snapshot.epoch, quiesceOf.get(snapshot) ?? 0);
  },
  /** One thread writes one word into `count` pages, `stride` apart; nanoseconds per write. */
  firstWrites(space: SnapshotSpace, first: number, count: number, stride = 1): number {
    return space[nativeSpace].firstWrites(first, count, stride, space.mechanism === 'epoch');
  },
};
