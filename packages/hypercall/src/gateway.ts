// Gateway: batched system calls (pread, pwrite, ... statx) through io_uring or a thread pool.
import { DbosError, callNative, errnoName, rangeError, settleNative, typeError } from '@dbos/platform';
import {
  GATEWAY_BACKENDS,
  GATEWAY_LIMITS,
  IO_AT_FDCWD,
  IO_BATCH_COUNT_MAX,
  IO_OPCODES,
  IO_VEC_COUNT_MAX,
  LINUX,
  OP_FIELD,
  OP_FIELDS,
  STATX_OFFSETS,
  STATX_SIZE,
  STATX_TIME_NANOSECONDS,
  TRANSFER_SIZE_MAX,
  VEC_FIELD,
  VEC_FIELDS,
} from './abi.js';
import { addon } from './native.js';

/** The backend a gateway runs on. */
export type GatewayBackend = 'io_uring' | 'threads';

/** Options of {@link Gateway}. */
export interface GatewayOptions {
  /**
   * 'io_uring': io_uring through raw system calls (throws `DBOS_EPERM`/`DBOS_ENOTSUP` where the
   * kernel refuses it); 'threads': worker threads making plain system calls; 'auto' (default):
   * io_uring where this process may set up a ring, else threads.
   */
  backend?: 'auto' | GatewayBackend;
  /** Ops in flight at once (the ring size; io_uring rounds up to a power of two). 1–4096, default 256. Larger batches queue inside the gateway. */
  queueDepth?: number;
  /** Worker threads of the 'threads' backend. 1–64, default 4. */
  threads?: number;
}

/** Read `length` bytes (default: the rest of `buffer` after `offset`) at file `position` into `buffer` at `offset` (default 0). Result: bytes read (short at end of file). */
export interface PreadOp {
  op: 'pread';
  fd: number;
  buffer: ArrayBufferView;
  position: number;
  offset?: number;
  length?: number;
}
/** Write `length` bytes (default: the rest of `buffer` after `offset`) from `buffer` at `offset` to file `position`. Result: bytes written. */
export interface PwriteOp {
  op: 'pwrite';
  fd: number;
  buffer: ArrayBufferView;
  position: number;
  offset?: number;
  length?: number;
}
/** Scatter read into `buffers` in order, starting at file `position`; `flags` are RWF_* (default 0). Result: bytes read. */
export interface PreadvOp {
  op: 'preadv';
  fd: number;
  buffers: ArrayBufferView[];
  position: number;
  flags?: number;
}
/** Gather write from `buffers` in order, starting at file `position`; `flags` are RWF_* (default 0). Result: bytes written. */
export interface PwritevOp {
  op: 'pwritev';
  fd: number;
  buffers: ArrayBufferView[];
  position: number;
  flags?: number;
}
/** fsync(2). Result: 0. */
export interface FsyncOp {
  op: 'fsync';
  fd: number;
}
/** fdatasync(2). Result: 0. */
export interface FdatasyncOp {
  op: 'fdatasync';
  fd: number;
}
/** close(2). Result: 0. */
export interface CloseOp {
  op: 'close';
  fd: number;
}
/**
 * openat(2): `path` relative to `dirfd` (default: the current directory), `flags` from
 * `fs.constants` (default O_RDONLY | O_CLOEXEC), `mode` for O_CREAT (default 0o666 before umask).
 * Result: the new fd.
 */
export interface OpenatOp {
  op: 'openat';
  path: string | Uint8Array;
  flags?: number;
  mode?: number;
  dirfd?: number;
}
/** fallocate(2): `mode` FALLOC_FL_* (default 0: allocate and extend), from `position` (default 0) for `length` bytes (> 0). Result: 0. */
export interface FallocateOp {
  op: 'fallocate';
  fd: number;
  position?: number;
  length: number;
  mode?: number;
}
/** ftruncate(2) to `length` bytes. Result: 0. */
export interface FtruncateOp {
  op: 'ftruncate';
  fd: number;
  length: number;
}
/**
 * statx(2) of `fd` itself (default), or of `path` relative to `fd` (a directory, or AT_FDCWD = -100).
 * `flags` AT_* (AT_EMPTY_PATH is added when `path` is absent), `mask` STATX_* (default STATX_BASIC_STATS).
 * Result: 0, with `stat` filled in.
 */
