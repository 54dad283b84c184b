// Image files: verification, sizes and the CRC32C the format uses.
import fs from 'node:fs/promises';
import { callNative, describeValue, rangeError, settleNative, typeError } from '@dbos/platform';
import { checkBytes, checkPath } from './checks.js';
import { PAGE_SIZE, SPACE_SIZE_MAX } from './constants.js';
import { mechanismName } from './mechanisms.js';
import type { SnapshotMechanism } from './mechanisms.js';
import { addon } from './native.js';
import type { NativeImageHeader } from './native.js';

/** What an image's header says, once every checksum matched. */
export interface ImageInfo {
  /** The format version (IMAGE_FORMAT.version). */
  version: number;
  pageCount: number;
  pageSize: number;
  /** Bytes of the whole image. */
  size: number;
  mechanism: SnapshotMechanism;
  epoch: number;
  takenNs: number;
}

/**
 * @internal A native verify or load, settled once through @dbos/platform's conversion. A rejected
 * check keeps the page the C code named: `badPage` (-1 when the header, table or trailer is bad).
 */
export async function settleImage(promise: Promise<NativeImageHeader>, context: string): Promise<ImageInfo> {
  const header = await settleNative(promise, context).catch((error: unknown) => {
    const badPage = (error as { cause?: { badPage?: unknown } }).cause?.badPage;
    if (typeof badPage === 'number' && error instanceof Error) Object.assign(error, { badPage });
    throw error;
  });
  return {
    version: header.version,
    pageCount: header.pageCount,
    pageSize: header.pageSize,
    size: imageSize(header.pageCount),
    mechanism: mechanismName(header.mechanism),
    epoch: header.epoch,
    takenNs: header.takenNs,
  };
}

/**
 * Check an image file end to end: header, every page against its CRC32C, the checksum table and the
 * trailer. Reads the whole file off the JavaScript thread. Rejects with DbosError DBOS_ECORRUPT (`badPage`
 * on the error: the first bad page, or -1 when the header, table or trailer is bad), DBOS_EIO on read
 * errors, the errno name (`ENOENT`, `EACCES`) when the file cannot be opened; TypeError for a non-string
 * or a path with a NUL byte.
 */
export async function verifyImage(path: string): Promise<ImageInfo> {
  checkPath(path);
  const context = `verifyImage ${path}`;
  const handle = await settleNative(fs.open(path, 'r'), context);
  try {
    return await settleImage(
      callNative(() => addon.verifyImage(handle.fd), context),
      context,
    );
  } finally {
    await settleNative(handle.close(), context);
  }
}

/**
 * Bytes of the image of `pageCount` pages: IMAGE_FORMAT.headerSize + pageCount × (4096 + 4) +
 * IMAGE_FORMAT.trailerSize. TypeError (DBOS_EINVAL) for a
 * non-integer, RangeError (DBOS_ERANGE) past the largest space.
 */
export function imageSize(pageCount: number): number {
  if (!Number.isInteger(pageCount)) throw typeError(`pageCount must be an integer, not ${describeValue(pageCount)}`);
  if (pageCount < 0 || pageCount > SPACE_SIZE_MAX / PAGE_SIZE)
    throw rangeError(`pageCount must be between 0 and ${SPACE_SIZE_MAX / PAGE_SIZE}`);
  return callNative(() => addon.imageSize(pageCount), 'imageSize');
}

/**
 * CRC32C (Castagnoli) of `bytes` (any Uint8Array, shared memory too), continuing `crc` (default 0, an
 * unsigned 32-bit value): the image's checksum. Synchronous.
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  checkBytes(bytes, 'bytes');
  if (!Number.isInteger(crc)) throw typeError(`crc must be an integer, not ${describeValue(crc)}`);
  if (crc < 0 || crc > 0xffffffff) throw rangeError('crc must be an unsigned 32-bit integer');
  return callNative(() => addon.crc32c(crc, bytes), 'crc32c');
}
