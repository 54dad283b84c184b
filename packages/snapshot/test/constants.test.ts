// Every number C and TypeScript share, pinned to its one source: the C headers, compiled here.
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { cConstants } from '@dbos/native-build/ctest';
import { MECHANISM_CODES } from '../src/constants.js';
import { IMAGE_FORMAT, imageSize, mechanisms, PAGE_SIZE, SNAPSHOT_COUNT_MAX, SPACE_SIZE_MAX, WRITER_COUNT_MAX } from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const c = cConstants(packageDir, ['dbos/snapshot.h'], {
  PAGE_SIZE: 'DBOS_PAGE_SIZE',
  SNAPSHOT_COUNT_MAX: 'DBOS_SNAP_COUNT_MAX',
  SPACE_SIZE_MAX: 'DBOS_SNAP_PAGE_COUNT_MAX * DBOS_PAGE_SIZE',
  WRITER_COUNT_MAX: 'DBOS_SNAP_WRITER_COUNT_MAX',
  AUTO: 'DBOS_SNAP_AUTO',
  EPOCH: 'DBOS_SNAP_EPOCH',
  UFFD_WP: 'DBOS_SNAP_UFFD_WP',
  FORK: 'DBOS_SNAP_FORK',
  MECHANISM_COUNT: 'DBOS_SNAP_MECHANISM_COUNT',
  IMAGE_VERSION: 'DBOS_SNAP_IMAGE_VERSION',
  IMAGE_HEADER_SIZE: 'DBOS_SNAP_IMAGE_HEADER_SIZE',
  IMAGE_HEADER_FIELDS: 'sizeof(dbos_snap_image_header)',
  IMAGE_TRAILER_SIZE: 'sizeof(dbos_snap_image_trailer)',
  IMAGE_CHECKSUM_SIZE: 'sizeof(((dbos_snap_image_trailer *)0)->table_crc32c)',
  IMAGE_CHECKSUM_CRC32C: 'DBOS_SNAP_IMAGE_CHECKSUM_CRC32C',
});

test('limits match dbos/snapshot.h and dbos/platform.h', () => {
  expect(BigInt(PAGE_SIZE)).toBe(c.PAGE_SIZE);
  expect(BigInt(SNAPSHOT_COUNT_MAX)).toBe(c.SNAPSHOT_COUNT_MAX);
  expect(BigInt(SPACE_SIZE_MAX)).toBe(c.SPACE_SIZE_MAX);
  expect(BigInt(WRITER_COUNT_MAX)).toBe(c.WRITER_COUNT_MAX);
});

test('MECHANISM_CODES is enum dbos_snap_mechanism, entry for entry, and the names are the C names', () => {
  expect(Object.fromEntries(Object.entries(MECHANISM_CODES).map(([name, code]) => [name, BigInt(code)]))).toEqual({
    auto: c.AUTO,
    epoch: c.EPOCH,
    'uffd-wp': c.UFFD_WP,
    fork: c.FORK,
  });
  expect(BigInt(Object.keys(MECHANISM_CODES).length)).toBe(c.MECHANISM_COUNT);
  // dbos_snap_mechanism_name, in enum order from EPOCH, through the addon.
  expect(mechanisms().map((m) => m.mechanism)).toEqual(Object.keys(MECHANISM_CODES).slice(1));
});

test('IMAGE_FORMAT is the C image format, and imageSize follows from it', () => {
  expect(BigInt(IMAGE_FORMAT.version)).toBe(c.IMAGE_VERSION);
  expect(BigInt(IMAGE_FORMAT.headerSize)).toBe(c.IMAGE_HEADER_SIZE);
  expect(BigInt(IMAGE_FORMAT.headerFieldsSize)).toBe(c.IMAGE_HEADER_FIELDS);
  expect(BigInt(IMAGE_FORMAT.trailerSize)).toBe(c.IMAGE_TRAILER_SIZE);
  expect(BigInt(IMAGE_FORMAT.checksumSize)).toBe(c.IMAGE_CHECKSUM_SIZE);
  expect(BigInt(IMAGE_FORMAT.checksumCrc32c)).toBe(c.IMAGE_CHECKSUM_CRC32C);
  for (const pages of [0, 1, 10, 262144]) {
    expect(imageSize(pages)).toBe(IMAGE_FORMAT.headerSize + pages * (PAGE_SIZE + IMAGE_FORMAT.checksumSize) + IMAGE_FORMAT.trailerSize);
  }
});
