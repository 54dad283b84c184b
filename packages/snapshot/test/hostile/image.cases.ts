// The package's free functions (verifyImage, imageSize, crc32c, mechanisms) under hostile arguments,
// and the image decoder under hostile files: a valid image with bytes changed anywhere.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { call, hostileBigInt, hostileBuffer, hostileNumber, hostileValue, mostly, type CaseTable } from '@dbos/hostile';
import { crc32c, imageSize, mechanisms, verifyImage } from '../../src/index.js';
import { expectThat, optionsArg, pathArg, scratchDir, writeImages } from './support.js';

type Images = Awaited<ReturnType<typeof writeImages>>;

export default {
  'verifyImage(path)': call(
    [pathArg(['@good', '@corrupt', '@other'])],
    async (target, where) => {
      const images = target as Images;
      const image = typeof where === 'string' && where.startsWith('@') ? images[where.slice(1) as keyof Images] : where;
      await verifyImage(image as never);
    },
    { setup: () => writeImages() },
  ),
  // Bytes changed anywhere in a valid image (header, pages, table, trailer, or past the end): the
  // decoder reports DBOS_ECORRUPT, or the image still verifies when the change left it the same.
  'verifyImage of a damaged image': call(
    [fc.nat(), fc.integer({ min: 1, max: 255 }), fc.constantFrom('flip', 'truncate', 'extend')],
    async (target, where, mask, how) => {
      const { good } = target as Images;
      const bytes = fs.readFileSync(good);
      const file = path.join(scratchDir(), 'damaged.img');
      const offset = where % bytes.length;
      if (how === 'flip') bytes[offset]! ^= mask;
      fs.writeFileSync(
        file,
        how === 'truncate' ? bytes.subarray(0, offset) : how === 'extend' ? Buffer.concat([bytes, Buffer.alloc(mask)]) : bytes,
      );
      try {
        await verifyImage(file);
      } catch (error) {
        expectThat((error as { code?: string }).code === 'DBOS_ECORRUPT', `DBOS_ECORRUPT for a ${how} at ${offset}`);
        return;
      }
      throw new Error(`a ${how} at byte ${offset} verified`);
    },
    { setup: () => writeImages(8) },
  ),
  'imageSize(pageCount)': call(
    [fc.oneof(hostileNumber(), hostileBigInt(), hostileValue(), fc.constantFrom(0, 1, 2 ** 30, 2 ** 30 + 1))],
    (_target, count) => imageSize(count as never),
  ),
  'crc32c(bytes, crc)': call(
    [fc.oneof(hostileBuffer(4096), hostileBuffer(0), hostileValue()), mostly(fc.constantFrom(undefined, 0, 0xffffffff, 2 ** 32, -1, 1.5))],
    (_target, bytes, crc) => crc32c(bytes as never, crc as never),
  ),
  'mechanisms(options)': call([optionsArg({ runtime: fc.constantFrom('host', 'guest', 'kvm', 'HOST') })], (_target, options) =>
    mechanisms(options as never),
  ),
} satisfies CaseTable;
