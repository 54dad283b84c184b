import { expect, test } from 'vitest';
import { STATUS_CODES } from '../src/errors.js';
import { addon } from '../src/native.js';

test('TypeScript status codes match the C enum, in order', () => {
  expect(addon.statusNames()).toEqual([...STATUS_CODES]);
});
