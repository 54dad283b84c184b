// The RDB codec on its own: CRC-64/Jones, LZF, the encoder and the reader, including files
// written by a real redis-server and damaged files.
import fs from 'node:fs';
import { DbosError } from '@dbos/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crc64, crc64 } from '../../src/server/rdb/crc64.js';
import { RdbEncoder, type RdbEntry, canonicalInt32 } from '../../src/server/rdb/encoder.js';
import { bufferInput, fileInput } from '../../src/server/rdb/input.js';
import { lzfCompress, lzfDecompress } from '../../src/server/rdb/lzf.js';
import { type RdbRecord, readRdb, verifyRdb } from '../../src/server/rdb/reader.js';
import { saveRdbSync } from '../../src/server/rdb/save.js';
import { scratch, seeded } from '../helpers.js';
import { checkRdb, startRedis } from './rdb-redis.js';

/** Bit-at-a-time CRC-64/Jones on BigInt: slow, obviously right, independent of the table code. */
function crc64Reference(bytes: Uint8Array): bigint {
  const reflected = 0x95ac9329ac4bc9b5n; // 0xad93d23594c935a9 with its bits reversed
  let crc = 0n;
  for (const byte of bytes) {
    crc ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ reflected : crc >> 1n;
  }
  return crc;
}

function randomBytes(random: () => number, length: number, alphabet = 256): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * alphabet);
  return bytes;
}

/** Every record of an in-memory image, and the summary. */
function readAll(image: Uint8Array): { records: RdbRecord[]; summary: ReturnType<typeof verifyRdb> } {
  const records = [...readRdb(bufferInput(image), 'image')];
  return { records, summary: verifyRdb(bufferInput(image), 'image') };
}

function encode(entries: readonly RdbEntry[], options: { compress?: boolean; chunkBytes?: number } = {}): Buffer {
  const chunks: Buffer[] = [];
  const encoder = new RdbEncoder((chunk) => chunks.push(chunk), options);
  encoder.header([
    ['redis-ver', '7.0.15'],
    ['redis-bits', 64],
  ]);
  encoder.database(0, entries.length, entries.filter((entry) => entry.expireAt !== null).length);
  for (const entry of entries) encoder.entry(entry);
  encoder.end();
  const image = Buffer.concat(chunks);
  expect(image.length).toBe(encoder.emittedBytes);
  return image;
}

function strings(records: readonly RdbRecord[]) {
  return records.flatMap((record) => (record.kind === 'string' ? [record] : []));
}

describe('CRC-64/Jones', () => {
  it('gives the check value and matches a bit-at-a-time reference', () => {
    expect(crc64(Buffer.from('123456789'))).toBe(0xe9c6d914c4b8d9can);
    expect(crc64(new Uint8Array(0))).toBe(0n);
    const random = seeded(7);
    for (let round = 0; round < 200; round++) {
      const bytes = randomBytes(random, Math.floor(random() * 100));
      expect(crc64(bytes)).toBe(crc64Reference(bytes));
    }
  });

  it('gives the same value fed in pieces of any size', () => {
    const random = seeded(11);
    const bytes = randomBytes(random, 5000);
    const whole = crc64(bytes);
    for (let round = 0; round < 20; round++) {
      const crc = new Crc64();
      for (let at = 0; at < bytes.length; ) {
        const end = Math.min(bytes.length, at + 1 + Math.floor(random() * 40));
        crc.update(bytes, at, end);
        at = end;
      }
      expect(crc.value()).toBe(whole);
    }
    const le = Buffer.alloc(8);
    new Crc64().update(bytes).writeLE(le, 0);
    expect(le.readBigUInt64LE(0)).toBe(whole);
  });
});

