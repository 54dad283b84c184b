// The bridge between a pool worker (worker.ts) and the task code it runs (task.ts). A task module
// imports '@dbos/scheduler/task', which may resolve to another copy of this package than the one
// the worker runs from (a bundled copy, sources under a TypeScript loader): the worker therefore
// publishes its context on globalThis under a registered symbol, which every copy finds.

/** The task names a worker gives its tasks. */
export type Priority = 'latency' | 'normal' | 'background';

/** What a task may ask about itself. */
export interface TaskInfo {
  /** The pool's id of the task (the id `TaskHandle.id` and hard-limit reports carry). */
  readonly id: number;
  readonly priority: Priority;
}

/** What a worker offers the task running on it. */
export interface TaskContext {
  shouldYield(): boolean;
  yieldNow(): Promise<void>;
  currentTask(): TaskInfo | null;
}

const KEY = Symbol.for('@dbos/scheduler:task-context');

type Scope = typeof globalThis & { [KEY]?: TaskContext };

/** The context of this thread: set in pool workers, undefined elsewhere. */
export function taskContext(): TaskContext | undefined {
  return (globalThis as Scope)[KEY];
}

/** Called once by a pool worker before it loads any task module. */
export function installTaskContext(context: TaskContext): void {
  (globalThis as Scope)[KEY] = context;
}
