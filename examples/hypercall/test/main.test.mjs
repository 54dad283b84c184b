// The example must run to the end on the backend 'auto' picks and on the thread pool: the file is
// as large as the blocks written to it, every random read is full and holds the block asked for,
// and the gateway's reads and fs.promises' reads return the same bytes. Times are not checked.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const example = fileURLToPath(new URL('../main.mjs', import.meta.url));

/** The numbers of the line matching `pattern`, or a failed expectation naming it. */
function numbers(output, pattern) {
  const match = pattern.exec(output);
  expect(match, `${pattern} in:\n${output}`).not.toBeNull();
  return match.slice(1).map(Number);
}

test.each([
  ['auto', /gateway: (io_uring|threads) \(asked for auto\)/],
  ['threads', /gateway: threads \(asked for threads\)/],
])('batched random reads through the gateway (%s) return every block whole', (backend, mechanism) => {
  const run = spawnSync(process.execPath, [example, backend], { encoding: 'utf8', timeout: 60_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toMatch(mechanism);

  const [blocks, blockSize, writeBatches, perBatch, size] = numbers(
    output,
    /file: (\d+) blocks of (\d+) bytes written by (\d+) batches of (\d+) pwrites, synced; statx size (\d+)/,
  );
  expect(size).toBe(blocks * blockSize);
  expect(writeBatches).toBe(Math.ceil(blocks / perBatch));

  const [reads, readBatches, batchMax, fullReads, verified] = numbers(
    output,
    /gateway reads: (\d+) random blocks in (\d+) batches of up to (\d+): (\d+) full reads, (\d+) verified, \d+ µs/,
  );
  expect(reads).toBeGreaterThan(0);
  expect(readBatches).toBe(Math.ceil(reads / batchMax));
  expect([fullReads, verified]).toEqual([reads, reads]);

  expect(numbers(output, /fs\.promises reads: the same (\d+) blocks one by one: (\d+) verified, \d+ µs/)).toEqual([reads, reads]);
  expect(numbers(output, /both ways: (\d+) of (\d+) blocks identical/)).toEqual([reads, reads]);
  expect(output).toContain('hypercall example finished');
});
