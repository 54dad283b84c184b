// Every number src/abi.ts shares with C, pinned to the C headers it copies: the compiler reads the
// headers and prints each value (cConstants of @dbos/native-build), and each must equal the
// TypeScript one. A change on either side alone fails here, and so does a new constant in
// src/abi.ts that nobody pinned.
import path from 'node:path';
import { cConstants } from '@dbos/native-build/ctest';
import { expect, test } from 'vitest';
import * as abi from '../src/abi.js';
import * as testAbi from './guest-abi.js';
import { packageDir } from './guest-image.js';

/** Every leaf of a module's constants by path ("IO_OPCODES.pread", "STATX_SIZE") with its value. */
function leaves(value: unknown, at: string, out: Map<string, number | bigint>): Map<string, number | bigint> {
  if (typeof value === 'number' || typeof value === 'bigint') out.set(at, value);
  else for (const [key, inner] of Object.entries(value as object)) leaves(inner, at ? `${at}.${key}` : key, out);
  return out;
}
// The guest tests' numbers (test/guest-abi.ts) are held to the same rule as the package's.
const exported = leaves({ ...abi, ...testAbi }, '', new Map());

/** test name -> [TypeScript value, the C expression it must equal]. */
const pins = new Map<string, [number | bigint, string]>();
const pinned = new Set<string>();
/** Pin the abi.ts constant at `leaf` to `expression`. */
const pin = (leaf: string, expression: string) => {
  const value = exported.get(leaf);
  if (value === undefined) throw new Error(`src/abi.ts has no ${leaf}`);
  pins.set(`${leaf} == ${expression}`, [value, expression]);
  pinned.add(leaf);
};
/** A further fact about a value that is already pinned (a count, Linux's own layout). */
const check = (value: number | bigint, expression: string) => pins.set(`${value} == ${expression}`, [value, expression]);
const upper = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();

for (const name of Object.keys(abi.IO_OPCODES)) pin(`IO_OPCODES.${name}`, `DBOS_IO_${upper(name)}`);
check(Object.keys(abi.IO_OPCODES).length + 1, 'DBOS_IO_OPCODE_COUNT'); // none missing: opcodes start at 1
for (const name of Object.keys(abi.GATEWAY_BACKENDS)) pin(`GATEWAY_BACKENDS.${name}`, `DBOS_GATEWAY_${upper(name)}`);
pin('GATEWAY_LIMITS.queueDepthDefault', 'DBOS_GATEWAY_QUEUE_DEPTH_DEFAULT');
pin('GATEWAY_LIMITS.queueDepthMax', 'DBOS_GATEWAY_QUEUE_DEPTH_MAX');
pin('GATEWAY_LIMITS.threadsDefault', 'DBOS_GATEWAY_THREAD_COUNT_DEFAULT');
pin('GATEWAY_LIMITS.threadsMax', 'DBOS_GATEWAY_THREAD_COUNT_MAX');
pin('IO_BATCH_COUNT_MAX', 'DBOS_IO_BATCH_COUNT_MAX');
pin('IO_VEC_COUNT_MAX', 'DBOS_IO_VEC_COUNT_MAX');
pin('IO_AT_FDCWD', 'DBOS_IO_AT_FDCWD');
pin('STATX_SIZE', 'sizeof(dbos_statx)');
const statxFields: Record<keyof typeof abi.STATX_OFFSETS, string> = {
  mask: 'mask',
  blockSize: 'block_size',
  attributes: 'attributes',
  nlink: 'link_count',
  uid: 'uid',
  gid: 'gid',
  mode: 'mode',
  ino: 'inode',
  size: 'size',
  blocks: 'blocks',
  atime: 'access_time',
  birthtime: 'birth_time',
  ctime: 'change_time',
  mtime: 'modify_time',
  rdevMajor: 'rdev_major',
  rdevMinor: 'rdev_minor',
  devMajor: 'dev_major',
  devMinor: 'dev_minor',
  mountId: 'mount_id',
  directIoMemoryAlign: 'direct_io_memory_align',
  directIoOffsetAlign: 'direct_io_offset_align',
};
for (const [name, field] of Object.entries(statxFields)) pin(`STATX_OFFSETS.${name}`, `offsetof(dbos_statx, ${field})`);
pin('STATX_TIME_NANOSECONDS', 'offsetof(dbos_statx_time, nanoseconds)');
// Linux's own numbers, which the gateway hands to the kernel unchanged; dbos_statx is Linux's layout too.
pin('LINUX.AT_EMPTY_PATH', 'AT_EMPTY_PATH');
pin('LINUX.O_CLOEXEC', 'O_CLOEXEC');
pin('LINUX.STATX_BASIC_STATS', 'STATX_BASIC_STATS');
check(abi.STATX_SIZE, 'sizeof(struct statx)');
check(abi.STATX_OFFSETS.size, 'offsetof(struct statx, stx_size)');
check(abi.STATX_OFFSETS.mtime, 'offsetof(struct statx, stx_mtime)');