export interface StatxOp {
  op: 'statx';
  fd: number;
  path?: string;
  flags?: number;
  mask?: number;
}

/** One operation of a batch. */
export type Op =
  | PreadOp
  | PwriteOp
  | PreadvOp
  | PwritevOp
  | FsyncOp
  | FdatasyncOp
  | CloseOp
  | OpenatOp
  | FallocateOp
  | FtruncateOp
  | StatxOp;

/** A statx(2) result; times are milliseconds since the epoch (with fractions). */
export interface Statx {
  mask: number;
  blockSize: number;
  attributes: bigint;
  nlink: number;
  uid: number;
  gid: number;
  mode: number;
  ino: bigint;
  size: number;
  blocks: number;
  atimeMs: number;
  birthtimeMs: number;
  ctimeMs: number;
  mtimeMs: number;
  rdevMajor: number;
  rdevMinor: number;
  devMajor: number;
  devMinor: number;
  mountId: bigint;
  /** Memory alignment O_DIRECT needs on this file (0 if the kernel does not say). */
  directIoMemoryAlign: number;
  /** File-offset alignment O_DIRECT needs on this file (0 if the kernel does not say). */
  directIoOffsetAlign: number;
}

/** The outcome of one op. Failures are values, not exceptions. */
export interface OpResult {
  /** The op succeeded. */
  ok: boolean;
  /** Bytes moved, the new fd (openat), or 0; on failure the negative errno. */
  result: number;
  /** On failure the errno name ('ENOENT', 'EBADF', 'EINVAL', 'ECANCELED' for ops a close cancelled), else null. */
  error: string | null;
  /** statx ops that succeeded: the file's attributes. */
  stat?: Statx;
}

/** The native class (binding/gateway.cc). @internal */
export interface NativeGateway {
  backend(): GatewayBackend;
  queueDepth(): number;
  inflight(): number;
  submit(ops: Float64Array, vecs: Float64Array, buffers: ArrayBufferView[], sync: boolean): Promise<Float64Array> | Float64Array;
  readBatch(
    fd: number | Int32Array,
    positions: Float64Array,
    length: number,
    buffer: ArrayBufferView,
    sync: boolean,
    results?: Int32Array,
  ): Promise<Int32Array> | Int32Array;
  close(): Promise<void>;
}
/** @internal */
export type NativeGatewayClass = new (backend: number, queueDepth: number, threads: number) => NativeGateway;

function isView(value: unknown): value is ArrayBufferView {
  return ArrayBuffer.isView(value);
}

function int32(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer`);
  if (value < -(2 ** 31) || value >= 2 ** 31) throw rangeError(`${name} must fit in 32 bits`);
  return value;
}

function count(value: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer`);
  if (value < 0 || value > max) throw rangeError(`${name} must be between 0 and ${max}`);
  return value;
}

function flagBits(value: unknown, name: string): number {
  if (value === undefined) return 0;
  return count(value, name, 0xffffffff);
}

function view(value: unknown, name: string): ArrayBufferView {
  if (!isView(value)) throw typeError(`${name} must be a Buffer, TypedArray or DataView`);
  return value;
}

/** Bounds of [offset, offset + length) within `buffer`; returns the length. */
function span(buffer: ArrayBufferView, offset: number, length: number | undefined, name: string): number {
  if (offset > buffer.byteLength) throw rangeError(`${name}: offset ${offset} is past the buffer's ${buffer.byteLength} bytes`);
  const bytes = length ?? buffer.byteLength - offset;
  if (bytes > TRANSFER_SIZE_MAX) throw rangeError(`${name}: length exceeds 1 GiB per op`);
  if (offset + bytes > buffer.byteLength)
    throw rangeError(`${name}: offset + length (${offset + bytes}) exceeds the buffer's ${buffer.byteLength} bytes`);
  return bytes;
}

function pathBuffer(path: unknown, name: string): Uint8Array {
  if (typeof path === 'string') {
    if (path.includes('\0')) throw typeError(`${name} must not contain NUL`);
    return Buffer.from(`${path}\0`);
  }
  if (path instanceof Uint8Array) {
    let nul: boolean;
    try {
      nul = path.includes(0); // throws for a detached or out-of-bounds view
    } catch {
      throw typeError(`${name} is detached`);
    }
    if (nul) throw typeError(`${name} must not contain NUL`);
    const out = new Uint8Array(path.byteLength + 1);
    out.set(path);
    return out;
  }
  throw typeError(`${name} must be a string or Uint8Array`);
}

