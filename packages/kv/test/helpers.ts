// What the kv tests share: scratch directories, coded-error checks and child processes.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DbosError, STATUS_CODES } from '@dbos/platform';
import { expect } from 'vitest';

/** A new directory under the temporary directory (the store goes in `dir/store`); removed by `remove`. */
export function scratch(name: string): { root: string; dir: string; path: (base: string) => string; remove: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `dbos-kv-${name}-`));
  return {
    root,
    dir: path.join(root, 'store'),
    path: (base) => path.join(root, base),
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

type Kind = 'DbosError' | 'TypeError' | 'RangeError';

/** What `fn` throws (fails the test when it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

/** What `promise` rejects with (fails the test when it resolves). */
export async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** `error` is of `kind` with `code`, a code of the C status enum. */
export function expectCoded(error: unknown, code: string, kind: Kind): void {
  const classes = { DbosError, TypeError, RangeError };
  expect(error, String(error)).toBeInstanceOf(classes[kind]);
  if (kind !== 'DbosError') expect(error).not.toBeInstanceOf(DbosError);
  expect((error as { code?: unknown }).code, String(error)).toBe(code);
  expect(STATUS_CODES).toContain(code);
}

export function expectError(fn: () => unknown, code: string, kind: Kind): unknown {
  const error = thrown(fn);
  expectCoded(error, code, kind);
  return error;
}

const tsx = import.meta.resolve('tsx');
const children = fileURLToPath(new URL('./children/', import.meta.url));

/** Run test/children/<name>.ts to completion. */
export function runChild(name: string, args: string[], timeout = 30_000) {
  return spawnSync(process.execPath, ['--import', tsx, path.join(children, `${name}.ts`), ...args], { encoding: 'utf8', timeout });
}

/** Start test/children/<name>.ts; its stdout arrives line by line. */
export function startChild(name: string, args: string[]) {
  return spawn(process.execPath, ['--import', tsx, path.join(children, `${name}.ts`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A deterministic pseudo-random generator (xorshift32): tests can be replayed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}
