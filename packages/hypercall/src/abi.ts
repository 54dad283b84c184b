// Every number this package's TypeScript shares with C, in one place. The C headers are the
// source; test/abi.test.ts compiles them and pins each value below to its C definition, so a
// change on one side that the other misses fails the tests instead of corrupting a batch.

const MIB = 1024 * 1024;

// ---- The gateway (dbos/hypercall.h) ----

/** enum dbos_io_opcode: the gateway's operations. */
export const IO_OPCODES = {
  pread: 1,
  pwrite: 2,
  preadv: 3,
  pwritev: 4,
  fsync: 5,
  fdatasync: 6,
  openat: 7,
  close: 8,
  fallocate: 9,
  ftruncate: 10,
  statx: 11,
} as const;

/** enum dbos_gateway_backend, as `new Gateway({ backend })` names them. */
export const GATEWAY_BACKENDS = { auto: 0, io_uring: 1, threads: 2 } as const;

/** DBOS_GATEWAY_QUEUE_DEPTH_DEFAULT / _MAX and DBOS_GATEWAY_THREAD_COUNT_DEFAULT / _MAX. */
export const GATEWAY_LIMITS = { queueDepthDefault: 256, queueDepthMax: 4096, threadsDefault: 4, threadsMax: 64 } as const;

/** DBOS_IO_BATCH_COUNT_MAX: ops in one batch. */
export const IO_BATCH_COUNT_MAX = 2 ** 20;

/** DBOS_IO_VEC_COUNT_MAX: buffers of one preadv/pwritev. */
export const IO_VEC_COUNT_MAX = 1024;

/** DBOS_IO_AT_FDCWD: "the current directory" as an openat/statx directory. */
export const IO_AT_FDCWD = -100;

/** sizeof(dbos_statx): the 256-byte Linux struct statx. */
export const STATX_SIZE = 256;

/** offsetof(dbos_statx, …) of the fields decoded; a time is { int64 seconds, uint32 nanoseconds }. */
export const STATX_OFFSETS = {
  mask: 0,
  blockSize: 4,
  attributes: 8,
  nlink: 16,
  uid: 20,
  gid: 24,
  mode: 28,
  ino: 32,
  size: 40,
  blocks: 48,
  atime: 64,
  birthtime: 80,
  ctime: 96,
  mtime: 112,
  rdevMajor: 128,
  rdevMinor: 132,
  devMajor: 136,
  devMinor: 140,
  mountId: 144,
  directIoMemoryAlign: 152,
  directIoOffsetAlign: 156,
} as const;

/** offsetof(dbos_statx_time, nanoseconds). */
export const STATX_TIME_NANOSECONDS = 8;

/** Linux values the gateway passes to the kernel unchanged (<fcntl.h>, <linux/stat.h>). */
export const LINUX = { AT_EMPTY_PATH: 0x1000, O_CLOEXEC: 0o2000000, STATX_BASIC_STATS: 0x7ff } as const;

// ---- The op table a batch crosses in (binding/gateway_table.h) ----

/** enum dbos_gateway_table_op_field: the Float64 fields of one op's row. */
export const OP_FIELD = { opcode: 0, fd: 1, position: 2, length: 3, flags: 4, mode: 5, buffer: 6, bufferOffset: 7, path: 8 } as const;
/** DBOS_TABLE_OP_FIELDS. */
export const OP_FIELDS = 9;
/** enum dbos_gateway_table_vec_field: the fields of one iovec's row. */
export const VEC_FIELD = { buffer: 0, offset: 1, length: 2 } as const;
/** DBOS_TABLE_VEC_FIELDS. */
export const VEC_FIELDS = 3;
/** DBOS_TABLE_TRANSFER_SIZE_MAX: bytes one pread/pwrite op of a JavaScript batch may move. */
export const TRANSFER_SIZE_MAX = 2 ** 30;

// ---- The guest runtime (dbos/guest_abi.h, dbos/hypercall_abi.h) ----

/**
 * Hypercall operation numbers (`enum dbos_hc_op`), for building `struct dbos_hc_request`
 * images in guest memory (see GUEST.md).
 */
export const HYPERCALL_OPS = {
  nop: 0,
  pread: 1,
  pwrite: 2,
  preadv: 3,
  pwritev: 4,
  fsync: 5,
  fdatasync: 6,
  openat: 7,
  close: 8,
  fallocate: 9,
  ftruncate: 10,
  statx: 11,
  clockGettime: 12,
  wait: 13,
  wake: 14,
  log: 15,
  exit: 16,
} as const;

/** Bytes of one `struct dbos_hc_request`. */
export const HYPERCALL_REQUEST_SIZE = 64;

/** offsetof(struct dbos_hc_request, …); `args` holds HYPERCALL_ARGS uint64 values. */
export const HYPERCALL_REQUEST_OFFSETS = { op: 0, flags: 2, fd: 4, args: 8, userData: 48 } as const;

/** Elements of `struct dbos_hc_request`'s args. */
export const HYPERCALL_ARGS = 5;

/** DBOS_GUEST_ENTRY_ARGS: integer arguments of an entry point. */
export const GUEST_ENTRY_ARGS = 4;

/** DBOS_GUEST_VCPU_MAX. */
export const GUEST_VCPU_MAX = 16;

/** DBOS_GUEST_IMAGE_SIZE_MAX: bytes of a guest image (kernel, entries and bss fit below it). */
export const GUEST_IMAGE_SIZE_MAX = 0x300000;

/** enum dbos_guest_access, as `guest.grantFd(fd, { access })` names them. */
export const GUEST_ACCESS = { 'read-only': 0, 'read-write': 1 } as const;

/** DBOS_GUEST_RAM_MIN, DBOS_GUEST_RAM_MAX, DBOS_GUEST_RAM_ALIGN: guest RAM in bytes. */
export const GUEST_RAM = { min: 16 * MIB, max: 3 * 1024 * MIB, align: 2 * MIB } as const;
