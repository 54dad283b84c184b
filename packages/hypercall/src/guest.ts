// The dbos guest runtime: a guest image (the dbos guest kernel linked with an engine's entry
// points) booted on /dev/kvm inside this Node process.
import fs from 'node:fs';
import { DbosError, callNative, rangeError, registerNativeError, settleNative, typeError } from '@dbos/platform';
import {
  GUEST_ACCESS,
  GUEST_ENTRY_ARGS,
  GUEST_IMAGE_SIZE_MAX,
  GUEST_RAM,
  GUEST_VCPU_MAX,
  HYPERCALL_ARGS,
  HYPERCALL_OPS,
  HYPERCALL_REQUEST_OFFSETS,
  HYPERCALL_REQUEST_SIZE,
} from './abi.js';
import { addon } from './native.js';

export { HYPERCALL_OPS, HYPERCALL_REQUEST_SIZE };

/** The KVM flavour a guest runs on. */
export type GuestKvm = 'hardware' | 'pvm';

/** What the guest kernel reported when it failed. */
export interface GuestFailure {
  /**
   * 'panic' (the guest kernel's report: unexpected exception, unhandled page fault, assertion),
   * 'exit' (the guest called EXIT), 'internal-error' (KVM could not emulate an instruction),
   * 'shutdown' (triple fault), 'fail-entry' (invalid guest state), 'protocol' (an exit or ring
   * state the ABI forbids), 'host' (a KVM ioctl failed).
   */
  kind: 'panic' | 'exit' | 'internal-error' | 'shutdown' | 'fail-entry' | 'protocol' | 'host' | 'none';
  /** The vCPU that failed. */
  vcpu: number;
  /** One line, e.g. "vCPU 0: guest panic: unhandled page fault". */
  message: string;
  /** EXIT's code (0n otherwise). */
  exitCode: bigint;
  /** KVM_EXIT_* of the exit that reported the failure. */
  exitReason: number;
  /** KVM_EXIT_INTERNAL_ERROR suberror or the FAIL_ENTRY hardware reason. */
  suberror: number;
  /**
   * The trap frame (panic) or the vCPU's registers: rip, rsp, rflags, cs, ss, rax … r15,
   * vector, errorCode, cr2, cr3. null when they could not be read.
   */
  registers: Record<string, bigint> | null;
}

/** A guest failure: `code` is 'DBOS_EGUEST' and `failure` the guest's report. */
export class GuestError extends DbosError {
  readonly failure: GuestFailure;
  constructor(message: string, failure: GuestFailure, options?: { cause?: unknown }) {
    if (typeof message !== 'string') throw typeError('message must be a string');
    if (typeof failure !== 'object' || failure === null) throw typeError('failure must be a GuestFailure object');
    super('DBOS_EGUEST', message, options);
    this.name = 'GuestError';
    this.failure = failure;
  }
}

/** What a DBOS_EGUEST from the binding says when it carries no report (it always should). */
const NO_REPORT: GuestFailure = {
  kind: 'none',
  vcpu: 0,
  message: 'no failure report',
  exitCode: 0n,
  exitReason: 0,
  suberror: 0,
  registers: null,
};

