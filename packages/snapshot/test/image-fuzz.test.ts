// Fuzz the image decoder (verifyImage and load): every mutation of a valid image — flipped bits,
// overwritten fields, truncation, extension, garbage — must be rejected with a stable code, never
// crash, hang or be accepted. The seed list is the corpus: a seed that ever found something stays.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createSpace, imageSize, verifyImage } from '../src/index.js';
import type { SnapshotSpace } from '../src/index.js';

const PAGES = 16;
const SEEDS = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597];
const MUTATIONS_PER_SEED = 24;
const REJECTIONS = new Set(['DBOS_ECORRUPT', 'DBOS_ERANGE', 'DBOS_EINVAL', 'DBOS_EIO']);

let dir: string;
let image: Buffer;
let space: SnapshotSpace;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-image-fuzz-'));
  space = createSpace({ size: PAGES * 4096 });
  for (let page = 0; page < PAGES; page++) space.write(page * 4096, Uint8Array.of(page, 0xa5, page ^ 0xff));
  const snapshot = space.snapshot();
  const file = path.join(dir, 'valid.img');
  await snapshot.writeTo(file);
  snapshot.release();
  image = fs.readFileSync(file);
  expect(image.length).toBe(imageSize(PAGES));
});

afterAll(() => {
  space.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** One mutation of the valid image; never the identity. */
function mutate(random: () => number): Buffer {
  const pick = (n: number) => Math.floor(random() * n);
  const copy = Buffer.from(image);
  switch (pick(6)) {
    case 0: {
      // flip one bit anywhere
      const at = pick(copy.length);
      copy[at] = copy[at]! ^ (1 << pick(8));
      return copy;
    }
    case 1: {
      // flip a bit in the header (magic, version, counts, sizes, crc)
      const at = pick(128);
      copy[at] = copy[at]! ^ (1 << pick(8));
      return copy;
    }
    case 2: {
      // overwrite a 64-bit header field with an extreme value
      const at = 8 * pick(16);
      copy.writeBigUInt64LE([0n, 0xffffffffffffffffn, 1n << 40n, 0x7fffffffn][pick(4)]!, at);
      return copy.equals(image) ? mutate(random) : copy;
    }
    case 3: // truncate
      return copy.subarray(0, pick(copy.length));
    case 4: // extend with garbage
      return Buffer.concat([copy, Buffer.alloc(1 + pick(8192), pick(256))]);
    default: {
      // replace a run with garbage
      const at = pick(copy.length);
      const length = 1 + pick(Math.min(4096, copy.length - at));
      for (let i = 0; i < length; i++) copy[at + i] = pick(256);
      return copy.equals(image) ? mutate(random) : copy;
    }
  }
}

test('the unmodified image verifies and loads', async () => {
  const file = path.join(dir, 'copy.img');
  fs.writeFileSync(file, image);
  await expect(verifyImage(file)).resolves.toMatchObject({ pageCount: PAGES });
  await expect(space.load(file)).resolves.toMatchObject({ pageCount: PAGES });
});

test.each(SEEDS)('seed %i: every mutated image is rejected with a stable code', async (seed) => {
  const random = xorshift(seed);
  const file = path.join(dir, `fuzz-${seed}.img`);
  for (let i = 0; i < MUTATIONS_PER_SEED; i++) {
    const bytes = mutate(random);
    fs.writeFileSync(file, bytes);
    for (const decode of [() => verifyImage(file), () => space.load(file)]) {
      const outcome = await decode().then(
        () => 'accepted',
        (error: { code?: string }) => error.code ?? String(error),
      );
      if (!REJECTIONS.has(outcome)) throw new Error(`seed ${seed}, mutation ${i} (${bytes.length} bytes): outcome ${outcome}`);
    }
  }
});