describe('LZF', () => {
  it('round-trips random, repetitive and long-distance data', () => {
    const random = seeded(3);
    const cases: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from('a'),
      Buffer.from('ab'),
      Buffer.alloc(10_000, 'x'),
      Buffer.from('abcabcabcabcabcabcabcabcabcabcabcabc'),
      randomBytes(random, 3000),
      randomBytes(random, 20_000, 4),
      Buffer.concat([randomBytes(random, 9000), Buffer.alloc(300, 'q'), randomBytes(random, 9000)]),
    ];
    const block = randomBytes(random, 5000);
    cases.push(Buffer.concat([block, randomBytes(random, 4000), block])); // a repeat 9000 bytes back: out of reach
    cases.push(Buffer.concat([block, randomBytes(random, 2000), block]));
    for (let round = 0; round < 50; round++) cases.push(randomBytes(random, Math.floor(random() * 2000), 1 + Math.floor(random() * 8)));
    for (const input of cases) {
      const packed = lzfCompress(input, input.length * 2 + 1);
      expect(packed).not.toBeNull();
      expect(lzfDecompress(packed as Buffer, input.length).equals(input)).toBe(true);
    }
    // Compressible data shrinks; incompressible data is refused under a limit of its own size.
    expect((lzfCompress(Buffer.alloc(10_000, 'x')) as Buffer).length).toBeLessThan(200);
    expect(lzfCompress(randomBytes(random, 1000))).toBeNull();
  });

  it('refuses blocks that lie about their contents', () => {
    const packed = lzfCompress(Buffer.alloc(1000, 'z')) as Buffer;
    const cases: [Uint8Array, number][] = [
      [packed, 999],
      [packed, 1001],
      [packed.subarray(0, packed.length - 1), 1000],
      [Buffer.from([5, 1, 2]), 6], // literal run longer than the input
      [Buffer.from([0, 65, 0x20, 5]), 4], // reference 6 bytes back after 1 byte of output
      [Buffer.from([0xe0]), 10], // cut inside a reference
    ];
    for (const [input, plainLength] of cases) {
      expect(() => lzfDecompress(input, plainLength)).toThrow(expect.objectContaining({ code: 'DBOS_ECORRUPT' }));
    }
  });
});

describe('integer encoding', () => {
  it('takes only the canonical text of 32-bit integers', () => {
    const yes = ['0', '1', '-1', '127', '-128', '32767', '65536', '2147483647', '-2147483648'];
    const no = ['', '-', '01', '-0', '+1', ' 1', '1 ', '2147483648', '-2147483649', '1.5', '12345678901', 'abc'];
    for (const text of yes) expect(canonicalInt32(Buffer.from(text))).toBe(Number(text));
    for (const text of no) expect(canonicalInt32(Buffer.from(text))).toBeNull();
  });
});

