// Hostile arguments shaped like @dbos/scheduler's: pool options, task calls, task options.
import fc from 'fast-check';
import { hostileNumber, hostileOptions, hostileValue, mostly } from '@dbos/hostile';
import { TASKS } from '../helpers.js';

/** A module: the fixture (path or URL forms), paths that do not load, or anything hostile. */
export const moduleArgument = fc.oneof(
  { arbitrary: fc.constantFrom<unknown>(TASKS, TASKS.href, TASKS.pathname), weight: 4 },
  {
    arbitrary: fc.constantFrom<unknown>(
      '/',
      '/nonexistent/tasks.mjs',
      '/etc/hostname',
      'file:///nonexistent.mjs',
      'file://host/share.mjs',
      'relative.mjs',
      './tasks.mjs',
      'node:fs',
      'data:text/javascript,export default 1',
      'https://example.com/tasks.mjs',
      new URL('https://example.com/'),
      '/tmp/\0.mjs',
    ),
    weight: 2,
  },
  { arbitrary: hostileValue(), weight: 1 },
);

/** Exported names: ones whose tasks end quickly on any cloned argument, others, or hostile. */
export const nameArgument = fc.oneof(
  { arbitrary: fc.constantFrom<unknown>('echo', 'noop', 'info', 'default', undefined), weight: 4 },
  { arbitrary: fc.constantFrom<unknown>('missing', '', 'constructor', '__proto__', 'then'), weight: 1 },
  { arbitrary: hostileValue(), weight: 1 },
);

/** Arguments: values structuredClone takes, values it refuses, hostile arrays, not arrays. */
export const argsArgument = fc.oneof(
  { arbitrary: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }), weight: 3 },
  { arbitrary: fc.array(hostileValue(), { maxLength: 3 }), weight: 3 },
  {
    arbitrary: fc
      .constantFrom<() => unknown>(
        () => [new SharedArrayBuffer(16), new Map([[1, 2]]), new Set([1]), 10n ** 30n],
        () => Object.assign(new Array(3), { 1: 1 }),
        () => Object.assign([1, 2], { length: 2 ** 32 - 1 }),
        () => new Array(70_000),
        () => new Proxy([1], {}),
        () => [new Proxy({}, {})],
        () => [
          function named() {
            return 1;
          },
        ],
        () => [Symbol('s')],
        () => [new WeakMap()],
        () => [{ [Symbol.toPrimitive]: () => 1 }],
        () => {
          const cycle: unknown[] = [];
          cycle.push(cycle);
          return cycle;
        },
      )
      .map((make) => make()),
    weight: 2,
  },
  { arbitrary: hostileValue(), weight: 1 },
);

/** A task call object, or anything hostile. */
export const callArgument = fc.oneof(
  { arbitrary: fc.record({ module: mostly(moduleArgument, 6), name: nameArgument, args: argsArgument }, { requiredKeys: [] }), weight: 5 },
  { arbitrary: hostileOptions(['module', 'name', 'args']), weight: 1 },
);

const timeMs = fc.oneof(
  { arbitrary: fc.constantFrom(1, 5, 50, 1000, Number.POSITIVE_INFINITY, 2 ** 31 - 1, 2 ** 31, 0, -1, 0.5), weight: 3 },
  { arbitrary: hostileNumber(), weight: 1 },
  { arbitrary: hostileValue(), weight: 1 },
);

/** An AbortSignal in every state, or something that only looks like one. */
export const signalArgument = fc.oneof(
  {
    arbitrary: fc
      .constantFrom<() => unknown>(
        () => new AbortController().signal,
        () => AbortSignal.abort(),
        () => AbortSignal.abort(new Error('reason')),
        () => AbortSignal.timeout(1),
        () => {
          const controller = new AbortController();
          queueMicrotask(() => controller.abort());
          return controller.signal;
        },
        () => ({ aborted: true, addEventListener() {} }),
        () => new EventTarget(),
      )
      .map((make) => make()),
    weight: 3,
  },
  { arbitrary: hostileValue(), weight: 1 },
);

/** Task options, or anything hostile. */
export const taskOptions = fc.oneof(
  {
    arbitrary: fc.record(
      {
        priority: mostly(fc.constantFrom('latency', 'normal', 'background'), 4),
        signal: signalArgument,
        deadlineMs: timeMs,
        hardLimitMs: timeMs,
        terminateAfterMs: timeMs,
      },
      { requiredKeys: [] },
    ),
    weight: 4,
  },
  { arbitrary: fc.constantFrom<unknown>({ priority: 'LATENCY' }, { priority: 'urgent' }, { priority: 0 }, { priority: 2 }), weight: 1 },
  { arbitrary: hostileOptions(['priority', 'signal', 'deadlineMs', 'hardLimitMs', 'terminateAfterMs']), weight: 1 },
);

/** Pool options, or anything hostile. */
export const poolOptions = fc.oneof(
  {
    arbitrary: fc.record(
      {
        size: mostly(fc.integer({ min: 0, max: 300 }), 4),
        quantumUs: mostly(fc.constantFrom(0, 1, 49, 50, 51, 1000, 99_999, 100_000, 100_001, 2 ** 32 + 1000), 4),
        agingMs: timeMs,
        module: moduleArgument,
        hardLimitMs: timeMs,
        terminateAfterMs: timeMs,
        onHardLimit: mostly(
          fc.constantFrom(
            () => {},
            () => {
              throw new Error('listener fails');
            },
          ),
        ),
      },
      { requiredKeys: [] },
    ),
    weight: 4,
  },
  { arbitrary: hostileOptions(['size', 'quantumUs', 'agingMs', 'module', 'hardLimitMs', 'terminateAfterMs', 'onHardLimit']), weight: 1 },
);

/** A task id: ids the pool may have handed out, or hostile numbers and values. */
export const taskIdArgument = fc.oneof(
  { arbitrary: fc.integer({ min: -2, max: 64 }), weight: 3 },
  { arbitrary: fc.constantFrom(2 ** 31 - 1, 2 ** 31, 2 ** 53, -0), weight: 1 },
  { arbitrary: hostileNumber(), weight: 1 },
  { arbitrary: hostileValue(), weight: 1 },
);

/** close() options. */
export const closeOptions = fc.oneof(
  { arbitrary: fc.record({ mode: mostly(fc.constantFrom('drain', 'cancel'), 4) }, { requiredKeys: [] }), weight: 3 },
  { arbitrary: fc.constantFrom<unknown>({ mode: 'DRAIN' }, { mode: 'abort' }, null, 'cancel'), weight: 1 },
  { arbitrary: hostileOptions(['mode']), weight: 1 },
);
