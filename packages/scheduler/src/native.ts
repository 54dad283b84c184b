// The @dbos/scheduler addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from '@dbos/platform';
import type { SlotLayout } from './protocol.js';

/** binding/tasks.cc: the scan thread over a pool's shared memory (dbos_tasks_timer). */
export interface NativeTaskTimer {
  activate(active: boolean): void;
  stats(): { scans: number; yieldsRequested: number };
  /** Joins the thread; the memory is never touched afterwards. Idempotent. */
  stop(): void;
}

export interface SchedulerAddon {
  /** binding/scheduler.cc: dbos/scheduler.h's limits. */
  schedLimits: {
    quantumUsDefault: number;
    quantumUsMin: number;
    quantumUsMax: number;
    workersMax: number;
    agingUsDefault: number;
    agingUsMax: number;
  };
  /** binding/scheduler.cc: enum dbos_sched_priority. */
  schedPriorities: { latency: number; normal: number; background: number };
  /** binding/scheduler.cc: dbos_sched_mechanism(), the native scheduler's line. */
  schedMechanism(): string;
  /** binding/tasks.cc */
  NativeTaskTimer: new (
    words: Int32Array,
    slotCount: number,
    quantumUs: number,
  ) => NativeTaskTimer;
  tasksLayout: SlotLayout;
  tasksLimits: {
    quantumUsMin: number;
    quantumUsMax: number;
    quantumUsDefault: number;
    slotCountMax: number;
    agingUsDefault: number;
    agingUsMax: number;
  };
  /** dbos_tasks_mechanism(): the JavaScript tasks' line of probe().mechanisms.scheduler. */
  tasksMechanism(): string;
}

export const addon = loadAddon<SchedulerAddon>(import.meta.url);
