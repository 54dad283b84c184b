// The engine extension point under hostile values: the handle table's C entry points called from a C
// engine (the test workload, attached through nativeHandle()) with page indexes, offsets and lengths
// as given — numbers and BigInts up to 2^64 - 1, where `first + (count - 1) * stride` or
// `offset + length` would wrap. The core must refuse everything outside the space with a status;
// the workload aborts if the core ever hands back an address outside it.
import fc from 'fast-check';
import { call, hostileBigInt, hostileNumber, hostileValue, type CaseTable, type HostileCase } from '@dbos/hostile';
import type { SnapshotMechanism } from '../../src/index.js';
import * as writers from '../support/writers.js';
import { MECHANISMS, PAGES, SIZE, byteArg, closeFixture, fixture, pageArg, type Fixture } from './support.js';

/** Values near 2^64 and products that wrap to a small number: the arithmetic a C check can get wrong. */
const wide = fc.oneof(
  hostileBigInt(),
  fc.constantFrom(2n ** 64n - 1n, 2n ** 63n, 2n ** 52n + 1n, 2n ** 12n, BigInt(PAGES), BigInt(SIZE), 2n ** 64n - BigInt(SIZE) + 1n),
);

/** [first, count, stride] that wrap: (count - 1) * stride is 2^64, or first + that is. */
const wrapping = fc.constantFrom<[unknown, unknown, unknown]>(
  [0, 2 ** 52 + 1, 4096],
  [1n, 2n ** 63n + 1n, 2n],
  [0n, 2n ** 32n + 1n, 2n ** 32n],
  [2n ** 64n - 1n, 2n, 1n],
  [PAGES - 1, 2, 2n ** 64n - 1n],
  [0, PAGES + 1, 1],
  [0, 1, 0],
  [0, 0, 1],
);

/** [offset, length] whose sum wraps past 2^64 to a small number inside the space. */
const wrappingRange = fc.constantFrom<[unknown, unknown]>(
  [2n ** 64n - BigInt(SIZE) + 1n, BigInt(SIZE)],
  [2n ** 64n - 1n, 2n],
  [BigInt(SIZE), 2n ** 64n - BigInt(SIZE)],
  [4096n, 2n ** 64n - 4095n],
);

function perMechanism(mechanism: SnapshotMechanism): Record<string, HostileCase> {
  const lifecycle = { setup: fixture(mechanism), teardown: closeFixture };
  const on = (name: string) => `${name} [${mechanism}]`;
  return {
    [on('handle page_prepare / write_begin (page)')]: call(
      [fc.constantFrom('page_prepare', 'write_begin'), fc.oneof(pageArg(), wide)],
      (target, entry, page) => writers.handleEntry((target as Fixture).space, entry, page, 0),
      lifecycle,
    ),
    [on('handle write_copy (offset, length)')]: call(
      [
        fc.oneof(
          { arbitrary: fc.tuple(fc.oneof(byteArg(), wide), fc.oneof(byteArg(), wide)), weight: 3 },
          { arbitrary: wrappingRange, weight: 1 },
        ),
      ],
      (target, [offset, length]) => writers.handleEntry((target as Fixture).space, 'write_copy', offset, length),
      lifecycle,
    ),
    [on('engine firstWrites (first, count, stride)')]: call(
      [
        fc.boolean(),
        fc.oneof(
          wrapping,
          fc.tuple(
            fc.oneof(pageArg(), wide),
            fc.oneof(fc.integer({ min: 0, max: PAGES + 1 }), wide, hostileNumber()),
            fc.oneof(fc.integer({ min: 0, max: 3 }), wide, hostileNumber()),
          ),
        ),
      ],
      (target, barrier, [first, count, stride]) =>
        writers.firstWritesRaw((target as Fixture).space, barrier && mechanism === 'epoch', first, count, stride),
      lifecycle,
    ),
  };
}

export default {
  ...Object.assign({}, ...MECHANISMS.map(perMechanism)),
  'handle entry names and engine attach with hostile values': call(
    [fc.oneof(fc.constantFrom('page_prepare', 'write_begin', 'write_copy', 'attach', ''), hostileValue()), hostileValue()],
    (target, entry, handle) => {
      const { space } = target as Fixture;
      try {
        writers.handleEntry(space, entry, 0, 0);
      } finally {
        writers.attachEngine(handle as never).close();
      }
    },
    { setup: fixture('epoch'), teardown: closeFixture },
  ),
} satisfies CaseTable;
