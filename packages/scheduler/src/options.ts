// Checking what users pass: pool options, task calls and task options. Every option is read once
// (a getter or a Proxy sees one read), and every refusal is a TypeError (DBOS_EINVAL) for a wrong
// type or name, a RangeError (DBOS_ERANGE) for a number outside its range.
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeValue, rangeError, typeError } from '@dbos/platform';
import {
  AGING_MS_DEFAULT,
  ARGS_MAX,
  AGING_MS_MAX,
  HARD_LIMIT_MS_DEFAULT,
  POOL_SIZE_MAX,
  PRIORITIES,
  QUANTUM_US_DEFAULT,
  QUANTUM_US_MAX,
  QUANTUM_US_MIN,
  TIME_LIMIT_MS_MAX,
} from './constants.js';
import type { Priority } from './context.js';

/** What a hard-limit report says (TaskPoolOptions.onHardLimit). */
export interface HardLimitReport {
  taskId: number;
  priority: Priority;
  /** The task's module (file: URL) and function. */
  module: string;
  name: string;
  /** How long the turn had run without reaching a yield point when seen, ms (half-quantum granularity). */
  ranMs: number;
  /** The limit it passed: hardLimitMs, or terminateAfterMs when `terminated`. */
  limitMs: number;
  /** True when the pool terminated the task's worker for it (terminateAfterMs). */
  terminated: boolean;
}

/** Options of `new TaskPool()`. */
export interface TaskPoolOptions {
  /** Worker threads; default os.availableParallelism(), at most POOL_SIZE_MAX. */
  size?: number;
  /** Time quantum, microseconds: QUANTUM_US_MIN (50) to QUANTUM_US_MAX (100 000), default 1000. */
  quantumUs?: number;
  /** A task that waited this long runs before every task that has not, whatever its class. Default 100 ms. */
  agingMs?: number;
  /** The module of tasks that name none: an absolute path or a file: URL. */
  module?: string | URL;
  /** Default of TaskOptions.hardLimitMs (HARD_LIMIT_MS_DEFAULT, 1000 ms). */
  hardLimitMs?: number;
  /** Default of TaskOptions.terminateAfterMs (Infinity: never). */
  terminateAfterMs?: number;
  /** Called for every hard-limit report and every termination for terminateAfterMs. */
  onHardLimit?: (report: HardLimitReport) => void;
}

/** What to run: `module`'s export `name`, called with `args` (cloned like postMessage). */
export interface TaskCall {
  /** An absolute path or a file: URL; default the pool's module. */
  module?: string | URL;
  /** The exported function; default 'default'. */
  name?: string;
  /** Arguments (at most ARGS_MAX), cloned when the task starts (SharedArrayBuffers are shared). Default []. */
  args?: readonly unknown[];
}

/** Options of one task. */
export interface TaskOptions {
  /** 'latency' | 'normal' | 'background'; default 'normal'. */
  priority?: Priority;
  /** Aborting it cancels the task (ECANCELED). */
  signal?: AbortSignal;
  /** Milliseconds from submission: a task not finished by then is cancelled with DBOS_ETIMEDOUT. */
  deadlineMs?: number;
  /**
   * A turn (the run between two yield points) that was asked to yield (shouldYield() turned true)
   * and still runs past this many ms is reported: the task ignores the flag. Infinity: never.
   */
  hardLimitMs?: number;
  /**
   * A watchdog: a turn longer than this, asked to yield or not, gets its worker terminated
   * (DBOS_ETIMEDOUT) and replaced. Infinity (the default): never.
   */
  terminateAfterMs?: number;
}

export interface PoolSettings {
  size: number;
  quantumUs: number;
  agingMs: number;
  module: string | undefined;
  hardLimitMs: number;
  terminateAfterMs: number;
  onHardLimit: ((report: HardLimitReport) => void) | undefined;
}

export interface TaskSettings {
  module: string;
  name: string;
  args: unknown[];
  priority: number;
  signal: AbortSignal | undefined;
  deadlineMs: number | undefined;
  hardLimitMs: number;
  terminateAfterMs: number;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object') throw typeError(`${what} must be an object, not ${describeValue(value)}`);
  return value as Record<string, unknown>;
}