describe('encoder and reader', () => {
  const random = seeded(21);
  const entries: RdbEntry[] = [
    { key: Buffer.from('small'), value: Buffer.from('7'), expireAt: null },
    { key: Buffer.from('negative'), value: Buffer.from('-300'), expireAt: null },
    { key: Buffer.from('int32'), value: Buffer.from('-2147483648'), expireAt: 4_102_444_800_123 },
    { key: Buffer.from('wide'), value: Buffer.from('12345678901234'), expireAt: null },
    { key: Buffer.from('padded'), value: Buffer.from('007'), expireAt: null },
    { key: Buffer.from('1234'), value: Buffer.from(''), expireAt: null },
    { key: Buffer.from([0, 255, 13, 10]), value: randomBytes(random, 300), expireAt: 1 },
    { key: Buffer.from('text'), value: Buffer.from('hello hello hello hello hello hello'), expireAt: null },
    { key: Buffer.from('len14'), value: Buffer.alloc(16_000, 'y'), expireAt: null },
    { key: Buffer.from('len32'), value: randomBytes(random, 70_000), expireAt: null },
    { key: Buffer.from('huge'), value: randomBytes(random, 3 << 20, 16), expireAt: 99 },
  ];

  for (const compress of [false, true]) {
    it(`round-trips every string form (compress ${compress})`, () => {
      const image = encode(entries, { compress, chunkBytes: 8192 });
      const { records, summary } = readAll(image);
      expect(summary).toMatchObject({ version: 10, stringCount: entries.length, bytes: image.length });
      expect(summary.checksum).toBe(crc64(image.subarray(0, image.length - 8)));
      expect(records.slice(0, 2)).toEqual([
        { kind: 'aux', name: 'redis-ver', value: Buffer.from('7.0.15') },
        { kind: 'aux', name: 'redis-bits', value: Buffer.from('64') },
      ]);
      expect(records[3]).toEqual({ kind: 'resize', keyCount: entries.length, expiringCount: 3 });
      const read = strings(records);
      expect(read.map((record) => record.key)).toEqual(entries.map((entry) => Buffer.from(entry.key)));
      for (const [index, record] of read.entries()) {
        const entry = entries[index] as RdbEntry;
        expect(record.value.equals(entry.value), `value of ${record.key}`).toBe(true);
        expect(record.expireAt).toBe(entry.expireAt);
        expect(record.database).toBe(0);
      }
    });
  }

  it('writes integers and compressible strings compactly', () => {
    const plain = encode([{ key: Buffer.from('k'), value: Buffer.from('2147483647'), expireAt: null }]);
    const raw = encode([{ key: Buffer.from('k'), value: Buffer.from('x2147483647'), expireAt: null }]);
    expect(raw.length - plain.length).toBe(7); // 4-byte integer + 1 header vs 11 bytes + 1 length
    const long = [{ key: Buffer.from('k'), value: Buffer.alloc(5000, 'a'), expireAt: null }];
    expect(encode(long, { compress: true }).length).toBeLessThan(encode(long).length / 10);
  });
});

