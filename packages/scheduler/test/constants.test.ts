// The constants come from the C headers (dbos/scheduler.h, dbos/tasks.h) through the addon, and
// agree with each other.
import { expect, test } from 'vitest';
import {
  AGING_MS_DEFAULT,
  AGING_MS_MAX,
  HARD_LIMIT_MS_DEFAULT,
  POOL_SIZE_MAX,
  PRIORITIES,
  QUANTUM_US_DEFAULT,
  QUANTUM_US_MAX,
  QUANTUM_US_MIN,
  TIME_LIMIT_MS_MAX,
} from '../src/index.js';
import { addon } from '../src/native.js';

test('priority classes, most urgent first, numbered as the native scheduler numbers them', () => {
  expect(PRIORITIES).toEqual(['latency', 'normal', 'background']);
  for (const [index, name] of PRIORITIES.entries()) expect(addon.schedPriorities[name]).toBe(index);
  expect(Object.isFrozen(PRIORITIES)).toBe(true);
});

test('the quantum range is the native scheduler’s: 50 µs to 100 ms, default 1 ms', () => {
  expect([QUANTUM_US_MIN, QUANTUM_US_DEFAULT, QUANTUM_US_MAX]).toEqual([50, 1000, 100_000]);
  expect(addon.schedLimits.quantumUsMin).toBe(QUANTUM_US_MIN);
  expect(addon.schedLimits.quantumUsMax).toBe(QUANTUM_US_MAX);
  expect(addon.schedLimits.quantumUsDefault).toBe(QUANTUM_US_DEFAULT);
});

test('limits relate: aging, pool size, time limits', () => {
  expect(AGING_MS_DEFAULT).toBe(addon.schedLimits.agingUsDefault / 1000);
  expect(AGING_MS_MAX).toBe(addon.schedLimits.agingUsMax / 1000);
  expect(AGING_MS_DEFAULT).toBeLessThanOrEqual(AGING_MS_MAX);
  expect(POOL_SIZE_MAX).toBe(addon.schedLimits.workersMax);
  expect(HARD_LIMIT_MS_DEFAULT).toBeGreaterThan(QUANTUM_US_MAX / 1000);
  expect(TIME_LIMIT_MS_MAX).toBe(2 ** 31 - 1);
});

test('the shared-memory layout: one cache line per slot, the words inside it', () => {
  const layout = addon.tasksLayout;
  expect(layout.headerWords * 4).toBe(64);
  expect(layout.slotWords * 4).toBe(64);
  const words = [layout.epoch, layout.class, layout.yield, layout.suspendedBest, layout.ranEpoch, layout.ranUs, layout.cancel];
  expect(new Set(words).size).toBe(words.length);
  for (const word of words) expect(word).toBeLessThan(layout.slotWords);
  expect(layout.waitingBest).toBeLessThan(layout.headerWords);
  expect(layout.classNone).toBe(PRIORITIES.length);
});