function integerIn(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer, not ${describeValue(value)}`);
  if (value < min || value > max) throw rangeError(`${name} must be ${min} to ${max}, not ${value}`);
  return value;
}

/** A time limit in ms: a positive number up to TIME_LIMIT_MS_MAX, or Infinity for none. */
function limitMs(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value))
    throw typeError(`${name} must be a number of milliseconds, not ${describeValue(value)}`);
  if (value === Number.POSITIVE_INFINITY) return value;
  if (!(value > 0) || value > TIME_LIMIT_MS_MAX)
    throw rangeError(`${name} must be above 0 and at most ${TIME_LIMIT_MS_MAX} (or Infinity), not ${value}`);
  return value;
}

/** A module as the worker imports it: the href of a file: URL. */
export function moduleHref(value: unknown, name = 'module'): string {
  if (value instanceof URL) {
    if (value.protocol !== 'file:') throw typeError(`${name} must be a file: URL, not ${value.protocol}`);
    return value.href;
  }
  if (typeof value !== 'string') throw typeError(`${name} must be an absolute path or a file: URL, not ${describeValue(value)}`);
  if (value.startsWith('file:')) {
    try {
      return new URL(value).href;
    } catch {
      throw typeError(`${name} is not a valid file: URL: ${describeValue(value)}`);
    }
  }
  if (!path.isAbsolute(value) || value.includes('\0'))
    throw typeError(`${name} must be an absolute path or a file: URL, not ${describeValue(value)}`);
  return pathToFileURL(value).href;
}

export function poolSettings(options: unknown): PoolSettings {
  const given = record(options, 'options');
  const { size, quantumUs, agingMs, module, hardLimitMs, terminateAfterMs, onHardLimit } = given;
  if (onHardLimit !== undefined && typeof onHardLimit !== 'function')
    throw typeError(`onHardLimit must be a function, not ${describeValue(onHardLimit)}`);
  let aging = AGING_MS_DEFAULT;
  if (agingMs !== undefined) {
    if (typeof agingMs !== 'number' || Number.isNaN(agingMs)) throw typeError(`agingMs must be a number, not ${describeValue(agingMs)}`);
    if (!(agingMs >= 1) || agingMs > AGING_MS_MAX) throw rangeError(`agingMs must be 1 to ${AGING_MS_MAX}, not ${agingMs}`);
    aging = agingMs;
  }
  return {
    size: size === undefined ? Math.min(availableParallelism(), POOL_SIZE_MAX) : integerIn(size, 'size', 1, POOL_SIZE_MAX),
    quantumUs: quantumUs === undefined ? QUANTUM_US_DEFAULT : integerIn(quantumUs, 'quantumUs', QUANTUM_US_MIN, QUANTUM_US_MAX),
    agingMs: aging,
    module: module === undefined ? undefined : moduleHref(module),
    hardLimitMs: limitMs(hardLimitMs, 'hardLimitMs', HARD_LIMIT_MS_DEFAULT),
    terminateAfterMs: limitMs(terminateAfterMs, 'terminateAfterMs', Number.POSITIVE_INFINITY),
    onHardLimit: onHardLimit as PoolSettings['onHardLimit'],
  };
}

/** The class number of a priority name. */
export function priorityClass(value: unknown): number {
  if (value === undefined) return PRIORITIES.indexOf('normal');
  const index = typeof value === 'string' ? PRIORITIES.indexOf(value as Priority) : -1;
  if (index < 0)
    throw typeError(`priority must be one of ${PRIORITIES.map((name) => `'${name}'`).join(', ')}, not ${describeValue(value)}`);
  return index;
}

export function taskSettings(call: unknown, options: unknown, pool: PoolSettings): TaskSettings {
  const what = record(call, 'the task call');
  const { module, name, args } = what;
  const given = record(options, 'options');
  const { priority, signal, deadlineMs, hardLimitMs, terminateAfterMs } = given;
  let href: string;
  if (module === undefined) {
    if (pool.module === undefined) throw typeError('the task names no module and the pool has no default module');
    href = pool.module;
  } else href = moduleHref(module);
  if (name !== undefined && typeof name !== 'string') throw typeError(`name must be a string, not ${describeValue(name)}`);
  if (args !== undefined && !Array.isArray(args)) throw typeError(`args must be an array, not ${describeValue(args)}`);
  const argCount = args === undefined ? 0 : (args as unknown[]).length;
  if (argCount > ARGS_MAX) throw rangeError(`args may hold at most ${ARGS_MAX} arguments, not ${argCount}`);
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw typeError(`signal must be an AbortSignal, not ${describeValue(signal)}`);
  let deadline: number | undefined;
  if (deadlineMs !== undefined) {
    deadline = limitMs(deadlineMs, 'deadlineMs', 0);
    if (deadline === Number.POSITIVE_INFINITY) deadline = undefined;
  }
  return {
    module: href,
    name: name ?? 'default',
    args: args === undefined ? [] : (args as unknown[]),
    priority: priorityClass(priority),
    signal: signal as AbortSignal | undefined,
    deadlineMs: deadline,
    hardLimitMs: limitMs(hardLimitMs, 'hardLimitMs', pool.hardLimitMs),
    terminateAfterMs: limitMs(terminateAfterMs, 'terminateAfterMs', pool.terminateAfterMs),
  };
}
