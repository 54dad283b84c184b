// Gateway: every op, its error paths, argument checks, big and concurrent batches, and close with
// ops in flight, on both backends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Gateway, type GatewayBackend, type Op } from '../src/gateway.js';
import { addon } from '../src/native.js';
import { probe } from '@dbos/platform';

const { O_RDWR, O_CREAT, O_EXCL, O_RDONLY, O_DIRECT } = fs.constants;
const O_CLOEXEC = 0o2000000; // Linux; not in @types/node's fs.constants
const BLOCK = 4096;
const BLOCKS = 16;

let directory: string;
let dataPath: string;

beforeAll(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-gateway-test-'));
  dataPath = path.join(directory, 'data');
  const data = Buffer.alloc(BLOCK * BLOCKS);
  for (let block = 0; block < BLOCKS; block++) data.fill(block + 1, block * BLOCK, (block + 1) * BLOCK);
  fs.writeFileSync(dataPath, data);
});

afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return `${(error as Error).constructor.name}:${(error as { code?: string }).code}`;
  }
  return undefined;
}

const backends: GatewayBackend[] = probe().ioUring.available ? ['io_uring', 'threads'] : ['threads'];
if (!probe().ioUring.available) console.log(`io_uring backend not tested: io_uring_setup fails here (${probe().ioUring.error})`);