/** The op table, iovec table and buffer list the binding takes; statx output buffers by op index. */
interface Encoded {
  table: Float64Array;
  vecs: Float64Array;
  buffers: ArrayBufferView[];
  statx: Map<number, Buffer>;
}

function encodeOps(ops: readonly Op[]): Encoded {
  if (!Array.isArray(ops)) throw typeError('ops must be an array');
  if (ops.length > IO_BATCH_COUNT_MAX) throw rangeError(`a batch holds at most ${IO_BATCH_COUNT_MAX} ops`);
  const table = new Float64Array(ops.length * OP_FIELDS);
  const vecList: number[] = [];
  const buffers: ArrayBufferView[] = [];
  const statx = new Map<number, Buffer>();
  const addBuffer = (buffer: ArrayBufferView) => buffers.push(buffer) - 1;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as Op;
    if (typeof op !== 'object' || op === null) throw typeError(`ops[${i}] must be an object`);
    const opcode = typeof op.op === 'string' && Object.hasOwn(IO_OPCODES, op.op) ? IO_OPCODES[op.op] : undefined;
    if (opcode === undefined) throw typeError(`ops[${i}].op must be one of ${Object.keys(IO_OPCODES).join(', ')}`);
    const f = i * OP_FIELDS;
    const name = `ops[${i}]`;
    table[f + OP_FIELD.opcode] = opcode;
    table[f + OP_FIELD.buffer] = -1;
    table[f + OP_FIELD.path] = -1;
    switch (op.op) {
      case 'pread':
      case 'pwrite': {
        table[f + OP_FIELD.fd] = int32(op.fd, `${name}.fd`);
        table[f + OP_FIELD.position] = count(op.position, `${name}.position`);
        const buffer = view(op.buffer, `${name}.buffer`);
        const offset = count(op.offset ?? 0, `${name}.offset`);
        const length = span(buffer, offset, op.length === undefined ? undefined : count(op.length, `${name}.length`), name);
        table[f + OP_FIELD.length] = length;
        table[f + OP_FIELD.buffer] = addBuffer(buffer);
        table[f + OP_FIELD.bufferOffset] = offset;
        break;
      }
      case 'preadv':
      case 'pwritev': {
        table[f + OP_FIELD.fd] = int32(op.fd, `${name}.fd`);
        table[f + OP_FIELD.position] = count(op.position, `${name}.position`);
        table[f + OP_FIELD.flags] = flagBits(op.flags, `${name}.flags`);
        if (!Array.isArray(op.buffers)) throw typeError(`${name}.buffers must be an array`);
        if (op.buffers.length > IO_VEC_COUNT_MAX) throw rangeError(`${name}.buffers holds at most ${IO_VEC_COUNT_MAX} buffers`);
        table[f + OP_FIELD.length] = op.buffers.length;
        table[f + OP_FIELD.buffer] = vecList.length / VEC_FIELDS;
        for (const [j, b] of op.buffers.entries()) {
          const buffer = view(b, `${name}.buffers[${j}]`);
          const row = new Array<number>(VEC_FIELDS);
          row[VEC_FIELD.buffer] = addBuffer(buffer);
          row[VEC_FIELD.offset] = 0;
          row[VEC_FIELD.length] = buffer.byteLength;
          vecList.push(...row);
        }
        break;
      }
      case 'fsync':
      case 'fdatasync':
      case 'close':
        table[f + OP_FIELD.fd] = int32(op.fd, `${name}.fd`);
        break;
      case 'openat':
        table[f + OP_FIELD.fd] = op.dirfd === undefined ? IO_AT_FDCWD : int32(op.dirfd, `${name}.dirfd`);
        table[f + OP_FIELD.flags] = op.flags === undefined ? LINUX.O_CLOEXEC : flagBits(op.flags, `${name}.flags`);
        table[f + OP_FIELD.mode] = op.mode === undefined ? 0o666 : count(op.mode, `${name}.mode`, 0o7777);
        table[f + OP_FIELD.path] = addBuffer(pathBuffer(op.path, `${name}.path`));
        break;
      case 'fallocate':
        table[f + OP_FIELD.fd] = int32(op.fd, `${name}.fd`);
        table[f + OP_FIELD.position] = count(op.position ?? 0, `${name}.position`);
        table[f + OP_FIELD.length] = count(op.length, `${name}.length`);
        if (table[f + OP_FIELD.length] === 0) throw rangeError(`${name}.length must be greater than 0`);
        table[f + OP_FIELD.flags] = flagBits(op.mode, `${name}.mode`);
        break;
      case 'ftruncate':
        table[f + OP_FIELD.fd] = int32(op.fd, `${name}.fd`);
        table[f + OP_FIELD.position] = count(op.length, `${name}.length`);
        break;
      case 'statx': {
        table[f + OP_FIELD.fd] = int32(op.fd, `${name}.fd`);
        const path = op.path ?? '';
        table[f + OP_FIELD.flags] = flagBits(op.flags, `${name}.flags`) | (op.path === undefined ? LINUX.AT_EMPTY_PATH : 0);
        table[f + OP_FIELD.mode] = op.mask === undefined ? LINUX.STATX_BASIC_STATS : flagBits(op.mask, `${name}.mask`);
        table[f + OP_FIELD.path] = addBuffer(pathBuffer(path, `${name}.path`));
        const out = Buffer.alloc(STATX_SIZE);
        statx.set(i, out);
        table[f + OP_FIELD.buffer] = addBuffer(out);
        table[f + OP_FIELD.bufferOffset] = 0;
        break;
      }
    }
  }
  return { table, vecs: Float64Array.from(vecList), buffers, statx };
}