describe('files from a real redis-server', () => {
  const dir = scratch('rdb-codec');
  const expiring = Date.now() + 3_600_000;
  const values: Record<string, Buffer> = {
    int8: Buffer.from('-5'),
    int16: Buffer.from('1000'),
    int32: Buffer.from('-100000'),
    wide: Buffer.from('9007199254740993'),
    float: Buffer.from('3.14'),
    empty: Buffer.from(''),
    short: Buffer.from('hello'),
    compressible: Buffer.from('abcdefgh'.repeat(500)),
    barely: Buffer.from('aaaaaaaaaaaaaaaaaaaaaaaaa'),
    binary: randomBytes(seeded(5), 5000, 256),
    repetitiveBinary: Buffer.concat(Array.from({ length: 40 }, () => randomBytes(seeded(9), 64, 256))),
    large: Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(20_000)),
  };
  let image: Buffer;

  beforeAll(async () => {
    fs.mkdirSync(dir.root, { recursive: true });
    const redis = await startRedis(dir.root);
    try {
      for (const [key, value] of Object.entries(values)) await redis.client.set(key, value);
      await redis.client.set('ttl-seconds', 'a', 'EX', 3600);
      await redis.client.set('ttl-ms', 'b', 'PXAT', expiring);
      await redis.client.rpush('a-list', 'x', 'y');
      await redis.client.save();
    } finally {
      await redis.stop();
    }
    image = fs.readFileSync(dir.path('dump.rdb'));
  });

  afterAll(() => dir.remove());

  it('reads every string encoding Redis writes, with expiries, and refuses the list by name', () => {
    // The list stops the reader: read the records before it by rewriting nothing, just stopping on error.
    const seen = new Map<string, { value: Buffer; expireAt: number | null }>();
    const aux = new Map<string, string>();
    let failure: unknown;
    try {
      for (const record of readRdb(bufferInput(image), 'dump.rdb')) {
        if (record.kind === 'string') seen.set(record.key.toString('latin1'), record);
        if (record.kind === 'aux') aux.set(record.name, record.value.toString());
      }
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(DbosError);
    expect(failure).toMatchObject({ code: 'DBOS_ENOTSUP' });
    expect(String((failure as Error).message)).toMatch(/list.*RDB value type 18.*'a-list'.*strings only/);
    // Redis writes keys in hash order, so the list may come before some strings; check those read.
    for (const [key, record] of seen) {
      if (key.startsWith('ttl-')) continue;
      expect(record.value.equals(values[key] as Buffer), key).toBe(true);
      expect(record.expireAt).toBeNull();
    }
    expect(aux.get('redis-ver')).toBe('7.0.15');
    expect(aux.get('redis-bits')).toBe('64');
  });

  it('reads the whole file once the list is gone, and its checksum is ours', async () => {
    const redis = await startRedis(dir.root);
    try {
      await redis.client.del('a-list');
      await redis.client.save();
    } finally {
      await redis.stop();
    }
    const file = dir.path('dump.rdb');
    const bytes = fs.readFileSync(file);
    // Redis compressed the long strings (rdbcompression is on by default), so the LZF path was read.
    expect(bytes.length).toBeLessThan((values.large as Buffer).length / 4);
    const input = fileInput(file);
    const records = [...readRdb(input, 'dump.rdb')];
    input.close();
    const summary = verifyRdb(bufferInput(bytes), 'dump.rdb');
    expect(summary.checksum).toBe(crc64(bytes.subarray(0, bytes.length - 8)));
    const read = new Map(strings(records).map((record) => [record.key.toString('latin1'), record]));
    expect(read.size).toBe(Object.keys(values).length + 2);
    for (const [key, value] of Object.entries(values)) expect(read.get(key)?.value.equals(value), key).toBe(true);
    expect(read.get('ttl-ms')?.expireAt).toBe(expiring);
    const seconds = read.get('ttl-seconds')?.expireAt as number;
    expect(Math.abs(seconds - (Date.now() + 3_600_000))).toBeLessThan(60_000);
  });

  it('reads a file written with rdbchecksum and rdbcompression off (checksum zero: nothing to verify)', async () => {
    const other = scratch('rdb-codec-nochecksum');
    fs.mkdirSync(other.root, { recursive: true });
    try {
      const redis = await startRedis(other.root, ['--rdbchecksum', 'no', '--rdbcompression', 'no']);
      try {
        await redis.client.set('long', values.large as Buffer);
        await redis.client.save();
      } finally {
        await redis.stop();
      }
      const bytes = fs.readFileSync(other.path('dump.rdb'));
      expect(bytes.readBigUInt64LE(bytes.length - 8)).toBe(0n);
      const { records, summary } = readAll(bytes);
      expect(summary.checksum).toBeNull();
      expect(strings(records)[0]?.value.equals(values.large as Buffer)).toBe(true);
    } finally {
      other.remove();
    }
  });

  it('writes files that redis-check-rdb accepts and redis-server loads', async () => {
    const random = seeded(99);
    const nowMs = Date.now();
    const entries: RdbEntry[] = Object.entries(values).map(([key, value]) => ({ key: Buffer.from(key), value, expireAt: null }));
    entries.push({ key: Buffer.from('expiring'), value: Buffer.from('soon'), expireAt: nowMs + 600_000 });
    for (let i = 0; i < 2000; i++) entries.push({ key: Buffer.from(`key:${i}`), value: randomBytes(random, i % 50, 10), expireAt: null });
    for (const compress of [false, true]) {
      const target = scratch('rdb-codec-out');
      try {
        fs.mkdirSync(target.root, { recursive: true });
        const file = target.path('dump.rdb');
        const result = saveRdbSync(file, { keyCount: entries.length, expiringCount: 1, entries }, { nowMs, compress, chunkBytes: 4096 });
        expect(result).toEqual({ keys: entries.length, bytes: fs.statSync(file).size });
        expect(fs.readdirSync(target.root)).toEqual(['dump.rdb']);
        const check = checkRdb(file);
        expect(check.ok, check.output).toBe(true);
        const redis = await startRedis(target.root);
        try {
          expect(await redis.client.dbsize()).toBe(entries.length);
          for (const entry of entries.filter((_, index) => index < 20 || index % 97 === 0)) {
            expect((await redis.client.getBuffer(Buffer.from(entry.key)))?.equals(entry.value), String(entry.key)).toBe(true);
          }
          expect(await redis.client.pexpiretime('expiring')).toBe(nowMs + 600_000);
          expect(await redis.client.pttl('large')).toBe(-1);
        } finally {
          await redis.stop();
        }
      } finally {
        target.remove();
      }
    }
  });
});

