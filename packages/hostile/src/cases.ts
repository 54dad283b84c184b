// What a hostile case is. A package's tests describe its public API as cases in a module (one
// module per area, e.g. test/hostile/gateway.cases.ts) whose default export is a CaseTable;
// defineHostileSuite() runs every case in its own child process.
import type fc from 'fast-check';
import { TRAP_ERROR } from './values.js';

/** Many calls with generated arguments: each must return, or throw/reject with a coded error. */
export interface CallCase<A extends unknown[] = unknown[]> {
  kind: 'call';
  /** One arbitrary per argument. */
  args: { [K in keyof A]: fc.Arbitrary<A[K]> };
  /** Makes the object under test once per child (a handle, a region). Optional. */
  setup?: () => unknown | Promise<unknown>;
  /** One call: `target` is what setup returned. Its result is awaited when it is a promise. */
  call: (target: unknown, ...args: A) => unknown;
  /** Frees what setup made, after the last call (errors here count too). */
  teardown?: (target: unknown) => unknown;
}

/** One scripted abuse (detach a buffer mid-operation, terminate a worker, close during a call),
 * run `runs` times with a seed; it must finish without a crash or an uncoded error. */
export interface ScenarioCase {
  kind: 'scenario';
  run: (random: () => number, iteration: number) => unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: a table holds cases of every argument shape
export type HostileCase = CallCase<any> | ScenarioCase;
export type CaseTable = Record<string, HostileCase>;

/** A call case: `call(target, ...args)` with one arbitrary per argument. */
export function call<A extends unknown[]>(
  args: { [K in keyof A]: fc.Arbitrary<A[K]> },
  body: (target: unknown, ...args: A) => unknown,
  lifecycle: { setup?: () => unknown; teardown?: (target: unknown) => unknown } = {},
): CallCase<A> {
  return { kind: 'call', args, call: body, ...lifecycle };
}

/** A scenario case. */
export function scenario(run: (random: () => number, iteration: number) => unknown): ScenarioCase {
  return { kind: 'scenario', run };
}

const CODE = /^(DBOS_E[A-Z]+|E[A-Z0-9]+)$/;

function isDbosError(error: Error): boolean {
  for (let proto = Object.getPrototypeOf(error); proto && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    if (proto.constructor?.name === 'DbosError') return true;
  }
  return false;
}

/**
 * The error contract of every public dbos API: TypeError, RangeError or DbosError, with a stable
 * code. An error thrown by a hostile value's own trap (a throwing getter) may pass through as is:
 * it is the caller's error, not the library's.
 */
export function isCodedError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if ((error as unknown as Record<symbol, unknown>)[TRAP_ERROR] === true) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !CODE.test(code)) return false;
  return error instanceof TypeError || error instanceof RangeError || isDbosError(error);
}

/** One line saying what an error is, for failure messages. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.constructor?.name ?? 'Error'}${code === undefined ? ' without a code' : ` code=${String(code)}`}: ${error.message}`;
  }
  return `a thrown non-Error: ${String(error)}`;
}