function timeMs(buffer: Buffer, at: number): number {
  return Number(buffer.readBigInt64LE(at)) * 1000 + buffer.readUInt32LE(at + STATX_TIME_NANOSECONDS) / 1e6;
}

/** Decode a struct statx (the dbos_statx layout in dbos/hypercall.h). */
function decodeStatx(b: Buffer): Statx {
  const at = STATX_OFFSETS;
  return {
    mask: b.readUInt32LE(at.mask),
    blockSize: b.readUInt32LE(at.blockSize),
    attributes: b.readBigUInt64LE(at.attributes),
    nlink: b.readUInt32LE(at.nlink),
    uid: b.readUInt32LE(at.uid),
    gid: b.readUInt32LE(at.gid),
    mode: b.readUInt16LE(at.mode),
    ino: b.readBigUInt64LE(at.ino),
    size: Number(b.readBigUInt64LE(at.size)),
    blocks: Number(b.readBigUInt64LE(at.blocks)),
    atimeMs: timeMs(b, at.atime),
    birthtimeMs: timeMs(b, at.birthtime),
    ctimeMs: timeMs(b, at.ctime),
    mtimeMs: timeMs(b, at.mtime),
    rdevMajor: b.readUInt32LE(at.rdevMajor),
    rdevMinor: b.readUInt32LE(at.rdevMinor),
    devMajor: b.readUInt32LE(at.devMajor),
    devMinor: b.readUInt32LE(at.devMinor),
    mountId: b.readBigUInt64LE(at.mountId),
    directIoMemoryAlign: b.readUInt32LE(at.directIoMemoryAlign),
    directIoOffsetAlign: b.readUInt32LE(at.directIoOffsetAlign),
  };
}

function decodeResults(results: Float64Array, statx: Map<number, Buffer>): OpResult[] {
  const out: OpResult[] = new Array(results.length);
  for (let i = 0; i < results.length; i++) {
    const result = results[i] as number;
    const entry: OpResult = result < 0 ? { ok: false, result, error: errnoName(result) } : { ok: true, result, error: null };
    const buffer = statx.get(i);
    if (buffer && entry.ok) entry.stat = decodeStatx(buffer);
    out[i] = entry;
  }
  return out;
}

function positionsOf(positions: unknown): Float64Array {
  if (positions instanceof Float64Array) return positions;
  if (!Array.isArray(positions)) throw typeError('positions must be a Float64Array or an array of numbers');
  // Bounded before anything is allocated: a sparse array may claim 2^32 - 1 elements.
  if (positions.length > IO_BATCH_COUNT_MAX) throw rangeError(`a batch holds at most ${IO_BATCH_COUNT_MAX} ops`);
  const out = new Float64Array(positions.length);
  for (let i = 0; i < positions.length; i++) {
    const position: unknown = positions[i];
    if (typeof position !== 'number') throw typeError(`positions[${i}] must be a number`);
    out[i] = position;
  }
  return out;
}

