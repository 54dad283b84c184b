// Every public call of Gateway under hostile arguments, on both backends: the constructor and its
// options, submit / submitSync with every Op shape, readBatch / readBatchSync, close, the getters.
// Each call must return, or throw / reject a coded TypeError, RangeError or DbosError.
import fs from 'node:fs';
import fc from 'fast-check';
import { call, hostileBuffer, hostileOptions, hostileValue, mostly, type CaseTable } from '@dbos/hostile';
import { probe } from '@dbos/platform';
import { Gateway, type GatewayBackend, type Op, type OpResult } from '../../src/gateway.js';
import { dataFd, fixture, notDescriptor, position, small } from './support.js';

const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY, O_NONBLOCK } = fs.constants;
const O_TMPFILE = 0o20200000;
const O_PATH = 0o10000000;
const AT_FDCWD = -100;

const backends: GatewayBackend[] = probe().ioUring.available ? ['io_uring', 'threads'] : ['threads'];

interface Gateways {
  io_uring?: Gateway;
  threads: Gateway;
}

function setup(): Gateways {
  fixture();
  return {
    io_uring: backends.includes('io_uring') ? new Gateway({ backend: 'io_uring', queueDepth: 32 }) : undefined,
    threads: new Gateway({ backend: 'threads', threads: 2 }),
  };
}

async function teardown(target: unknown): Promise<void> {
  const gateways = target as Gateways;
  await Promise.all([gateways.io_uring?.close(), gateways.threads.close()]);
}

const backend = fc.constantFrom(...backends);
const gatewayOf = (target: unknown, name: GatewayBackend): Gateway => (target as Gateways)[name] ?? (target as Gateways).threads;

// ---- Arbitraries of every Op shape ----

const validBuffer = fc.constantFrom(1, 512, 4096, 65536).map((size) => Buffer.alloc(size));
const buffer = () =>
  fc.oneof({ arbitrary: validBuffer, weight: 3 }, { arbitrary: hostileBuffer(4096), weight: 2 }, { arbitrary: hostileValue(), weight: 1 });
const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined, freq: 3 });
const flagsOf = (...valid: number[]) =>
  fc.oneof({ arbitrary: fc.constantFrom(...valid), weight: 3 }, { arbitrary: small(2 ** 32), weight: 1 });
const dirFd = () =>
  fc.oneof(
    { arbitrary: fc.constant(0).map(() => fixture().dirFd), weight: 3 },
    { arbitrary: fc.constantFrom(AT_FDCWD, -1, 99_999, 2 ** 31), weight: 1 },
    { arbitrary: notDescriptor(), weight: 1 },
  );
/** Paths: inside the fixture directory (the child's working directory), refused, or hostile; never absolute and writable. */
const path = () =>
  fc.oneof(
    {
      arbitrary: fc.constantFrom('data', 'sub', 'new', 'sub/../data', '', 'none/x', 'a\0b', '/nonexistent-dbos/x', 'x'.repeat(5000)),
      weight: 3,
    },
    { arbitrary: fc.stringMatching(/^[a-z]{1,8}$/), weight: 2 },
    { arbitrary: fc.constantFrom(Buffer.from('data'), new Uint8Array([100, 0, 97]), new Uint8Array(0)), weight: 1 },
    { arbitrary: notDescriptor(), weight: 1 },
  );
/** A descriptor opened for this op alone: `close` may only ever close what it was given. */
const freshFd = () =>
  fc.oneof(
    { arbitrary: fc.constant(0).map(() => fs.openSync(fixture().data, 'r')), weight: 3 },
    { arbitrary: fc.constantFrom(-1, 99_999, 2 ** 31, 1.5), weight: 1 },
    { arbitrary: notDescriptor(), weight: 1 },
  );

const OPS = {
  'pread / pwrite': fc.record(
    {
      op: fc.constantFrom('pread', 'pwrite'),
      fd: dataFd(),
      buffer: buffer(),
      position: position(),
      offset: optional(small(8192)),
      length: optional(small(8192)),
    },
    { requiredKeys: ['op', 'fd', 'buffer', 'position'] },
  ),
  'preadv / pwritev': fc.record(
    {
      op: fc.constantFrom('preadv', 'pwritev'),
      fd: dataFd(),
      buffers: mostly(fc.array(buffer(), { maxLength: 4 })),
      position: position(),
      flags: optional(flagsOf(0, 1, 2, 4, 8, 16)),
    },
    { requiredKeys: ['op', 'fd', 'buffers', 'position'] },
  ),
  'fsync / fdatasync / close': fc.oneof(
    fc.record({ op: fc.constantFrom('fsync', 'fdatasync'), fd: dataFd() }),
    fc.record({ op: fc.constant('close'), fd: freshFd() }),
  ),
  openat: fc.record(
    {
      op: fc.constant('openat'),
      path: path(),
      flags: optional(
        flagsOf(
          O_RDONLY,
          O_RDWR,
          O_RDWR | O_CREAT,
          O_RDONLY | O_DIRECTORY,
          O_RDWR | O_TMPFILE,
          O_PATH,
          O_RDWR | O_CREAT | O_EXCL,
          O_WRONLY | O_TRUNC,
          O_RDONLY | O_NONBLOCK,
        ),
      ),
      mode: optional(flagsOf(0o644, 0o7777, 0o10000, 0)),
      dirfd: optional(dirFd()),
    },
    { requiredKeys: ['op', 'path'] },
  ),
  'fallocate / ftruncate': fc.oneof(
    fc.record(
      { op: fc.constant('fallocate'), fd: dataFd(), position: optional(small()), length: small(), mode: optional(flagsOf(0, 1, 3, 0x10)) },
      { requiredKeys: ['op', 'fd', 'length'] },
    ),
    fc.record({ op: fc.constant('ftruncate'), fd: dataFd(), length: small(1 << 21) }),
  ),
  statx: fc.record(
    {
      op: fc.constant('statx'),
      fd: fc.oneof(dataFd(), dirFd()),
      path: optional(path()),
      flags: optional(flagsOf(0, 0x100, 0x800, 0x1000, 0x2000)),
      mask: optional(flagsOf(0x7ff, 0xfff, 0, 0x80000000)),
    },
    { requiredKeys: ['op', 'fd'] },
  ),
} as const;

