// The messages between a pool (main thread) and its workers, and the shared-memory layout the
// worker is given (word offsets from dbos/tasks.h, read from the addon by the pool).

/** Word offsets of dbos/tasks.h (see include/dbos/tasks.h). */
export interface SlotLayout {
  headerWords: number;
  slotWords: number;
  waitingBest: number;
  epoch: number;
  class: number;
  yield: number;
  suspendedBest: number;
  ranEpoch: number;
  ranUs: number;
  cancel: number;
  classNone: number;
}

/** workerData of a pool worker. */
export interface WorkerSetup {
  buffer: SharedArrayBuffer;
  slot: number;
  layout: SlotLayout;
}

/** Pool to worker. */
export type ToWorker =
  | { type: 'run'; id: number; priority: number; module: string; name: string; args: unknown[] }
  /** Go on with a task set aside by yieldNow (cancelled: its yieldNow rejects with ECANCELED). */
  | { type: 'resume'; id: number; cancelled: boolean };

/** Why a task failed on the worker's side rather than by throwing. */
export type TaskFailure = 'load' | 'export' | 'result' | 'cancelled';

/** Worker to pool. */
export type FromWorker =
  | { type: 'done'; id: number; ok: true; value: unknown }
  | { type: 'done'; id: number; ok: false; error: unknown; code?: string; failure?: TaskFailure }
  /** yieldNow found urgent work waiting: the task is set aside until 'resume'. */
  | { type: 'yield'; id: number };
