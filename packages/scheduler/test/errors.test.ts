// Every error the package throws or rejects with, along its paths, is a TypeError / RangeError for
// misuse or a DbosError, with a stable code (a DBOS_E… code of the C status enum, or an errno
// name: ECANCELED, EOWNERDEAD). A task's own error is the one exception: it comes back as thrown.
import { DbosError, STATUS_CODES } from '@dbos/platform';
import { afterAll, expect, test } from 'vitest';
import { TaskPool } from '../src/index.js';
import { Gate, TASKS, codeOf, rejection, waitFor } from './helpers.js';

type Kind = 'DbosError' | 'TypeError' | 'RangeError';
const classes = { DbosError, TypeError, RangeError };
const ERRNO_CODES = ['ECANCELED', 'EOWNERDEAD'];

function check(error: unknown, code: string, kind: Kind): void {
  expect(error, String(error)).toBeInstanceOf(classes[kind]);
  if (kind !== 'DbosError') expect(error).not.toBeInstanceOf(DbosError);
  expect(codeOf(error)).toBe(code);
  expect([...STATUS_CODES, ...ERRNO_CODES]).toContain(code);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

const expectThrow = (fn: () => unknown, code: string, kind: Kind): void => check(thrown(fn), code, kind);
const expectReject = async (promise: Promise<unknown>, code: string, kind: Kind): Promise<void> =>
  check(await rejection(promise), code, kind);

const pool = new TaskPool({ module: TASKS, size: 1 });
afterAll(() => pool.close({ mode: 'cancel' }));

test('pool options: wrong types are TypeError DBOS_EINVAL, numbers out of range RangeError DBOS_ERANGE', () => {
  expectThrow(() => new TaskPool({ size: 0 }), 'DBOS_ERANGE', 'RangeError');
  expectThrow(() => new TaskPool({ size: 257 }), 'DBOS_ERANGE', 'RangeError');
  expectThrow(() => new TaskPool({ size: 1.5 }), 'DBOS_EINVAL', 'TypeError');
  expectThrow(() => new TaskPool({ quantumUs: 49 }), 'DBOS_ERANGE', 'RangeError');
  expectThrow(() => new TaskPool({ quantumUs: 100_001 }), 'DBOS_ERANGE', 'RangeError');
  expectThrow(() => new TaskPool({ quantumUs: '1000' as unknown as number }), 'DBOS_EINVAL', 'TypeError');
  expectThrow(() => new TaskPool({ quantumUs: Number.NaN }), 'DBOS_EINVAL', 'TypeError');
  expectThrow(() => new TaskPool({ agingMs: 0 }), 'DBOS_ERANGE', 'RangeError');
  expectThrow(() => new TaskPool({ agingMs: 60_001 }), 'DBOS_ERANGE', 'RangeError');
  expectThrow(() => new TaskPool({ hardLimitMs: 0 }), 'DBOS_ERANGE', 'RangeError');
  expectThrow(() => new TaskPool({ terminateAfterMs: -1 }), 'DBOS_ERANGE', 'RangeError');
  expectThrow(() => new TaskPool({ hardLimitMs: Number.NaN }), 'DBOS_EINVAL', 'TypeError');
  expectThrow(() => new TaskPool({ onHardLimit: 'log' as unknown as () => void }), 'DBOS_EINVAL', 'TypeError');
  expectThrow(() => new TaskPool({ module: 'relative/tasks.mjs' }), 'DBOS_EINVAL', 'TypeError');
  expectThrow(() => new TaskPool({ module: new URL('https://example.com/tasks.mjs') }), 'DBOS_EINVAL', 'TypeError');
  expectThrow(() => new TaskPool(null as unknown as object), 'DBOS_EINVAL', 'TypeError');
});

test('the quantum limits are exactly 50 µs and 100 ms', async () => {
  for (const quantumUs of [50, 100_000]) await new TaskPool({ quantumUs, size: 1 }).close();
});

test('task calls and options: TypeError DBOS_EINVAL / RangeError DBOS_ERANGE, thrown by submit, rejected by run', async () => {
  const bad: [unknown, unknown, string, Kind][] = [
    [{ name: 'noop' }, { priority: 'urgent' }, 'DBOS_EINVAL', 'TypeError'],
    [{ name: 'noop' }, { priority: 0 }, 'DBOS_EINVAL', 'TypeError'],
    [{ name: 7 }, undefined, 'DBOS_EINVAL', 'TypeError'],
    [{ name: 'noop', args: 'a' }, undefined, 'DBOS_EINVAL', 'TypeError'],
    [{ name: 'noop', args: { length: 1 } }, undefined, 'DBOS_EINVAL', 'TypeError'],
    [{ name: 'noop', args: new Array(70_000) }, undefined, 'DBOS_ERANGE', 'RangeError'],
    [{ name: 'noop' }, { signal: {} }, 'DBOS_EINVAL', 'TypeError'],
    [{ name: 'noop' }, { deadlineMs: -1 }, 'DBOS_ERANGE', 'RangeError'],
    [{ name: 'noop' }, { deadlineMs: 2 ** 31 }, 'DBOS_ERANGE', 'RangeError'],
    [{ name: 'noop' }, { hardLimitMs: '5' }, 'DBOS_EINVAL', 'TypeError'],
    [{ name: 'noop', module: 'tasks.mjs' }, undefined, 'DBOS_EINVAL', 'TypeError'],
    [{ name: 'noop', module: 42 }, undefined, 'DBOS_EINVAL', 'TypeError'],
    [null, undefined, 'DBOS_EINVAL', 'TypeError'],
    [{ name: 'noop' }, 5, 'DBOS_EINVAL', 'TypeError'],
  ];
  for (const [call, options, code, kind] of bad) {
    expectThrow(() => pool.submit(call as object, options as object), code, kind);
    await expectReject(pool.run(call as object, options as object), code, kind);
  }
  const noModule = new TaskPool({ size: 1 });
  expectThrow(() => noModule.submit({ name: 'noop' }), 'DBOS_EINVAL', 'TypeError');
  await noModule.close();
});

test('failures on the worker: a missing module or export is DBOS_ENOENT, uncloneable values DBOS_EINVAL', async () => {
  await expectReject(pool.run({ module: new URL('./fixtures/missing.mjs', import.meta.url) }), 'DBOS_ENOENT', 'DbosError');
  await expectReject(pool.run({ name: 'notExported' }), 'DBOS_ENOENT', 'DbosError');
  await expectReject(pool.run({ name: 'unclonable' }), 'DBOS_EINVAL', 'TypeError');
  await expectReject(pool.run({ name: 'echo', args: [() => 1] }), 'DBOS_EINVAL', 'TypeError');
  await expectReject(
    pool.run({ name: 'throwValue', args: [Symbol.for('x')] }).catch((error) => Promise.reject(error)),
    'DBOS_EINVAL',
    'TypeError',
  );
  // The pool still works after each.
  expect(await pool.run({ name: 'add', args: [1, 1] })).toBe(2);
});

test('cancellation, deadlines, termination and worker death carry their codes', async () => {
  const gate = new Gate();
  const blocked = pool.run({ name: 'block', args: [gate.buffer] });
  await waitFor(() => gate.arrived === 1);
  const handle = pool.submit({ name: 'noop' });
  expect(handle.cancel()).toBe(true);
  await expectReject(handle.result, 'ECANCELED', 'DbosError');
  await expectReject(pool.run({ name: 'noop' }, { deadlineMs: 5 }), 'DBOS_ETIMEDOUT', 'DbosError');
  gate.open();
  await blocked;
  const runaway = pool.submit({ name: 'forever' });
  await waitFor(() => pool.stats().running === 1);
  pool.terminate(runaway.id);
  await expectReject(runaway.result, 'ECANCELED', 'DbosError');
  await expectReject(pool.run({ name: 'forever' }, { terminateAfterMs: 20 }), 'DBOS_ETIMEDOUT', 'DbosError');
  await expectReject(pool.run({ name: 'exitWorker', args: [1] }), 'EOWNERDEAD', 'DbosError');
  expectThrow(() => pool.terminate('1' as unknown as number), 'DBOS_EINVAL', 'TypeError');
  expectThrow(() => pool.terminate(1.5), 'DBOS_EINVAL', 'TypeError');
});

test('after close: submit throws and run rejects with DBOS_ECLOSED; a bad close mode is a TypeError', async () => {
  const closing = new TaskPool({ module: TASKS, size: 1 });
  await expectReject(closing.close({ mode: 'later' as 'drain' }), 'DBOS_EINVAL', 'TypeError');
  await expectReject(closing.close(null as unknown as { mode: 'drain' }), 'DBOS_EINVAL', 'TypeError');
  expect(closing.closed).toBe(false);
  const queued = rejection(closing.run({ name: 'forever' }));
  await closing.close({ mode: 'cancel' });
  check(await queued, 'DBOS_ECLOSED', 'DbosError');
  expectThrow(() => closing.submit({ name: 'noop' }), 'DBOS_ECLOSED', 'DbosError');
  await expectReject(closing.run({ name: 'noop' }), 'DBOS_ECLOSED', 'DbosError');
  await closing.close(); // idempotent, whatever the mode
  expect(closing.stats().workers).toBe(0);
});
