// The harness itself: each kind of broken contract is reported, with the call that broke it.
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { caseSeed, hostileRuns, isCodedError, makeBuffer, runHostileCase } from '../src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/cases.ts', import.meta.url));
const run = (name: string, timeoutMs = 20_000) => runHostileCase(fixture, name, { runs: 30, timeoutMs });

test('coded TypeError, RangeError and rejections hold the contract', async () => {
  expect(await run('holds: coded errors only')).toBe(null);
  expect(await run('holds: scenario with coded error')).toBe(null);
});

test('a plain Error fails and names the shrunk call', async () => {
  expect(await run('breaks: plain Error')).toMatch(/threw Error without a code: plain[\s\S]*4/);
});

test('an uncoded rejection fails', async () => {
  expect(await run('breaks: uncoded rejection')).toMatch(/rejected with TypeError without a code/);
});

test('a segfault names the signal and the call that caused it', async () => {
  expect(await run('breaks: segfault')).toMatch(/died with SIGSEGV; last call: breaks: segfault\(\[(5[1-9]|[6-9]\d|100)\]\)/);
});

test('an abort and a hang are failures', async () => {
  expect(await run('breaks: abort')).toMatch(/died with SIGABRT/);
  expect(await run('breaks: hang', 3_000)).toMatch(/hung/);
});

test('a late unhandled rejection is a failure', async () => {
  expect(await run('breaks: late unhandled rejection')).toMatch(/unhandled promise rejection/);
});

test('error classification and seeds', () => {
  expect(isCodedError(Object.assign(new TypeError('x'), { code: 'DBOS_EINVAL' }))).toBe(true);
  expect(isCodedError(Object.assign(new Error('x'), { code: 'DBOS_EINVAL' }))).toBe(false);
  class DbosError extends Error {
    code = 'ENOENT';
  }
  expect(isCodedError(new DbosError('x'))).toBe(true);
  expect(isCodedError(Object.assign(new RangeError('x'), { code: 'lowercase' }))).toBe(false);
  expect(caseSeed('a')).toBe(caseSeed('a'));
  expect(caseSeed('a')).not.toBe(caseSeed('b'));
  expect(hostileRuns(7)).toBeGreaterThan(0);
});

test('hostile buffers are in the state they claim', () => {
  expect(makeBuffer('detached', 64).byteLength).toBe(0);
  expect(makeBuffer('transferred', 64).byteLength).toBe(0);
  expect(makeBuffer('shared', 64).buffer).toBeInstanceOf(SharedArrayBuffer);
  expect(makeBuffer('offset-view', 64).byteOffset).toBe(7);
  expect(makeBuffer('shrunk', 300).byteLength).toBeLessThan(300);
});
