// The constants of Redis's RDB file format, as Redis 7.0 writes it (RDB version 10).
//
// Layout of a file:
//   "REDIS" + the version as four ASCII digits ("0010")
//   AUX records (opcode 0xFA, name string, value string): redis-ver, redis-bits, ctime, ...
//   per database: SELECTDB (0xFE, index as a length), RESIZEDB (0xFB, key count, expiring count)
//   per key: [EXPIRETIME_MS (0xFC, int64 LE ms) | EXPIRETIME (0xFD, int32 LE s)]
//            [IDLE (0xF8, length) | FREQ (0xF9, 1 byte)]  value type byte, key string, value
//   EOF (0xFF), then (version >= 5) the CRC64 of every byte before it and of 0xFF, little endian
//
// A length is 1, 2, 5 or 9 bytes; its first byte's top two bits say which (see LENGTH_*). The
// "special" form 0b11 makes a string encoding instead: an integer (1, 2 or 4 bytes LE) or an LZF
// block (compressed length, plain length, compressed bytes).

export const RDB_MAGIC = 'REDIS';
/** What we write: the version Redis 7.0 writes, so 7.0 and later load our files. */
export const RDB_VERSION_WRITTEN = 10;
/** What we read: every version whose string records we understand (7.2 writes 11; it changed only other types). */
export const RDB_VERSION_MAX_READ = 11;
/** Files before version 5 carry no checksum after the EOF opcode. */
export const RDB_VERSION_FIRST_CHECKSUM = 5;
/** The Redis release whose format we write, for the redis-ver AUX field (tools pick parsers by it). */
export const RDB_REDIS_VERSION = '7.0.15';

export const OPCODE = {
  FUNCTION2: 0xf5,
  FUNCTION_PRE_GA: 0xf6,
  MODULE_AUX: 0xf7,
  IDLE: 0xf8,
  FREQ: 0xf9,
  AUX: 0xfa,
  RESIZEDB: 0xfb,
  EXPIRETIME_MS: 0xfc,
  EXPIRETIME: 0xfd,
  SELECTDB: 0xfe,
  EOF: 0xff,
} as const;

/** Value type byte of a plain string, the only value type the server holds. */
export const TYPE_STRING = 0;

/** Every other value type byte Redis has written (7.2 included), for the error that refuses it. */
export const OTHER_VALUE_TYPES: ReadonlyMap<number, string> = new Map([
  [1, 'list'],
  [2, 'set'],
  [3, 'zset'],
  [4, 'hash'],
  [5, 'zset (binary scores)'],
  [6, 'module value (pre-release format)'],
  [7, 'module value'],
  [9, 'hash (zipmap)'],
  [10, 'list (ziplist)'],
  [11, 'set (intset)'],
  [12, 'zset (ziplist)'],
  [13, 'hash (ziplist)'],
  [14, 'list (quicklist)'],
  [15, 'stream'],
  [16, 'hash (listpack)'],
  [17, 'zset (listpack)'],
  [18, 'list (quicklist, listpack nodes)'],
  [19, 'stream (version 2)'],
  [20, 'set (listpack)'],
  [21, 'stream (version 3)'],
]);

/** Top two bits of a length's first byte. */
export const LENGTH_6BIT = 0;
export const LENGTH_14BIT = 1;
/** 0b10: the rest of the first byte picks a 32-bit or 64-bit big-endian length. */
export const LENGTH_WIDE = 2;
export const LENGTH_32BIT_BYTE = 0x80;
export const LENGTH_64BIT_BYTE = 0x81;
/** 0b11: a special string encoding follows, named by the low six bits. */
export const LENGTH_SPECIAL = 3;

export const ENCODING_INT8 = 0;
export const ENCODING_INT16 = 1;
export const ENCODING_INT32 = 2;
export const ENCODING_LZF = 3;

/** Redis's limit on one string (proto-max-bulk-len's ceiling); a larger declared length is corruption. */
export const STRING_BYTES_MAX = 512 * 1024 * 1024;