function checkPositions(positions: Float64Array): void {
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i] as number;
    if (!Number.isInteger(p)) throw typeError(`positions[${i}] must be an integer`);
    if (p < 0 || p > Number.MAX_SAFE_INTEGER) throw rangeError(`positions[${i}] must be between 0 and 2^53 - 1`);
  }
}

/**
 * A system-call gateway: submits batches of file operations to the host kernel and returns one
 * result per op. On the host it runs io_uring through raw system calls (one `io_uring_enter` per
 * batch) or, where io_uring is disabled or refused, a pool of worker threads.
 *
 * Failed ops are results with an errno name, never exceptions. Misuse throws `TypeError`
 * (`DBOS_EINVAL`) or `RangeError` (`DBOS_ERANGE`, e.g. a range outside its buffer); a closed
 * gateway throws `DbosError` `DBOS_ECLOSED`.
 *
 * Buffers: synchronous calls hand the kernel the caller's buffers themselves. Asynchronous ones
 * never lend JavaScript memory: data to write is copied when the batch is submitted, and reads
 * land in native memory that is copied into the caller's buffers when the batch completes. A
 * buffer detached, transferred or shrunk while its batch is in flight therefore cannot be
 * corrupted or crash the process; its op completes with `EFAULT` instead.
 *
 * @example
 * const gateway = new Gateway();
 * const [r] = await gateway.submit([{ op: 'pread', fd, buffer: Buffer.alloc(4096), position: 0 }]);
 * await gateway.close();
 */
export class Gateway {
  /** The backend that actually runs: 'io_uring' or 'threads'. */
  readonly backend: GatewayBackend;
  /** Ops in flight at once (the ring size after rounding). */
  readonly queueDepth: number;
  readonly #native: NativeGateway;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * Open a gateway. Throws `DbosError` `DBOS_EPERM` / `DBOS_ENOTSUP` when `backend: 'io_uring'` is
   * refused here; `'auto'` falls back to threads instead. Blocks for the ring setup (a few system calls).
   */
  constructor(options: GatewayOptions = {}) {
    if (typeof options !== 'object' || options === null) throw typeError('options must be an object');
    const backend = options.backend ?? 'auto';
    if (typeof backend !== 'string' || !Object.hasOwn(GATEWAY_BACKENDS, backend))
      throw typeError(`backend must be 'auto', 'io_uring' or 'threads'`);
    const queueDepth = options.queueDepth ?? GATEWAY_LIMITS.queueDepthDefault;
    const threads = options.threads ?? GATEWAY_LIMITS.threadsDefault;
    if (count(queueDepth, 'queueDepth', GATEWAY_LIMITS.queueDepthMax) < 1)
      throw rangeError(`queueDepth must be between 1 and ${GATEWAY_LIMITS.queueDepthMax}`);
    if (count(threads, 'threads', GATEWAY_LIMITS.threadsMax) < 1)
      throw rangeError(`threads must be between 1 and ${GATEWAY_LIMITS.threadsMax}`);
    const code = GATEWAY_BACKENDS[backend as keyof typeof GATEWAY_BACKENDS];
    this.#native = callNative(() => new addon.Gateway(code, queueDepth, threads));
    this.backend = this.#native.backend();
    this.queueDepth = this.#native.queueDepth();
  }

