// Image files: verification and the CRC32C the format uses.
import fs from 'node:fs/promises';
import { DbosError, typeError } from '@dbos/platform';
import { mechanismName } from './mechanisms.js';
import type { SnapshotMechanism } from './mechanisms.js';
import { addon } from './native.js';
import type { NativeImageCheck } from './native.js';

/** @internal the outcome of a native verify or load: an ImageInfo, or the DbosError it failed with. */
export function imageInfo(result: NativeImageCheck, path: string, what: string): ImageInfo {
  if (result.status !== 'DBOS_OK') {
    const error = new DbosError(result.status, `image ${path}: ${what} failed (${result.status})`);
    throw Object.assign(error, { badPage: result.badPage });
  }
  return {
    version: result.version,
    pageCount: result.pageCount,
    pageSize: result.pageSize,
    size: imageSize(result.pageCount),
    mechanism: mechanismName(result.mechanism),
    epoch: result.epoch,
    takenNs: result.takenNs,
  };
}

/** What an image's header says, once every checksum matched. */
export interface ImageInfo {
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
 * Check an image file end to end: header, every page against its CRC32C, the checksum table and the
 * trailer. Reads the whole file off the JavaScript thread. Rejects with DBOS_ECORRUPT (`badPage` on the
 * error: the first bad page, or -1 when the header, table or trailer is bad), DBOS_EIO on read errors.
 */
export async function verifyImage(path: string): Promise<ImageInfo> {
  if (typeof path !== 'string') throw typeError('path must be a string');
  const handle = await fs.open(path, 'r');
  try {
    return imageInfo(await addon.verifyImage(handle.fd), path, 'verification');
  } finally {
    await handle.close();
  }
}

/** Bytes of the image of `pageCount` pages: 4096 + pageCount × 4100 + 64. */
export function imageSize(pageCount: number): number {
  return addon.imageSize(pageCount);
}

/** CRC32C (Castagnoli) of `bytes`, continuing `crc` (default 0): the image's checksum. */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  if (!(bytes instanceof Uint8Array)) throw typeError('bytes must be a Uint8Array');
  return addon.crc32c(crc, bytes);
}
