// What task code calls: import { shouldYield, yieldNow } from '@dbos/scheduler/task'. This entry
// loads no addon, so a task module pays nothing for importing it.
import { type TaskContext, type TaskInfo, taskContext } from './context.js';

export type { Priority, TaskInfo } from './context.js';

let context: TaskContext | undefined;

function current(): TaskContext | undefined {
  context ??= taskContext();
  return context;
}

/**
 * True when the running task should reach a yield point: its turn has run a quantum while a task
 * of its priority or a more urgent one waits (the pool's native timer raised this worker's flag),
 * a more urgent task arrived while every worker was busy, or the task was cancelled. One shared-memory load; call it often in long loops. Always false
 * outside a pool worker.
 */
export function shouldYield(): boolean {
  return current()?.shouldYield() ?? false;
}

/**
 * A yield point: end this turn and let the pool run waiting work of the same or a more urgent
 * priority on this worker; resolves when the task may go on. Resolves at once (one microtask)
 * when nothing that urgent waits, and outside a pool worker. Rejects with ECANCELED when the task
 * was cancelled, so an ignored cancellation unwinds the task here. Always `await` it: the task
 * must not run while it is set aside.
 */
export function yieldNow(): Promise<void> {
  return current()?.yieldNow() ?? Promise.resolve();
}

/** The task running on this thread (id, priority), or null outside a task. */
export function currentTask(): TaskInfo | null {
  return current()?.currentTask() ?? null;
}