describe.each(backends)('%s backend', (backend) => {
  let gateway: Gateway;
  let fd: number;
  beforeAll(() => {
    gateway = new Gateway({ backend, queueDepth: 64, threads: 3 });
    fd = fs.openSync(dataPath, 'r+');
  });
  afterAll(async () => {
    await gateway.close();
    fs.closeSync(fd);
  });

  test('runs on the backend asked for', () => {
    expect(gateway.backend).toBe(backend);
    expect(gateway.queueDepth).toBe(64);
  });

  test('pread, pwrite, short reads at end of file', async () => {
    const file = path.join(directory, `rw-${backend}`);
    const wfd = fs.openSync(file, 'w+');
    const out = Buffer.from('hello, gateway');
    const [written] = await gateway.submit([{ op: 'pwrite', fd: wfd, buffer: out, position: 100 }]);
    expect(written).toEqual({ ok: true, result: out.length, error: null });
    const into = Buffer.alloc(64);
    const results = await gateway.submit([
      { op: 'pread', fd: wfd, buffer: into, position: 100, length: 5 },
      { op: 'pread', fd: wfd, buffer: into, position: 107, offset: 10, length: 50 }, // short: 7 bytes left
      { op: 'pread', fd: wfd, buffer: into, position: 10_000, offset: 60, length: 4 }, // past the end
    ]);
    expect(results.map((r) => r.result)).toEqual([5, 7, 0]);
    expect(into.toString('utf8', 0, 5)).toBe('hello');
    expect(into.toString('utf8', 10, 17)).toBe('gateway');
    fs.closeSync(wfd);
  });

  test('preadv and pwritev move data through several buffers', async () => {
    const file = path.join(directory, `vec-${backend}`);
    const vfd = fs.openSync(file, 'w+');
    const parts = [Buffer.from('abc'), new Uint8Array([1, 2, 3, 4]), Buffer.from('xyz')];
    const [w] = await gateway.submit([{ op: 'pwritev', fd: vfd, buffers: parts, position: 8 }]);
    expect(w!.result).toBe(10);
    const a = Buffer.alloc(5);
    const b = Buffer.alloc(5);
    const [r] = gateway.submitSync([{ op: 'preadv', fd: vfd, buffers: [a, b], position: 8 }]);
    expect(r!.result).toBe(10);
    expect(Buffer.concat([a, b])).toEqual(Buffer.from([...Buffer.from('abc'), 1, 2, 3, 4, ...Buffer.from('xyz')]));
    fs.closeSync(vfd);
  });

  test('openat (flags, mode), fallocate, ftruncate, statx, fsync, fdatasync, close', async () => {
    const file = path.join(directory, `ops-${backend}`);
    const [opened] = await gateway.submit([{ op: 'openat', path: file, flags: O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o600 }]);
    expect(opened!.ok).toBe(true);
    const nfd = opened!.result;
    expect(fs.fstatSync(nfd).mode & 0o777).toBe(0o600);
    const [again] = await gateway.submit([{ op: 'openat', path: file, flags: O_RDWR | O_CREAT | O_EXCL }]);
    expect(again).toMatchObject({ ok: false, error: 'EEXIST' });
    const [grown] = await gateway.submit([{ op: 'fallocate', fd: nfd, length: 1 << 20 }]);
    expect(grown!.result).toBe(0);
    expect(fs.fstatSync(nfd).size).toBe(1 << 20);
    const [cut] = await gateway.submit([{ op: 'ftruncate', fd: nfd, length: 12345 }]);
    expect(cut!.result).toBe(0);
    const [stat, byPath] = await gateway.submit([
      { op: 'statx', fd: nfd },
      { op: 'statx', fd: -100, path: file },
    ]);
    const expected = fs.fstatSync(nfd, { bigint: true });
    for (const s of [stat!.stat!, byPath!.stat!]) {
      expect(s.size).toBe(12345);
      expect(s.mode).toBe(Number(expected.mode));
      expect(s.ino).toBe(expected.ino);
      expect(s.nlink).toBe(1);
      expect(Math.abs(s.mtimeMs - Number(expected.mtimeMs))).toBeLessThan(2);
    }
    const synced = await gateway.submit([
      { op: 'fsync', fd: nfd },
      { op: 'fdatasync', fd: nfd },
    ]);
    expect(synced.map((r) => r.result)).toEqual([0, 0]);
    const [closed] = await gateway.submit([{ op: 'close', fd: nfd }]);
    expect(closed!.result).toBe(0);
    const [twice] = await gateway.submit([{ op: 'close', fd: nfd }]);
    expect(twice).toEqual({ ok: false, result: -os.constants.errno.EBADF, error: 'EBADF' });
  });

  test('failed ops report errno names, not exceptions', async () => {
    const results = await gateway.submit([
      { op: 'pread', fd: 987_654, buffer: Buffer.alloc(8), position: 0 },
      { op: 'openat', path: path.join(directory, 'missing', 'file'), flags: O_RDONLY },
      { op: 'statx', fd: -100, path: path.join(directory, 'nope') },
      { op: 'pread', fd, buffer: Buffer.alloc(8), position: 0 },
    ]);
    expect(results.map((r) => r.error)).toEqual(['EBADF', 'ENOENT', 'ENOENT', null]);
    expect(results[3]!.result).toBe(8);
  });

  test('O_DIRECT misalignment is EINVAL', async (context) => {
    // tmpfs refuses O_DIRECT; try a disk-backed directory next to the package too.
    const candidates = [directory, fileURLToPath(new URL('.', import.meta.url))];
    let dfd = -1;
    let file = '';
    const reasons: string[] = [];
    for (const dir of candidates) {
      file = path.join(dir, `.direct-${backend}-${process.pid}`);
      fs.writeFileSync(file, Buffer.alloc(BLOCK * 4, 7));
      try {
        dfd = fs.openSync(file, O_RDWR | O_DIRECT);
        break;
      } catch (error) {
        reasons.push(`${dir}: ${(error as { code?: string }).code}`);
        fs.rmSync(file, { force: true });
      }
    }
    if (dfd < 0) {
      console.log(`O_DIRECT test skipped: no file system here accepts O_DIRECT (${reasons.join('; ')})`);
      context.skip();
      return;
    }
    try {
      const aligned = Buffer.alloc(BLOCK * 3);
      const base = (BLOCK - (Number(aligned.byteOffset) % BLOCK)) % BLOCK; // page-aligned view needs an aligned address
      const results = await gateway.submit([
        { op: 'pread', fd: dfd, buffer: aligned, position: 1, offset: base, length: BLOCK }, // misaligned file offset
        { op: 'pread', fd: dfd, buffer: aligned, position: 0, offset: base + 1, length: BLOCK }, // misaligned memory
        { op: 'pread', fd: dfd, buffer: aligned, position: 0, offset: base, length: 100 }, // misaligned length
      ]);
      expect(results.map((r) => r.error)).toEqual(['EINVAL', 'EINVAL', 'EINVAL']);
      // Async batches read through native memory placed at the caller's alignment: at every offset
      // into a buffer, O_DIRECT answers an async read as it answers a sync one (which reads into
      // the buffer itself), and one offset at least is aligned enough to succeed.
      const big = Buffer.alloc(BLOCK * 4);
      const answers: Array<[number, number, number]> = [];
      for (let offset = 0; offset < BLOCK; offset += offset < 16 ? 1 : 16) {
        const view = big.subarray(offset, offset + 2 * BLOCK);
        const sync = gateway.readBatchSync(dfd, [0, BLOCK], BLOCK, view);
        const async = await gateway.readBatch(dfd, [0, BLOCK], BLOCK, view);
        const [viaSubmit] = await gateway.submit([{ op: 'pread', fd: dfd, buffer: view, position: 0, length: BLOCK }]);
        answers.push([sync[0]!, async[0]!, viaSubmit!.result]);
      }
      for (const [sync, async, viaSubmit] of answers) expect([async, viaSubmit]).toEqual([sync, sync]);
      expect(answers.some(([sync]) => sync === BLOCK)).toBe(true);
    } finally {
      fs.closeSync(dfd);
      fs.rmSync(file, { force: true });
    }
  });

  test('batches of 1 and 4096 (larger than the queue)', async () => {
    const one = Buffer.alloc(BLOCK);
    expect(await gateway.readBatch(fd, [BLOCK * 3], BLOCK, one)).toEqual(new Int32Array([BLOCK]));
    expect(one.every((b) => b === 4)).toBe(true);
    const count = 4096;
    const positions = new Float64Array(count);
    for (let i = 0; i < count; i++) positions[i] = ((i * 7) % BLOCKS) * BLOCK + (i % 64) * 64;
    const into = Buffer.alloc(count * 64);
    const results = await gateway.readBatch(fd, positions, 64, into);
    expect(results.every((r) => r === 64)).toBe(true);
    for (let i = 0; i < count; i += 97) expect(into[i * 64]).toBe(((i * 7) % BLOCKS) + 1);
    const ops: Op[] = Array.from({ length: count }, (_, i) => ({
      op: 'pread',
      fd,
      buffer: into,
      offset: i * 64,
      length: 64,
      position: (i % BLOCKS) * BLOCK,
    }));
    const generic = await gateway.submit(ops);
    expect(generic.every((r) => r.result === 64)).toBe(true);
    expect(gateway.inflight).toBe(0);
  });

  test('readBatch with one fd per op, and readBatchSync', () => {
    const other = fs.openSync(dataPath, 'r');
    const into = Buffer.alloc(BLOCK * 2);
    const results = gateway.readBatchSync(new Int32Array([fd, other]), new Float64Array([0, BLOCK * 5]), BLOCK, into);
    expect([...results]).toEqual([BLOCK, BLOCK]);
    expect(into[0]).toBe(1);
    expect(into[BLOCK]).toBe(6);
    const bad = gateway.readBatchSync(new Int32Array([-1]), [0], 8, into);
    expect(bad[0]).toBe(-os.constants.errno.EBADF);
    const reused = new Int32Array(2);
    expect(gateway.readBatchSync(fd, [0, 100], 8, into, reused)).toBe(reused);
    expect([...reused]).toEqual([8, 8]);
    expect(codeOf(() => gateway.readBatchSync(fd, [0, 100], 8, into, new Int32Array(3)))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => gateway.readBatchSync(fd, [0], 8, into, new Float64Array(1) as never))).toBe('TypeError:DBOS_EINVAL');
    fs.closeSync(other);
  });

  test('readBatch fills a caller-given results array when the batch completes', async () => {
    const results = new Int32Array(3);
    const into = Buffer.alloc(3 * 512);
    const returned = await gateway.readBatch(fd, [0, BLOCK, BLOCK * 200], 512, into, results);
    expect(returned).toBe(results);
    expect([...results]).toEqual([512, 512, 0]);
    expect(into[512]).toBe(2);
  });

  test('concurrent batches complete independently', async () => {
    const batches = Array.from({ length: 24 }, (_, b) => {
      const positions = Float64Array.from({ length: 32 }, (_, i) => ((b + i) % BLOCKS) * BLOCK);
      const into = Buffer.alloc(32 * 16);
      return gateway.readBatch(fd, positions, 16, into).then((results) => ({ b, results, into }));
    });
    for (const { b, results, into } of await Promise.all(batches)) {
      expect(results.every((r) => r === 16)).toBe(true);
      for (let i = 0; i < 32; i++) expect(into[i * 16]).toBe(((b + i) % BLOCKS) + 1);
    }
  });

  test('bad arguments throw TypeError / RangeError with codes', () => {
    const buffer = Buffer.alloc(16);
    expect(codeOf(() => gateway.submitSync([{ op: 'pread', fd, buffer, position: -1 }]))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => gateway.submitSync([{ op: 'pread', fd, buffer, position: 0, length: 17 }]))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => gateway.submitSync([{ op: 'pread', fd, buffer, position: 0, offset: 10, length: 7 }]))).toBe(
      'RangeError:DBOS_ERANGE',
    );
    expect(codeOf(() => gateway.submitSync([{ op: 'pread', fd, buffer, position: 0.5 }]))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => gateway.submitSync([{ op: 'pread', fd: '3' as never, buffer, position: 0 }]))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => gateway.submitSync([{ op: 'pread', fd, buffer: 'x' as never, position: 0 }]))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => gateway.submitSync([{ op: 'mmap' } as never]))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => gateway.submitSync([{ op: 'openat', path: 'a\0b' }]))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => gateway.submitSync([{ op: 'fallocate', fd, length: 0 }]))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => gateway.submitSync('x' as never))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => gateway.readBatchSync(fd, [0, 8], 16, buffer))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => gateway.readBatchSync(fd, [-8], 8, buffer))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => gateway.readBatchSync(new Int32Array(2), [0], 8, buffer))).toBe('RangeError:DBOS_ERANGE');
    const detached = new ArrayBuffer(64);
    const view = new Uint8Array(detached);
    structuredClone(detached, { transfer: [detached] });
    expect(codeOf(() => gateway.submitSync([{ op: 'pread', fd, buffer: view, position: 0, length: 0 }]))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => gateway.readBatchSync(fd, [], 8, view))).toBe('TypeError:DBOS_EINVAL');
  });

  test('the binding checks ranges itself, whatever the TypeScript layer sends', () => {
    const native = new addon.Gateway(backend === 'io_uring' ? 1 : 2, 8, 1);
    const row = (opcode: number, length: number, buffer: number, offset: number) =>
      new Float64Array([opcode, fd, 0, length, 0, 0, buffer, offset, -1]);
    const small = Buffer.alloc(16);
    const none = new Float64Array(0);
    expect(codeOf(() => native.submit(row(1, 17, 0, 0), none, [small], true))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => native.submit(row(1, 8, 0, 9), none, [small], true))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => native.submit(row(1, 8, 1, 0), none, [small], true))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => native.submit(row(1, 8, 0, -1), none, [small], true))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => native.submit(row(3, 2, 0, 0), new Float64Array([0, 0, 16]), [small], true))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => native.submit(row(3, 1, 0, 0), new Float64Array([0, 8, 16]), [small], true))).toBe('RangeError:DBOS_ERANGE');
    expect(codeOf(() => native.submit(row(7, 0, -1, 0), none, [small], true))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => native.submit(row(99, 0, -1, 0), none, [], true))).toBe('TypeError:DBOS_EINVAL');
    expect(codeOf(() => native.readBatch(fd, new Float64Array([0, 0]), 9, small, true))).toBe('RangeError:DBOS_ERANGE');
    const [ok] = native.submit(row(1, 16, 0, 0), none, [small], true) as Float64Array;
    expect(ok).toBe(16);
    return native.close();
  });
});

