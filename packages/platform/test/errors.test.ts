// fromNative: the one conversion from a binding's error to what callers catch.
import { expect, test } from 'vitest';
import { DbosError, callNative, fromNative, registerNativeError, settleNative } from '../src/errors.js';

const coded = (error: Error, code: string) => Object.assign(error, { code });

test('coded native errors become DbosError, DBOS_ERANGE a RangeError, misuse stays', () => {
  const io = fromNative(coded(new Error('disk on fire'), 'DBOS_EIO'), 'write') as DbosError;
  expect(io).toBeInstanceOf(DbosError);
  expect(io.code).toBe('DBOS_EIO');
  expect(io.message).toBe('write: disk on fire');
  expect((io as Error & { cause?: unknown }).cause).toBeInstanceOf(Error);
  expect(fromNative(coded(new Error('no such file'), 'ENOENT'))).toMatchObject({ name: 'DbosError', code: 'ENOENT' });
  const range = fromNative(coded(new Error('past the end'), 'DBOS_ERANGE'));
  expect(range).toBeInstanceOf(RangeError);
  expect(range).toMatchObject({ code: 'DBOS_ERANGE' });
  const misuse = coded(new TypeError('size must be a number'), 'DBOS_EINVAL');
  expect(fromNative(misuse)).toBe(misuse);
  const bug = new Error('no code: a bug');
  expect(fromNative(bug)).toBe(bug);
  expect(fromNative('a string')).toBe('a string');
});

test('a registered upgrade makes the subclass; the last registration wins', () => {
  class FirstError extends DbosError {}
  class SecondError extends DbosError {}
  registerNativeError('DBOS_ELIMIT', (error) => new FirstError(error.code, error.message));
  expect(fromNative(coded(new Error('x'), 'DBOS_ELIMIT'))).toBeInstanceOf(FirstError);
  registerNativeError('DBOS_ELIMIT', (error) => new SecondError(error.code, error.message));
  expect(fromNative(coded(new Error('x'), 'DBOS_ELIMIT'))).toBeInstanceOf(SecondError);
  expect(() => registerNativeError('not a code', () => new DbosError('DBOS_EIO', ''))).toThrow(
    expect.objectContaining({ code: 'DBOS_EINVAL' }),
  );
});

test('callNative and settleNative convert what they catch', async () => {
  expect(() =>
    callNative(() => {
      throw coded(new Error('busy'), 'DBOS_EBUSY');
    }, 'close'),
  ).toThrow(expect.objectContaining({ name: 'DbosError', code: 'DBOS_EBUSY', message: 'close: busy' }));
  expect(callNative(() => 7)).toBe(7);
  await expect(settleNative(Promise.reject(coded(new Error('gone'), 'DBOS_ECLOSED')))).rejects.toMatchObject({
    name: 'DbosError',
    code: 'DBOS_ECLOSED',
  });
  await expect(settleNative(Promise.resolve(3))).resolves.toBe(3);
});

test('loadAddon: no addon that loads is DBOS_ENOENT (with the loader error as cause); a bad URL DBOS_EINVAL', async () => {
  const { loadAddon } = await import('../src/load-addon.js');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { pathToFileURL } = await import('node:url');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-no-addon-'));
  try {
    fs.mkdirSync(path.join(root, 'dist'));
    const moduleUrl = pathToFileURL(path.join(root, 'dist', 'index.js')).href;
    let thrown: unknown;
    try {
      loadAddon(moduleUrl);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DbosError);
    expect(thrown).toMatchObject({ code: 'DBOS_ENOENT' });
    expect((thrown as Error).message).toContain(root);
    expect((thrown as Error & { cause?: unknown }).cause).toBeInstanceOf(Error);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  expect(() => loadAddon('not a url')).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
});
