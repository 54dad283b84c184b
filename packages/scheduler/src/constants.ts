// Limits and names of @dbos/scheduler, read from the C headers through the addon (one place).
import type { Priority } from './context.js';
import { addon } from './native.js';

/** The priority classes, most urgent first (dbos/scheduler.h: LATENCY, NORMAL, BACKGROUND). */
export const PRIORITIES: readonly Priority[] = Object.freeze(
  (['latency', 'normal', 'background'] as const).slice().sort((a, b) => addon.schedPriorities[a] - addon.schedPriorities[b]),
);

/** The time quantum's range and default, microseconds (dbos/scheduler.h). */
export const QUANTUM_US_MIN: number = addon.tasksLimits.quantumUsMin;
export const QUANTUM_US_MAX: number = addon.tasksLimits.quantumUsMax;
export const QUANTUM_US_DEFAULT: number = addon.tasksLimits.quantumUsDefault;

/** Default and largest aging time, milliseconds (dbos/scheduler.h). */
export const AGING_MS_DEFAULT: number = addon.tasksLimits.agingUsDefault / 1000;
export const AGING_MS_MAX: number = addon.tasksLimits.agingUsMax / 1000;

/** The most workers one pool may have. */
export const POOL_SIZE_MAX: number = addon.tasksLimits.slotCountMax;

/** Default hard limit, milliseconds: a turn asked to yield that runs longer is reported. */
export const HARD_LIMIT_MS_DEFAULT = 1000;

/** The longest time limit a task option takes, milliseconds (setTimeout's limit, about 24.8 days). */
export const TIME_LIMIT_MS_MAX = 2 ** 31 - 1;

/** How many tasks one worker may hold set aside by yieldNow before it declines further yields. */
export const SET_ASIDE_MAX = 16;

/** The most arguments one task call takes. */
export const ARGS_MAX = 65_536;