test('invalid options are refused', () => {
  expect(codeOf(() => new Gateway({ backend: 'spdk' as never }))).toBe('TypeError:DBOS_EINVAL');
  expect(codeOf(() => new Gateway({ queueDepth: 0 }))).toBe('RangeError:DBOS_ERANGE');
  expect(codeOf(() => new Gateway({ queueDepth: 5000 }))).toBe('RangeError:DBOS_ERANGE');
  expect(codeOf(() => new Gateway({ threads: 65 }))).toBe('RangeError:DBOS_ERANGE');
  expect(codeOf(() => new Gateway({ threads: 1.5 }))).toBe('TypeError:DBOS_EINVAL');
});

test('auto picks io_uring exactly where the probe says it works', async () => {
  const gateway = new Gateway();
  expect(gateway.backend).toBe(probe().ioUring.available ? 'io_uring' : 'threads');
  await gateway.close();
});

describe.each(backends)('%s backend lifecycle', (backend) => {
  test('close with ops in flight: started ops finish, the rest are ECANCELED, later calls throw DBOS_ECLOSED', async () => {
    const gateway = new Gateway({ backend, queueDepth: 16, threads: 2 });
    const fd = fs.openSync(dataPath, 'r');
    const count = 4096;
    const positions = Float64Array.from({ length: count }, (_, i) => (i % BLOCKS) * BLOCK);
    const into = Buffer.alloc(count * 512);
    const inFlight = gateway.submit(
      Array.from({ length: count }, (_, i) => ({
        op: 'pread' as const,
        fd,
        buffer: into,
        offset: i * 512,
        length: 512,
        position: positions[i]!,
      })),
    );
    const fast = gateway.readBatch(fd, positions, 512, into);
    const closing = gateway.close();
    expect(gateway.close()).toBe(closing);
    expect(codeOf(() => gateway.submitSync([]))).toBe('DbosError:DBOS_ECLOSED');
    await expect(async () => gateway.submit([])).rejects.toMatchObject({ code: 'DBOS_ECLOSED' });
    expect(codeOf(() => gateway.readBatchSync(fd, [0], 8, into))).toBe('DbosError:DBOS_ECLOSED');
    const [results, fastResults] = await Promise.all([inFlight, fast, closing]);
    for (const r of results) expect(r.result === 512 || r.error === 'ECANCELED').toBe(true);
    for (const r of fastResults) expect(r === 512 || r === -os.constants.errno.ECANCELED).toBe(true);
    expect(gateway.closed).toBe(true);
    fs.closeSync(fd);
  });

  test('buffers of in-flight batches survive garbage collection', () => {
    // Fresh buffers referenced only by their in-flight batch, with the collector forced to run.
    const script = `import { Gateway } from ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))};
      import fs from 'node:fs';
      const g = new Gateway({ backend: ${JSON.stringify(backend)}, queueDepth: 8 });
      const fd = fs.openSync(${JSON.stringify(dataPath)}, 'r');
      const pending = [];
      for (let i = 0; i < 200; i++) {
        pending.push(g.readBatch(fd, [0, 4096, 8192, 12288], 4096, Buffer.alloc(4 * 4096)));
        pending.push(g.submit([{ op: 'pread', fd, buffer: new Uint8Array(4096), position: 4096 }]).then((r) => r[0].result));
        if (i % 20 === 0) globalThis.gc();
      }
      globalThis.gc();
      const all = await Promise.all(pending);
      if (!all.every((r) => typeof r === 'number' ? r === 4096 : r.every((x) => x === 4096))) throw new Error('bad results');
      await g.close();`;
    const child = require_spawn(['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script]);
    expect(child.status, child.stderr).toBe(0);
  });

  test('a gateway left unclosed does not keep the process alive', () => {
    const script = `import { Gateway } from ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))};
      const g = new Gateway({ backend: ${JSON.stringify(backend)} });
      await g.submit([{ op: 'fsync', fd: 0 }]);`;
    const started = Date.now();
    const child = require_spawn(['--import', 'tsx', '--input-type=module', '-e', script]);
    expect(child.status, child.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('exiting with a batch in flight is clean', () => {
    const script = `import { Gateway } from ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))};
      import fs from 'node:fs';
      const g = new Gateway({ backend: ${JSON.stringify(backend)}, queueDepth: 4, threads: 1 });
      const fd = fs.openSync(${JSON.stringify(dataPath)}, 'r');
      const positions = new Float64Array(4096).map((_, i) => (i % 16) * 4096);
      g.readBatch(fd, positions, 512, Buffer.alloc(4096 * 512));
      g.submit([{ op: 'fsync', fd }]);
      process.exit(0);`;
    const child = require_spawn(['--import', 'tsx', '--input-type=module', '-e', script]);
    expect(child.signal, child.stderr).toBeNull();
    expect(child.status, child.stderr).toBe(0);
  });
});

import { spawnSync } from 'node:child_process';
function require_spawn(args: string[]) {
  return spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 30_000, cwd: fileURLToPath(new URL('..', import.meta.url)) });
}
