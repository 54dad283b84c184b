// Random block reads through the system-call gateway of @dbos/hypercall. An index lookup has given a
// query 2000 random block numbers of a 32 MiB data file; the engine fetches them in batches of 64,
// each batch one readBatch call that the gateway hands to the kernel at once (io_uring where this
// process may set up a ring, a thread pool of plain system calls otherwise). Every block read is
// checked (its stamp and its checksum, blocks.mjs), and the same blocks are read again one by one
// with fs.promises, the usual way, which must return the same bytes. The file itself is created,
// written, synced and measured through the gateway too, in batches of ops with one result each.
// `node main.mjs [auto|io_uring|threads]` (after `pnpm build` in packages/hypercall); prints what it did.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Gateway } from '@dbos/hypercall';
import { BLOCK_SIZE, isBlock, writeBlock } from './blocks.mjs';

const FILE_BLOCKS = 8192; // 32 MiB
const WRITE_BATCH = 256; // pwrite ops per batch while the file is built
const READS = 2000;
const READ_BATCH = 64;
const backend = process.argv[2] ?? 'auto';

/** Submit one batch and insist that every op of it succeeded; returns the results. */
async function submitAll(gateway, ops) {
  const results = await gateway.submit(ops);
  const failed = results.find((result) => !result.ok);
  if (failed) throw new Error(`${ops[results.indexOf(failed)].op} failed: ${failed.error}`);
  return results;
}

const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'dbos-hypercall-blocks-'));
const file = path.join(directory, 'data.blocks');
const gateway = new Gateway({ backend });
console.log(`gateway: ${gateway.backend} (asked for ${backend}), queue depth ${gateway.queueDepth}`);

// Build the data file: open, write every block in batches of pwrite ops, then sync and measure it.
const [opened] = await submitAll(gateway, [
  { op: 'openat', path: file, flags: constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, mode: 0o600 },
]);
const fd = opened.result;
const blocks = new Uint8Array(WRITE_BATCH * BLOCK_SIZE);
let writeBatches = 0;
for (let first = 0; first < FILE_BLOCKS; first += WRITE_BATCH) {
  const ops = [];
  for (let i = 0; i < WRITE_BATCH; i++) {
    writeBlock(blocks.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE), first + i);
    ops.push({ op: 'pwrite', fd, buffer: blocks, offset: i * BLOCK_SIZE, length: BLOCK_SIZE, position: (first + i) * BLOCK_SIZE });
  }
  const written = await submitAll(gateway, ops);
  if (written.some((result) => result.result !== BLOCK_SIZE)) throw new Error('a short write');
  writeBatches++;
}
await submitAll(gateway, [{ op: 'fdatasync', fd }]); // a later batch: ops of one batch may run in any order
const [measured] = await submitAll(gateway, [{ op: 'statx', fd }]);
console.log(
  `file: ${FILE_BLOCKS} blocks of ${BLOCK_SIZE} bytes written by ${writeBatches} batches of ${WRITE_BATCH} pwrites, synced; statx size ${measured.stat.size}`,
);

// The lookup: random block numbers, read in batches through the gateway.
let seed = 2026;
const wanted = Array.from({ length: READS }, () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % FILE_BLOCKS;
});
const viaGateway = new Uint8Array(READS * BLOCK_SIZE);
let fullReads = 0;
let readBatches = 0;
let started = process.hrtime.bigint();
for (let first = 0; first < READS; first += READ_BATCH) {
  const numbers = wanted.slice(first, first + READ_BATCH);
  const positions = Float64Array.from(numbers, (number) => number * BLOCK_SIZE);
  const target = viaGateway.subarray(first * BLOCK_SIZE, (first + numbers.length) * BLOCK_SIZE);
  const bytes = await gateway.readBatch(fd, positions, BLOCK_SIZE, target);
  for (const count of bytes) if (count === BLOCK_SIZE) fullReads++;
  readBatches++;
}
const gatewayUs = Number(process.hrtime.bigint() - started) / 1000;
const blockAt = (buffer, i) => buffer.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE);
const verifiedGateway = wanted.filter((number, i) => isBlock(blockAt(viaGateway, i), number)).length;
console.log(
  `gateway reads: ${READS} random blocks in ${readBatches} batches of up to ${READ_BATCH}: ${fullReads} full reads, ` +
    `${verifiedGateway} verified, ${gatewayUs.toFixed(0)} µs`,
);

// The same reads one by one with fs.promises, each its own promise and thread-pool round trip.
const handle = await fs.open(file, 'r');
const viaPromises = new Uint8Array(READS * BLOCK_SIZE);
started = process.hrtime.bigint();
for (let i = 0; i < READS; i++) await handle.read(viaPromises, i * BLOCK_SIZE, BLOCK_SIZE, wanted[i] * BLOCK_SIZE);
const promisesUs = Number(process.hrtime.bigint() - started) / 1000;
await handle.close();
const verifiedPromises = wanted.filter((number, i) => isBlock(blockAt(viaPromises, i), number)).length;
const identical = wanted.filter((_, i) => Buffer.compare(blockAt(viaGateway, i), blockAt(viaPromises, i)) === 0).length;
console.log(`fs.promises reads: the same ${READS} blocks one by one: ${verifiedPromises} verified, ${promisesUs.toFixed(0)} µs`);
console.log(
  `both ways: ${identical} of ${READS} blocks identical; time one by one / batched: ${(promisesUs / gatewayUs).toFixed(1)}× (information only)`,
);

await submitAll(gateway, [{ op: 'close', fd }]);
await gateway.close();
await fs.rm(directory, { recursive: true, force: true });
console.log('hypercall example finished');