describe('damaged files', () => {
  const random = seeded(1234);
  const entries: RdbEntry[] = [];
  // Small on purpose (about 1 KB): the loops below try every byte position.
  for (let i = 0; i < 16; i++) {
    const value = i % 3 === 0 ? String(i * 1000 - 7) : randomBytes(random, i * 9, i % 2 === 0 ? 3 : 256).toString('latin1');
    entries.push({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(value, 'latin1'),
      expireAt: i % 5 === 0 ? 1_800_000_000_000 + i : null,
    });
  }
  const image = encode(entries, { compress: true });
  it('covers every kind of record', () => {
    const kinds = new Set(readAll(image).records.map((record) => record.kind));
    expect([...kinds].sort()).toEqual(['aux', 'database', 'resize', 'string']);
    expect(image.length).toBeLessThan(2000);
    // Some strings are LZF blocks, some integers: the damage below hits every encoding.
    expect(image.includes(0xc3)).toBe(true);
  });

  function outcome(bytes: Uint8Array): string {
    try {
      verifyRdb(bufferInput(bytes), 'image');
      return 'ok';
    } catch (error) {
      if (!(error instanceof DbosError)) throw error;
      expect(['DBOS_ECORRUPT', 'DBOS_ENOTSUP']).toContain(error.code);
      expect(error.message).toMatch(/^image (is corrupt|is truncated|holds|is RDB version)/);
      return error.code;
    }
  }

  it('refuses every truncation', () => {
    for (let length = 0; length < image.length; length++)
      expect(outcome(image.subarray(0, length)), `length ${length}`).toBe('DBOS_ECORRUPT');
    expect(outcome(image)).toBe('ok');
    expect(outcome(Buffer.concat([image, Buffer.from([0])]))).toBe('DBOS_ECORRUPT');
  });

  it('refuses every single flipped byte (the checksum catches what the structure does not)', () => {
    for (let at = 0; at < image.length; at++) {
      const copy = Buffer.from(image);
      copy[at] = (copy[at] as number) ^ (1 + Math.floor(random() * 255));
      expect(outcome(copy), `byte ${at}`).not.toBe('ok');
    }
  });

  it('survives random mutation without crashing, hanging or allocating wildly', () => {
    const started = Date.now();
    for (let round = 0; round < 2000; round++) {
      const copy = Buffer.from(image);
      const edits = 1 + Math.floor(random() * 8);
      for (let edit = 0; edit < edits; edit++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? Math.floor(random() * copy.length) : copy.length;
      outcome(copy.subarray(0, cut));
    }
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('names huge declared lengths instead of allocating them', () => {
    // A key whose length claims 2^40 bytes (64-bit form).
    const header = image.subarray(0, image.indexOf(0xfe));
    const lie = Buffer.concat([header, Buffer.from([0xfe, 0, 0, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0x41]), Buffer.alloc(16)]);
    expect(() => verifyRdb(bufferInput(lie), 'image')).toThrow(/truncated|longer than 512 MiB/);
    const lzfLie = Buffer.concat([header, Buffer.from([0, 1, 0x41, 0xc3, 2, 0x80, 0x10, 0, 0, 0, 0, 0x41]), Buffer.alloc(16)]);
    expect(() => verifyRdb(bufferInput(lzfLie), 'image')).toThrow(/cannot hold/);
    const version = Buffer.from(image);
    version.write('0012', 5, 'latin1');
    expect(() => verifyRdb(bufferInput(version), 'image')).toThrow(expect.objectContaining({ code: 'DBOS_ENOTSUP' }));
  });
});