for (const name of Object.keys(abi.OP_FIELD)) pin(`OP_FIELD.${name}`, `DBOS_TABLE_OP_${upper(name)}`);
pin('OP_FIELDS', 'DBOS_TABLE_OP_FIELDS');
for (const name of Object.keys(abi.VEC_FIELD)) pin(`VEC_FIELD.${name}`, `DBOS_TABLE_VEC_${upper(name)}`);
pin('VEC_FIELDS', 'DBOS_TABLE_VEC_FIELDS');
pin('TRANSFER_SIZE_MAX', 'DBOS_TABLE_TRANSFER_SIZE_MAX');

for (const name of Object.keys(abi.HYPERCALL_OPS)) pin(`HYPERCALL_OPS.${name}`, `DBOS_HC_${upper(name)}`);
check(Object.keys(abi.HYPERCALL_OPS).length, 'DBOS_HC_OP_COUNT'); // none missing: ops start at 0
pin('HYPERCALL_REQUEST_SIZE', 'sizeof(struct dbos_hc_request)');
const requestFields: Record<keyof typeof abi.HYPERCALL_REQUEST_OFFSETS, string> = {
  op: 'op',
  flags: 'flags',
  fd: 'fd',
  args: 'args',
  userData: 'user_data',
};
for (const [name, field] of Object.entries(requestFields))
  pin(`HYPERCALL_REQUEST_OFFSETS.${name}`, `offsetof(struct dbos_hc_request, ${field})`);
pin('HYPERCALL_ARGS', 'sizeof(((struct dbos_hc_request *)0)->args) / sizeof(uint64_t)');
pin('GUEST_ENTRY_ARGS', 'DBOS_GUEST_ENTRY_ARGS');
pin('GUEST_VCPU_MAX', 'DBOS_GUEST_VCPU_MAX');
pin('GUEST_IMAGE_SIZE_MAX', 'DBOS_GUEST_IMAGE_SIZE_MAX');
pin('GUEST_ACCESS.read-only', 'DBOS_GUEST_ACCESS_READ_ONLY');
pin('GUEST_ACCESS.read-write', 'DBOS_GUEST_ACCESS_READ_WRITE');
pin('GUEST_RAM.min', 'DBOS_GUEST_RAM_MIN');
pin('GUEST_RAM.max', 'DBOS_GUEST_RAM_MAX');
pin('GUEST_RAM.align', 'DBOS_GUEST_RAM_ALIGN');

const testFields: Record<keyof typeof testAbi.GUEST_TEST_ABI, string> = {
  engineVa: 'DBOS_GUEST_ENGINE_VA',
  page: 'DBOS_PAGE_SIZE',
  protRead: 'DBOS_PROT_READ',
  protReadWrite: 'DBOS_PROT_READ_WRITE',
  ptePresent: 'DBOS_PTE_PRESENT',
  pteWrite: 'DBOS_PTE_WRITE',
  pteAccessed: 'DBOS_PTE_ACCESSED',
  pteDirty: 'DBOS_PTE_DIRTY',
  pteAddressMask: 'DBOS_PTE_ADDRESS_MASK',
  statusEinval: 'DBOS_EINVAL',
  statusEnoent: 'DBOS_ENOENT',
  statusEexist: 'DBOS_EEXIST',
  cpuAreaGpa: 'DBOS_GUEST_CPU_GPA',
  cpuGuard: 'DBOS_GUEST_CPU_GUARD',
  ringEntries: 'DBOS_HC_RING_ENTRIES',
  statxSizeMask: 'STATX_SIZE',
  statxSizeOffset: 'offsetof(struct statx, stx_size)',
};
for (const [name, expression] of Object.entries(testFields)) pin(`GUEST_TEST_ABI.${name}`, expression);

const headers = [
  'linux/fcntl.h',
  'linux/stat.h',
  'dbos/hypercall.h',
  'dbos/hypercall_abi.h',
  'dbos/guest_abi.h',
  'dbos/guest_kernel.h',
  'dbos/guest.h',
  path.join(packageDir, 'binding', 'gateway_table.h'),
];
const names = [...pins.keys()];
const values = cConstants(packageDir, headers, Object.fromEntries(names.map((name, index) => [`v${index}`, pins.get(name)![1]])));

test.each(names.map((name, index) => [name, index] as const))('%s', (name, index) => {
  expect(values[`v${index}`]).toBe(BigInt(pins.get(name)![0]));
});

test('every constant of src/abi.ts is pinned', () => {
  expect([...exported.keys()].filter((leaf) => !pinned.has(leaf))).toEqual([]);
});
