// @dbos/scheduler: preemptive priority scheduling. From JavaScript: TaskPool runs functions on
// worker threads by priority, and the task code polls shouldYield() / awaits yieldNow().
import './mechanism.js';

export {
  AGING_MS_DEFAULT,
  AGING_MS_MAX,
  ARGS_MAX,
  HARD_LIMIT_MS_DEFAULT,
  POOL_SIZE_MAX,
  PRIORITIES,
  QUANTUM_US_DEFAULT,
  QUANTUM_US_MAX,
  QUANTUM_US_MIN,
  SET_ASIDE_MAX,
  TIME_LIMIT_MS_MAX,
} from './constants.js';
export type { Priority, TaskInfo } from './context.js';
export type { HardLimitReport, TaskCall, TaskOptions, TaskPoolOptions } from './options.js';
export { TaskPool } from './pool.js';
export type { CloseMode, TaskHandle, TaskPoolStats } from './pool.js';
export { currentTask, shouldYield, yieldNow } from './task.js';