  /** Ops submitted and not yet completed. */
  get inflight(): number {
    return this.#native.inflight();
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #checkOpen(): void {
    if (this.#closed) throw new DbosError('DBOS_ECLOSED', 'the gateway is closed');
  }

  /**
   * Submit a batch; resolves with one {@link OpResult} per op, in order. Does not block the event
   * loop: completions that happen inside the submitting call (cached reads on io_uring) resolve
   * at once, others arrive from the gateway's threads. Ops of one batch may run concurrently and
   * in any order; use separate batches when one op must see another's effect.
   */
  submit(ops: readonly Op[]): Promise<OpResult[]> {
    this.#checkOpen();
    const encoded = encodeOps(ops);
    const pending = callNative(() => this.#native.submit(encoded.table, encoded.vecs, encoded.buffers, false) as Promise<Float64Array>);
    return settleNative(pending).then((results) => decodeResults(results, encoded.statx));
  }

  /**
   * Run a batch and wait for it on this thread: blocks the event loop for the batch's system
   * calls. For small batches where a promise costs more than the I/O (README.md's benchmark
   * table compares both forms with `fs`).
   */
  submitSync(ops: readonly Op[]): OpResult[] {
    this.#checkOpen();
    const encoded = encodeOps(ops);
    const results = callNative(() => this.#native.submit(encoded.table, encoded.vecs, encoded.buffers, true) as Float64Array);
    return decodeResults(results, encoded.statx);
  }

  /**
   * The bulk fast path: `positions.length` reads of `length` bytes each, op i reading file
   * `positions[i]` of `fd` (or `fd[i]` when `fd` is an Int32Array) into
   * `buffer[i * length, (i + 1) * length)`. One JavaScript call is one whole batch.
   * Resolves with an Int32Array: bytes read per op, or the negative errno (see {@link errnoName}).
   * Pass `results` (an Int32Array of `positions.length`) to have it filled and returned instead of a
   * new one (buffer-reusing: it is written when the batch completes; if it was detached or resized
   * meanwhile, a new Int32Array is returned instead).
   * The reads land in native memory and are copied into `buffer` when the batch completes: an op
   * whose range `buffer` no longer holds then (detached, transferred, shrunk) reports `-EFAULT`.
   * Throws `RangeError` `DBOS_ERANGE` when `positions.length * length` exceeds `buffer`.
   */
  readBatch(
    fd: number | Int32Array,
    positions: Float64Array | number[],
    length: number,
    buffer: ArrayBufferView,
    results?: Int32Array,
  ): Promise<Int32Array> {
    this.#checkOpen();
    const p = this.#checkBatch(fd, positions, length, buffer, results);
    return settleNative(callNative(() => this.#native.readBatch(fd, p, length, buffer, false, results) as Promise<Int32Array>));
  }

  /**
   * {@link readBatch}, waiting on this thread: blocks the event loop for the reads, which go
   * straight into `buffer` (no JavaScript runs meanwhile). With `results` given it allocates
   * nothing per call.
   */
  readBatchSync(
    fd: number | Int32Array,
    positions: Float64Array | number[],
    length: number,
    buffer: ArrayBufferView,
    results?: Int32Array,
  ): Int32Array {
    this.#checkOpen();
    const p = this.#checkBatch(fd, positions, length, buffer, results);
    return callNative(() => this.#native.readBatch(fd, p, length, buffer, true, results) as Int32Array);
  }

  #checkBatch(
    fd: number | Int32Array,
    positions: Float64Array | number[],
    length: number,
    buffer: ArrayBufferView,
    results: Int32Array | undefined,
  ): Float64Array {
    const p = positionsOf(positions);
    if (p.length > IO_BATCH_COUNT_MAX) throw rangeError(`a batch holds at most ${IO_BATCH_COUNT_MAX} ops`);
    if (fd instanceof Int32Array) {
      if (fd.length !== p.length) throw rangeError('fd and positions must have the same length');
    } else {
      int32(fd, 'fd');
    }
    checkPositions(p);
    count(length, 'length', TRANSFER_SIZE_MAX);
    view(buffer, 'buffer');
    if (p.length * length > buffer.byteLength) {
      throw rangeError(`positions.length * length (${p.length * length}) exceeds the buffer's ${buffer.byteLength} bytes`);
    }
    if (results !== undefined) {
      if (!(results instanceof Int32Array)) throw typeError('results must be an Int32Array');
      if (results.length !== p.length) throw rangeError('results must have positions.length entries');
    }
    return p;
  }

  /**
   * Close the gateway: ops that have not started complete with `ECANCELED`, started ones run to
   * the end, then the backend's threads and ring go away. Resolves when done; batches in flight
   * resolve first. Idempotent: later calls return the same promise. Any other call afterwards
   * throws `DBOS_ECLOSED`.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#closing = settleNative(callNative(() => this.#native.close()));
    }
    return this.#closing;
  }
}
