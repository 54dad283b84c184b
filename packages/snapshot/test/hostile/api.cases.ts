// Every public function and method of @dbos/snapshot under hostile arguments, once per mechanism this
// machine runs: each call returns, or throws / rejects a TypeError, RangeError or DbosError with a code.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { call, hostileBuffer, hostileNumber, hostileValue, mostly, TRAP_ERROR, type CaseTable, type HostileCase } from '@dbos/hostile';
import { createSpace, PAGE_SIZE, Snapshot, SnapshotSpace } from '../../src/index.js';
import type { SnapshotMechanism } from '../../src/index.js';
import {
  MECHANISMS,
  PAGES,
  SIZE,
  bufferArg,
  byteArg,
  closeFixture,
  fixture,
  openSpace,
  optionsArg,
  pageArg,
  pathArg,
  scratchDir,
  writeImages,
  type Fixture,
} from './support.js';

/** Valid sizes are small or the call would reserve (with populate: fault in) real memory. */
const sizeArg = fc.oneof(
  { arbitrary: fc.constantFrom(4096, 8192, SIZE, 1 << 20, 2 ** 42, 2 ** 42 + 4096, 4095, 0), weight: 3 },
  { arbitrary: hostileNumber(), weight: 2 },
  { arbitrary: hostileValue(), weight: 1 },
);

/** createSpace options: each field valid or hostile. A big valid size never comes with populate or a big reserve. */
const spaceOptions = optionsArg({
  size: sizeArg,
  mechanism: fc.constantFrom('auto', 'epoch', 'uffd-wp', 'fork', 'toString', '__proto__', 'EPOCH'),
  writes: fc.constantFrom('barrier', 'raw', 'sometimes'),
  hugePages: fc.boolean(),
  populate: fc.boolean(),
  copyReserve: fc.constantFrom(4096, 1 << 20, 100, 2 ** 46, 2 ** 46 + 4096, 2 ** 50),
  runtime: fc.constantFrom('host', 'guest', 'kvm'),
}).filter((options) => {
  if (typeof options !== 'object' || options === null) return true;
  const { size, populate, copyReserve } = options as Record<string, unknown>;
  const big = (value: unknown) => typeof value === 'number' && value > 2 ** 24;
  return !(populate === true && big(size)) && !(big(copyReserve) && typeof copyReserve === 'number' && copyReserve <= 2 ** 40);
});

/** writeTo's target: a path in the scratch directory, an open file, descriptors that are not writable, or hostile. */
function writeTarget(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.constantFrom('image.img', 'sub/missing.img', '/dev/null', '/dev/full', '.', ''), weight: 3 },
    { arbitrary: fc.constantFrom('file', 'read-only', 'closed', 'full').map((kind) => ({ fd: kind })), weight: 2 },
    { arbitrary: fc.constantFrom(-1, 0.5, 2 ** 31, 2 ** 31 - 1, Number.NaN, -0), weight: 1 },
    { arbitrary: hostileValue(), weight: 1 },
  );
}

/** An fd target turned into a number at call time (files opened in the scratch directory). */
function resolveTarget(target: unknown): { value: unknown; close: () => void } {
  if (typeof target !== 'object' || target === null || !('fd' in target)) return { value: target, close: () => {} };
  const dir = scratchDir();
  const kind = (target as { fd: string }).fd;
  if (kind === 'closed') {
    const fd = fs.openSync(path.join(dir, 'closed.img'), 'w');
    fs.closeSync(fd);
    return { value: fd, close: () => {} };
  }
  const fd =
    kind === 'full' ? fs.openSync('/dev/full', 'w') : fs.openSync(path.join(dir, `${kind}.img`), kind === 'read-only' ? 'a+' : 'w+');
  if (kind === 'read-only') {
    fs.closeSync(fd);
    const readOnly = fs.openSync(path.join(dir, `${kind}.img`), 'r');
    return { value: readOnly, close: () => fs.closeSync(readOnly) };
  }
  return { value: fd, close: () => fs.closeSync(fd) };
}

const progressCallback = fc.constantFrom<unknown>(
  () => {},
  () => {
    throw Object.assign(new Error('progress trap'), { [TRAP_ERROR]: true });
  },
  'not a function',
  null,
  42,
);