// Every DBOS_EGUEST the binding throws becomes a GuestError carrying the guest's report.
registerNativeError('DBOS_EGUEST', upgradeGuestError);
function upgradeGuestError(error: DbosError, native: Error): DbosError {
  const failure = (native as { failure?: GuestFailure }).failure ?? NO_REPORT;
  return new GuestError(error.message, failure, { cause: native });
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** An integer Number in [min, max]: TypeError DBOS_EINVAL if it is none, RangeError DBOS_ERANGE outside. */
function integerIn(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(`${name} must be an integer`);
  if (value < min || value > max) throw rangeError(`${name} must be between ${min} and ${max}`);
  return value;
}

/** A descriptor number, 0 … 2^31 - 1: never truncated on its way to C. */
function descriptor(value: unknown, name: string): number {
  return integerIn(value, name, 0, 2 ** 31 - 1);
}

/** A 64-bit argument (int64 or uint64 range) as its two's-complement bits. */
function word64(value: unknown, name: string): bigint {
  const big = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : null;
  if (big === null) throw typeError(`${name} must be a safe integer or a bigint`);
  if (big < INT64_MIN || big > UINT64_MAX) throw rangeError(`${name} must be in int64/uint64 range`);
  return big;
}

/**
 * Encode one `struct dbos_hc_request` (little-endian): op, flags, fd, args[0..4], user data.
 * Addresses inside `args` are guest-physical; each argument is a safe integer or a bigint in
 * int64/uint64 range (negative values are stored as two's complement).
 * @throws TypeError DBOS_EINVAL for non-integers or more than 5 arguments, RangeError DBOS_ERANGE
 *   for `op` or `flags` outside 0 … 65535, `fd` outside int32, an argument outside 64 bits.
 */
export function encodeHypercall(op: number, fd: number, args: ReadonlyArray<number | bigint> = [], flags = 0): Buffer {
  const opcode = integerIn(op, 'op', 0, 0xffff);
  const descriptorNumber = integerIn(fd, 'fd', -(2 ** 31), 2 ** 31 - 1);
  const flagBits = integerIn(flags, 'flags', 0, 0xffff);
  if (!Array.isArray(args)) throw typeError('args must be an array');
  if (args.length > HYPERCALL_ARGS) throw typeError(`a hypercall has at most ${HYPERCALL_ARGS} arguments`);
  const words = Array.from(args, (value, index) => word64(value, `args[${index}]`));
  const at = HYPERCALL_REQUEST_OFFSETS;
  const out = Buffer.alloc(HYPERCALL_REQUEST_SIZE);
  out.writeUInt16LE(opcode, at.op);
  out.writeUInt16LE(flagBits, at.flags);
  out.writeInt32LE(descriptorNumber, at.fd);
  words.forEach((value, index) => {
    out.writeBigUInt64LE(BigInt.asUintN(64, value), at.args + 8 * index);
  });
  return out;
}

/** Options of {@link Guest.start}. */
export interface GuestOptions {
  /**
   * The guest image to boot: the dbos guest kernel linked with the entry points to run, as
   * bytes or the path of the `.bin` file. Required. Build one with `buildGuestImage(packageDir,
   * { entries })` of @dbos/native-build, or `dbos-native guest-image <packageDir> <entry.c…>`.
   * The guest keeps its own copy: the bytes may be reused once start returns.
   */
  image: Uint8Array | string;
  /** Guest RAM in bytes: a multiple of 2 MiB, 16 MiB … 3 GiB. Default 64 MiB. */
  memory?: number;
  /** vCPUs, each on its own host thread: 1 … 16. Default 1. */
  vcpus?: number;
  /**
   * Ring the engine code (entry points) runs in: 0 where ring 0 is native (hardware
   * virtualization), 3 behind an int3 trap gate where ring 0 is emulated (PVM). Default: picked
   * for the KVM flavour. Forcing 0 on PVM works but every engine instruction is emulated.
   */
  engineRing?: 0 | 3;
}

/** A running guest's configuration. */
export interface GuestInfo {
  kvm: GuestKvm;
  engineRing: 0 | 3;
  vcpus: number;
  /** Guest RAM in bytes. */
  memory: number;
  /** Bytes of the guest image it booted. */
  imageSize: number;
  /** Nanoseconds from VM creation to every vCPU idle in its engine loop. */
  bootNs: number;
  /** TSC rate the guest clock uses, kHz. */
  tscKhz: number;
  /** Guest-physical range the guest kernel never uses: free for host-side buffers. */
  scratch: { address: number; size: number };
}

/** Whether a guest can start here, and if not, why. */
export type GuestAvailability = { available: true; kvm: GuestKvm; engineRing: 0 | 3 } | { available: false; code: string; reason: string };

/** @internal */
export interface NativeGuestProbe {
  available: boolean;
  code: string;
  reason: string;
  kvm: GuestKvm | 'none';
}

/** @internal */
export interface NativeGuest {
  info(): Omit<GuestInfo, 'scratch'> & { scratchAddress: number; scratchSize: number };
  entries(): string[];
  entryFind(name: string): number;
  call(vcpu: number, fn: number, args: BigInt64Array): Promise<bigint>;
  callSync(vcpu: number, fn: number, args: BigInt64Array): bigint;
  fdGrant(fd: number, access: number): number;
  fdRevoke(guestFd: number): void;
  memoryRead(address: number, length: number): Buffer;
  memoryWrite(address: number, data: Uint8Array): void;
  logTake(): string;
  stop(): void;
}

/** @internal */
export type NativeGuestClass = new (memory: number, vcpus: number, engineRing: number, image: Uint8Array) => NativeGuest;

const MIB = 1024 * 1024;

/** Options of {@link Guest.grantFd}. */
export interface GrantOptions {
  /**
   * 'read-only' (default): the guest may read, stat and sync, and open beneath a directory for
   * reading only; 'read-write': whatever the host descriptor allows.
   */
  access?: 'read-only' | 'read-write';
}

/** Run options of {@link Guest.run}. */
export interface RunOptions {
  /** vCPU to run on, 0 … vcpus-1. Default 0. One call at a time per vCPU (else DBOS_EBUSY). */
  vcpu?: number;
}

const MISSING_IMAGE =
  'Guest.start needs { image }: the guest kernel linked with your entry points. Build one with ' +
  "buildGuestImage(packageDir, { entries: ['src/guest/engine.c'] }) from @dbos/native-build, or " +
  '`dbos-native guest-image <packageDir> <entry.c…>`, and pass its .bin path or bytes';

/** The image's bytes: read from its path (a regular file no larger than an image may be), or the caller's Uint8Array as it is. */
function imageBytes(image: unknown): Uint8Array {
  if (image instanceof Uint8Array) return image;
  if (typeof image !== 'string') throw typeError(image === undefined ? MISSING_IMAGE : 'image must be a Uint8Array or a file path');
  if (image.includes('\0')) throw typeError('image path must not contain NUL');
  let fd: number | undefined;
  try {
    fd = fs.openSync(image, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new DbosError('DBOS_EINVAL', `guest image ${image}: not a regular file`);
    if (stat.size > GUEST_IMAGE_SIZE_MAX)
      throw new DbosError('DBOS_EINVAL', `guest image ${image}: ${stat.size} bytes is more than an image may hold`);
    return fs.readFileSync(fd);
  } catch (error) {
    if (error instanceof DbosError) throw error;
    const code = (error as { code?: unknown }).code;
    // Errno names (ENOENT, EACCES) pass through; anything else is an unreadable image.
    const coded = typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'DBOS_EIO';
    throw new DbosError(coded, `guest image ${image}: ${(error as Error).message}`, { cause: error });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * A dbos guest: a VM created in this process on /dev/kvm, running a guest image: the dbos guest
 * kernel linked with an engine's entry points (built per package with @dbos/native-build).
 *
 * JavaScript runs those entry points with {@link Guest.run}. The guest forwards its system calls to the host by hypercall, against
 * descriptors granted with {@link Guest.grantFd}.
 */
export class Guest {
  readonly #native: NativeGuest;
  readonly #info: GuestInfo;
  readonly #entries = new Map<string, number>();
  #status: 'running' | 'failed' | 'stopped' = 'running';
  #failure: GuestFailure | null = null;

  private constructor(native: NativeGuest) {
    this.#native = native;
    const raw = native.info();
    this.#info = {
      kvm: raw.kvm,
      engineRing: raw.engineRing,
      vcpus: raw.vcpus,
      memory: raw.memory,
      imageSize: raw.imageSize,
      bootNs: raw.bootNs,
      tscKhz: raw.tscKhz,
      scratch: { address: raw.scratchAddress, size: raw.scratchSize },
    };
  }

  /**
   * Whether a guest can start on this machine: /dev/kvm opens and has API version 12 and the
   * capabilities dbos needs (irqchip, ioeventfd, irqfd, …). Says nothing about an image.
   * `engineRing` is where engine code will run by default: 0 on hardware virtualization, 3 behind
   * the int3 trap gate on PVM. Never throws; opens and closes /dev/kvm, creates no VM.
   */
  static available(): GuestAvailability {
    const probe = addon.guestProbe();
    if (probe.available && probe.kvm !== 'none') {
      // The ring Guest.start picks by default: ring 0 only where it runs natively.
      return { available: true, kvm: probe.kvm, engineRing: probe.kvm === 'pvm' ? 3 : 0 };
    }
    return { available: false, code: probe.code, reason: probe.reason };
  }

  /**
   * Boot a guest from `options.image`. Blocks for the boot; `info.bootNs` says how long it took.
   * @throws TypeError DBOS_EINVAL without an image (the message says how to build one) or with
   *   bad options, RangeError DBOS_ERANGE for memory/vcpus outside their limits;
   *   DbosError DBOS_EINVAL (a malformed image), DBOS_ENOTSUP (an image of another ABI version,
   *   no usable /dev/kvm, a missing capability: `message` says which), DBOS_EPERM (/dev/kvm not
   *   permitted), DBOS_ENOMEM, ENOENT and other errno codes (the image file cannot be read),
   *   GuestError DBOS_EGUEST (the kernel failed to boot).
   */
  static start(options: GuestOptions): Guest {
    if (typeof options !== 'object' || options === null) throw typeError(MISSING_IMAGE);
    const memory = options.memory ?? 64 * MIB;
    const vcpus = options.vcpus ?? 1;
    const engineRing = options.engineRing;
    if (typeof memory !== 'number' || !Number.isSafeInteger(memory)) throw typeError('memory must be an integer number of bytes');
    if (memory < GUEST_RAM.min || memory > GUEST_RAM.max || memory % GUEST_RAM.align !== 0) {
      throw rangeError('memory must be a multiple of 2 MiB between 16 MiB and 3 GiB');
    }
    integerIn(vcpus, 'vcpus', 1, GUEST_VCPU_MAX);
    if (engineRing !== undefined && engineRing !== 0 && engineRing !== 3) throw typeError('engineRing must be 0 or 3');
    const image = imageBytes(options.image);
    const ring = engineRing ?? -1;
    return new Guest(callNative(() => new addon.NativeGuest(memory, vcpus, ring, image)));
  }

  /** Configuration of this guest (also after stop). */
  get info(): GuestInfo {
    return this.#info;
  }

  /** 'running', 'failed' (a call reported a guest failure; see {@link failure}) or 'stopped'. */
  get status(): 'running' | 'failed' | 'stopped' {
    return this.#status;
  }

  /** The first guest failure, or null. */
  get failure(): GuestFailure | null {
    return this.#failure;
  }

  /** Names of the entry points compiled into the guest image. */
  entries(): string[] {
    return callNative(() => this.#native.entries());
  }

  #prepare(entry: string, args: ReadonlyArray<number | bigint>, options: RunOptions) {
    if (typeof entry !== 'string') throw typeError('entry must be a string');
    if (!Array.isArray(args) || args.length > GUEST_ENTRY_ARGS)
      throw typeError(`args must be an array of at most ${GUEST_ENTRY_ARGS} integers`);
    if (typeof options !== 'object' || options === null) throw typeError('options must be an object');
    const vcpu = integerIn(options.vcpu ?? 0, 'vcpu', 0, this.#info.vcpus - 1);
    const packed = new BigInt64Array(GUEST_ENTRY_ARGS);
    packed.set(Array.from(args, (value, index) => BigInt.asIntN(64, word64(value, `args[${index}]`))));
    let fn = this.#entries.get(entry);
    if (fn === undefined) {
      fn = callNative(() => this.#native.entryFind(entry)); // DBOS_ENOENT for unknown names
      this.#entries.set(entry, fn);
    }
    return { vcpu, fn, packed };
  }

  /** Remember the first guest failure; rethrow. */
  #fail(error: unknown): never {
    if (error instanceof GuestError && this.#status === 'running') {
      this.#status = 'failed';
      this.#failure = error.failure;
    }
    throw error;
  }

  /**
   * Run the entry point `entry` with up to 4 integer arguments on a vCPU; resolves with its
   * int64 result. Does not block the event loop: the vCPU's own host thread runs the call and hands
   * its end back (no libuv pool thread waits on guest code, so ending the thread or process stops
   * the guest instead of waiting for it).
   * @throws DbosError DBOS_ENOENT (no such entry), DBOS_EBUSY (the vCPU is running a call),
   *   DBOS_ECLOSED (stopped), GuestError DBOS_EGUEST (the guest failed, now or earlier).
   */
  async run(entry: string, args: ReadonlyArray<number | bigint> = [], options: RunOptions = {}): Promise<bigint> {
    const { vcpu, fn, packed } = this.#prepare(entry, args, options);
    try {
      return await settleNative(callNative(() => this.#native.call(vcpu, fn, packed)));
    } catch (error) {
      this.#fail(error);
    }
  }

  /** {@link run}, blocking the calling thread until the entry point returns. */
  runSync(entry: string, args: ReadonlyArray<number | bigint> = [], options: RunOptions = {}): bigint {
    const { vcpu, fn, packed } = this.#prepare(entry, args, options);
    try {
      return callNative(() => this.#native.callSync(vcpu, fn, packed));
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Give the guest a duplicate of host descriptor `fd` with `options.access` rights (default
   * 'read-only'); returns the guest's descriptor number (what hypercalls name). OPENAT through a
   * granted directory resolves beneath it only. A read-only grant refuses every write the guest
   * asks for (PWRITE, PWRITEV, FTRUNCATE, FALLOCATE: -EBADF) and, beneath a directory, every
   * OPENAT that could write, create or truncate (-EROFS); what is opened beneath it is read-only
   * too. See GUEST.md, "Descriptors and their rights".
   * @throws TypeError DBOS_EINVAL (not an integer, unknown access), RangeError DBOS_ERANGE (outside
   *   0 … 2^31 - 1), DbosError DBOS_EINVAL (not an open fd), DBOS_EPERM ('read-write' for a file the
   *   host descriptor cannot write), DBOS_ELIMIT (guest fd table full), DBOS_ECLOSED.
   */
  grantFd(fd: number, options: GrantOptions = {}): number {
    const host = descriptor(fd, 'fd');
    if (typeof options !== 'object' || options === null) throw typeError('options must be an object');
    const access = options.access ?? 'read-only';
    if (access !== 'read-only' && access !== 'read-write') throw typeError(`access must be 'read-only' or 'read-write'`);
    return callNative(() => this.#native.fdGrant(host, GUEST_ACCESS[access]));
  }

  /**
   * Take a descriptor back (closes the guest's duplicate).
   * @throws TypeError / RangeError for a number that is no descriptor, DbosError DBOS_EINVAL (not
   *   granted), DBOS_ECLOSED.
   */
  revokeFd(guestFd: number): void {
    const guest = descriptor(guestFd, 'guestFd');
    callNative(() => this.#native.fdRevoke(guest));
  }

  /**
   * Copy `length` bytes of guest-physical memory.
   * @throws TypeError DBOS_EINVAL (not integers), RangeError DBOS_ERANGE outside guest RAM.
   */
  read(address: number, length: number): Buffer {
    const at = integerIn(address, 'address', 0, Number.MAX_SAFE_INTEGER);
    const bytes = integerIn(length, 'length', 0, Number.MAX_SAFE_INTEGER);
    return callNative(() => this.#native.memoryRead(at, bytes));
  }

  /**
   * Write guest-physical memory (e.g. request buffers in {@link GuestInfo.scratch}).
   * @throws TypeError DBOS_EINVAL (not an integer address, not a Uint8Array, a detached one),
   *   RangeError DBOS_ERANGE outside guest RAM or into the boot tables below 1 MiB.
   */
  write(address: number, data: Uint8Array): void {
    const at = integerIn(address, 'address', 0, Number.MAX_SAFE_INTEGER);
    if (!(data instanceof Uint8Array)) throw typeError('data must be a Uint8Array');
    callNative(() => this.#native.memoryWrite(at, data));
  }

  /** Take the text the guest logged (LOG hypercalls) since the last call: "[level] text\n" lines. */
  takeLog(): string {
    return callNative(() => this.#native.logTake());
  }

  /**
   * Stop the guest: interrupts running calls (they reject with DBOS_ECLOSED), closes granted
   * descriptors, frees guest memory. Idempotent; blocks until the vCPU threads have exited.
   */
  stop(): void {
    if (this.#status === 'stopped') return;
    callNative(() => this.#native.stop());
    this.#status = 'stopped';
  }
}
