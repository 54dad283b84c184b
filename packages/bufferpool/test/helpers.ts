// What the buffer-pool tests share: scratch directories and page contents that name their page.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DbosError, STATUS_CODES } from '@dbos/platform';
import { expect } from 'vitest';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** A new directory under the temporary directory; removed by the returned function. */
export function scratch(name: string): { dir: string; file: (base: string) => string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dbos-bp-${name}-`));
  return {
    dir,
    file: (base) => path.join(dir, base),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The byte a page's payload holds at `offset` for version `round`: every page and round differ. */
function patternByte(pid: number, offset: number, round: number): number {
  return (pid * 131 + offset * 7 + round * 29 + (offset >> 8)) & 0xff;
}

/** Fill a payload with its page's pattern (the first 8 bytes: the pid, little-endian). */
export function fillPage(data: Uint8Array, pid: number, round = 0): void {
  for (let i = 0; i < data.length; i++) data[i] = patternByte(pid, i, round);
  new DataView(data.buffer, data.byteOffset, 8).setBigUint64(0, BigInt(pid), true);
}

/** The first offset where a payload differs from its page's pattern, or -1 (`step` > 1: every step-th byte only). */
export function pageMismatch(data: Uint8Array, pid: number, round = 0, step = 1): number {
  if (data.length < 8) return 0;
  if (new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true) !== BigInt(pid)) return 0;
  for (let i = 8; i < data.length; i += step) if (data[i] !== patternByte(pid, i, round)) return i;
  return data[data.length - 1] === patternByte(pid, data.length - 1, round) ? -1 : data.length - 1;
}

type Kind = 'DbosError' | 'TypeError' | 'RangeError';

/** What `fn` throws (fails the test when it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

/** What `promise` rejects with (fails the test when it resolves). */
export async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** `error` is of `kind` with `code`, a code of the C status enum. */
export function expectCoded(error: unknown, code: string, kind: Kind): void {
  const classes = { DbosError, TypeError, RangeError };
  expect(error, String(error)).toBeInstanceOf(classes[kind]);
  if (kind !== 'DbosError') expect(error).not.toBeInstanceOf(DbosError);
  expect((error as { code?: unknown }).code, String(error)).toBe(code);
  expect(STATUS_CODES).toContain(code);
}

export function expectError(fn: () => unknown, code: string, kind: Kind): unknown {
  const error = thrown(fn);
  expectCoded(error, code, kind);
  return error;
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli), as dbos/bufferpool.h defines it: to forge file headers in tests. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Rewrite fields of a page file's header (page 0) and, unless `keepChecksum`, its checksum. */
export function patchHeader(file: string, patch: { version?: number; pageSize?: number; pageCount?: bigint }, keepChecksum = false): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const header = Buffer.alloc(48);
    fs.readSync(fd, header, 0, 48, 0);
    if (patch.version !== undefined) header.writeUInt32LE(patch.version, 8);
    if (patch.pageSize !== undefined) header.writeUInt32LE(patch.pageSize, 12);
    if (patch.pageCount !== undefined) header.writeBigUInt64LE(patch.pageCount, 16);
    if (!keepChecksum) {
      header.writeUInt32LE(0, 40);
      header.writeUInt32LE(crc32c(header), 40);
    }
    fs.writeSync(fd, header, 0, 48, 0);
  } finally {
    fs.closeSync(fd);
  }
}