function perMechanism(mechanism: SnapshotMechanism): Record<string, HostileCase> {
  const lifecycle = { setup: fixture(mechanism), teardown: closeFixture };
  const on = (name: string) => `${name} [${mechanism}]`;
  return {
    [on('SnapshotSpace.write(offset, data)')]: call(
      [byteArg(), bufferArg(PAGE_SIZE)],
      (target, offset, data) => (target as Fixture).space.write(offset as never, data as never),
      lifecycle,
    ),
    [on('SnapshotSpace.beginWrite(page) / endWrite()')]: call(
      [pageArg(), fc.boolean()],
      (target, page, end) => {
        const { space } = target as Fixture;
        try {
          space.beginWrite(page as never).fill(3);
        } finally {
          if (end) space.endWrite();
        }
      },
      { setup: lifecycle.setup, teardown: (target) => closeFixture(target) },
    ),
    [on('SnapshotSpace.snapshot() x n, then release')]: call(
      [fc.integer({ min: 0, max: 18 })],
      (target, count) => {
        const { space } = target as Fixture;
        const taken = [];
        try {
          for (let i = 0; i < count; i++) taken.push(space.snapshot());
        } finally {
          for (const snapshot of taken) snapshot.release();
        }
      },
      lifecycle,
    ),
    [on('Snapshot.readPage(page, target)')]: call(
      [pageArg(), fc.oneof(fc.constant(undefined), bufferArg(PAGE_SIZE))],
      (target, page, bytes) => (target as Fixture).snapshot.readPage(page as never, bytes as never),
      lifecycle,
    ),
    [on('Snapshot.read(offset, length, target)')]: call(
      [byteArg(), byteArg(), fc.oneof(fc.constant(undefined), bufferArg(SIZE))],
      (target, offset, length, bytes) => (target as Fixture).snapshot.read(offset as never, length as never, bytes as never),
      lifecycle,
    ),
    [on('Snapshot.pages(options)')]: call(
      [optionsArg({ start: pageArg(PAGES + 1), end: pageArg(PAGES + 1), batch: fc.constantFrom(0, 1, 7, 64, 4096, 4097) })],
      (target, options) => {
        let pages = 0;
        for (const [index, bytes] of (target as Fixture).snapshot.pages(options as never)) {
          if (bytes.byteLength !== PAGE_SIZE || index >= PAGES) throw new Error(`page ${index} of ${bytes.byteLength} bytes`);
          pages++;
        }
        return pages;
      },
      lifecycle,
    ),
    [on('Snapshot.writeTo(target, options)')]: call(
      [
        writeTarget(),
        optionsArg({ onProgress: progressCallback, progressIntervalBytes: fc.constantFrom(0, 1, 4096, 2 ** 53 - 1), sync: fc.boolean() }),
      ],
      async (target, where, options) => {
        const { value, close } = resolveTarget(where);
        try {
          await (target as Fixture).snapshot.writeTo(value as never, options as never);
        } finally {
          close();
        }
      },
      lifecycle,
    ),
    [on('no-argument calls and getters')]: call(
      [fc.constantFrom('dirtySince', 'copies', 'released', 'stats', 'memory', 'nativeHandle', 'closed', 'mechanism', 'endWrite')],
      (target, name) => {
        const { space, snapshot } = target as Fixture;
        switch (name) {
          case 'dirtySince':
            return snapshot.dirtySince();
          case 'copies':
            return snapshot.copies;
          case 'released':
            return snapshot.released;
          case 'stats':
            return space.stats();
          case 'memory':
            return space.memory.byteLength;
          case 'nativeHandle':
            return space.nativeHandle();
          case 'closed':
            return space.closed;
          case 'endWrite':
            return space.endWrite();
          default:
            return space.mechanism;
        }
      },
      lifecycle,
    ),
    [on('SnapshotSpace.load(path)')]: call(
      [pathArg(['@good', '@corrupt', '@other'])],
      async (target, where) => {
        const { space, images } = target as { space: SnapshotSpace; images: Record<string, string> };
        const image = typeof where === 'string' && where.startsWith('@') ? images[where.slice(1)] : where;
        await space.load(image as never);
      },
      {
        setup: async () => ({ space: openSpace(mechanism), images: await writeImages() }),
        teardown: (target) => (target as { space: SnapshotSpace }).space.close(),
      },
    ),
  };
}

const prototypes = {
  space: SnapshotSpace.prototype as unknown as Record<string, unknown>,
  snapshot: Snapshot.prototype as unknown as Record<string, unknown>,
};
const memberNames = [
  ...Object.getOwnPropertyNames(SnapshotSpace.prototype).map((name) => ['space', name] as const),
  ...Object.getOwnPropertyNames(Snapshot.prototype).map((name) => ['snapshot', name] as const),
].filter(([, name]) => name !== 'constructor');

export default {
  'createSpace(options)': call([spaceOptions], (_target, options) => createSpace(options as never).close(), { setup: scratchDir }),
  'createSpace(any value)': call([hostileValue()], (_target, options) => createSpace(options as never).close()),
  ...Object.assign({}, ...MECHANISMS.map(perMechanism)),
  // The classes are exported (for instanceof and types): their constructors must refuse callers.
  'new SnapshotSpace(...) / new Snapshot(...)': call(
    [fc.boolean(), hostileValue(), hostileValue(), mostly(fc.constantFrom(4096, 0)), hostileValue()],
    (target, space, a, b, c, d) => {
      const real = (target as Fixture).space;
      if (space) return Reflect.construct(SnapshotSpace, [a, b, c, d]);
      return Reflect.construct(Snapshot, [a, b ?? real, c, d]);
    },
    { setup: fixture('epoch'), teardown: closeFixture },
  ),
  // Methods and getters taken off the prototypes and called on something else.
  'methods and getters with a foreign this': call(
    [
      fc.constantFrom(...memberNames),
      fc.oneof(hostileValue(), fc.constant('fixture-space'), fc.constant('fixture-snapshot')),
      hostileValue(),
      hostileBuffer(),
    ],
    async (target, [kind, name], self, a, b) => {
      const { space, snapshot } = target as Fixture;
      const receiver = self === 'fixture-space' ? snapshot : self === 'fixture-snapshot' ? space : self; // the wrong one of ours, or anything
      const descriptor = Object.getOwnPropertyDescriptor(prototypes[kind], name)!;
      if (descriptor.get) return descriptor.get.call(receiver);
      const result = (descriptor.value as (...args: unknown[]) => unknown).call(receiver, a, b);
      if (result && typeof (result as Iterator<unknown>).next === 'function') (result as Iterator<unknown>).next();
      return result;
    },
    { setup: fixture('epoch'), teardown: closeFixture },
  ),
} satisfies CaseTable;
