// The numbers C and TypeScript share. Each one's source is the C header named beside it;
// test/constants.test.ts compiles those headers and pins every value here to them.

/** Bytes per page: every offset the barrier and the image use is in these units (DBOS_PAGE_SIZE). */
export const PAGE_SIZE = 4096;

/** Most snapshots of one space alive at once (DBOS_SNAP_COUNT_MAX). */
export const SNAPSHOT_COUNT_MAX = 16;

/** Largest space in bytes: 2^30 pages of 4096 bytes, 4 TiB (DBOS_SNAP_PAGE_COUNT_MAX × DBOS_PAGE_SIZE). */
export const SPACE_SIZE_MAX = 2 ** 42;

/** Native threads that may write one space through the barrier at once (DBOS_SNAP_WRITER_COUNT_MAX). */
export const WRITER_COUNT_MAX = 64;

/** The C enum dbos_snap_mechanism: DBOS_SNAP_AUTO, _EPOCH, _UFFD_WP, _FORK. @internal */
export const MECHANISM_CODES = Object.freeze({ auto: 0, epoch: 1, 'uffd-wp': 2, fork: 3 } as const);

/**
 * The image format (dbos/snapshot.h): a header block of `headerSize` bytes, the pages, one CRC32C
 * of `checksumSize` bytes per page, then a trailer of `trailerSize` bytes.
 */
export const IMAGE_FORMAT = Object.freeze({
  /** DBOS_SNAP_IMAGE_VERSION: the version this package writes and reads. */
  version: 1,
  /** DBOS_SNAP_IMAGE_HEADER_SIZE: the pages start here. */
  headerSize: 4096,
  /** sizeof(dbos_snap_image_header): the meaningful bytes of the header block (the rest is zero). */
  headerFieldsSize: 56,
  /** sizeof(dbos_snap_image_trailer). */
  trailerSize: 64,
  /** Bytes of a page's CRC32C in the checksum table. */
  checksumSize: 4,
  /** DBOS_SNAP_IMAGE_CHECKSUM_CRC32C: the header's checksum field. */
  checksumCrc32c: 1,
});