const anyOp = fc.oneof(...Object.values(OPS));
const batchOf = (op: fc.Arbitrary<unknown>, minLength = 0) => mostly(fc.array(mostly(op, 5), { minLength, maxLength: 6 }));

/** Close what a batch opened, so a run of openat ops cannot fill the descriptor table. */
function closeOpened(ops: unknown, results: OpResult[]): OpResult[] {
  results.forEach((result, index) => {
    const op = Array.isArray(ops) ? (ops[index] as Partial<Op> | undefined) : undefined;
    if (result.ok && op && typeof op === 'object' && op.op === 'openat' && result.result > 2) fs.closeSync(result.result);
  });
  return results;
}

function submit(target: unknown, name: GatewayBackend, sync: boolean, ops: unknown): unknown {
  const gateway = gatewayOf(target, name);
  if (sync) return closeOpened(ops, gateway.submitSync(ops as Op[]));
  return gateway.submit(ops as Op[]).then((results) => closeOpened(ops, results));
}

const lifecycle = { setup, teardown };

const table: CaseTable = {
  'new Gateway(options)': call([hostileOptions(['backend', 'queueDepth', 'threads'])], async (_t, options) => {
    const gateway = new Gateway(options as never);
    await gateway.close();
  }),
  'new Gateway({ backend, queueDepth, threads })': call(
    [mostly(fc.constantFrom('auto', ...backends)), mostly(fc.integer({ min: 1, max: 4096 })), mostly(fc.integer({ min: 1, max: 8 }))],
    async (_t, name, queueDepth, threads) => {
      const gateway = new Gateway({ backend: name, queueDepth, threads } as never);
      await gateway.close();
    },
  ),
  'submit / submitSync (any ops)': call(
    [backend, fc.boolean(), batchOf(anyOp)],
    (t, name, sync, ops) => submit(t, name, sync, ops),
    lifecycle,
  ),
  'gateway.backend, queueDepth, inflight, closed': call(
    [backend],
    (t, name) => {
      const gateway = gatewayOf(t, name);
      return [gateway.backend, gateway.queueDepth, gateway.inflight, gateway.closed];
    },
    lifecycle,
  ),
  'readBatch / readBatchSync': call(
    [
      backend,
      fc.boolean(),
      fc.oneof(
        { arbitrary: dataFd(), weight: 4 },
        { arbitrary: fc.integer({ min: 0, max: 8 }).map((n) => new Int32Array(n).fill(fixture().dataFd)), weight: 1 },
      ),
      mostly(
        fc.oneof(
          fc
            .array(
              fc.integer({ min: 0, max: 255 }).map((page) => page * 4096),
              { maxLength: 16 },
            )
            .map((list) => Float64Array.from(list)),
          fc.array(position(), { maxLength: 8 }),
        ),
      ),
      small(65536),
      fc.oneof(
        { arbitrary: fc.constant(0).map(() => Buffer.alloc(65536)), weight: 3 },
        { arbitrary: hostileBuffer(65536), weight: 2 },
        { arbitrary: hostileValue(), weight: 1 },
      ),
      fc.oneof(
        fc.constant(undefined),
        fc.integer({ min: 0, max: 16 }).map((n) => new Int32Array(n)),
        hostileValue(),
      ),
    ],
    (t, name, sync, fd, positions, length, buffer, results) => {
      const gateway = gatewayOf(t, name);
      const args = [fd, positions, length, buffer, results] as Parameters<Gateway['readBatch']>;
      return sync ? gateway.readBatchSync(...args) : gateway.readBatch(...args);
    },
    lifecycle,
  ),
  'close(), then every call': call([backend, fc.boolean(), batchOf(anyOp)], async (_t, name, inFlight, ops) => {
    const gateway = new Gateway({ backend: name });
    const pending = inFlight ? gateway.readBatch(fixture().dataFd, [0, 4096], 4096, Buffer.alloc(8192)) : undefined;
    const closing = gateway.close();
    const refused = [
      () => gateway.submit(ops as Op[]),
      () => gateway.submitSync(ops as Op[]),
      () => gateway.readBatch(0, [], 0, Buffer.alloc(0)),
      () => gateway.readBatchSync(0, [], 0, Buffer.alloc(0)),
    ];
    for (const attempt of refused) {
      try {
        await attempt();
        throw new Error('a call on a closed gateway did not throw');
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'DBOS_ECLOSED') throw error;
      }
    }
    if (gateway.close() !== closing) throw new Error('close() is not idempotent');
    await Promise.all([pending, closing]);
    return gateway.inflight;
  }),
};

for (const [shape, op] of Object.entries(OPS)) {
  table[`submit / submitSync: ${shape}`] = call(
    [backend, fc.boolean(), batchOf(op, 1)],
    (t, name, sync, ops) => submit(t, name, sync, ops),
    lifecycle,
  );
}

export default table;
