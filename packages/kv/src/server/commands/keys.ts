// The generic key commands: DEL UNLINK EXISTS TOUCH TYPE RENAME RENAMENX COPY KEYS SCAN RANDOMKEY
// DBSIZE FLUSHDB FLUSHALL, the EXPIRE family, TTL PTTL EXPIRETIME PEXPIRETIME PERSIST, with Redis
// 7.0's replies and error wording.
//
// Differences from Redis (the server has one database): COPY … DB n takes only 0 (Redis takes 0
// to 15; here any other index is "ERR DB index is out of range"). SCAN cursors are positions in
// the keyspace's hash order (see Keyspace.scan), not Redis's reversed-bit bucket numbers.
import type { CommandCall, CommandSpec } from '../command.js';
import { globMatch } from '../glob.js';
import { array, bulk, bytesError, error, integer, NIL, OK, quotedBytes, type Reply, simple } from '../reply.js';
import {
  afterWrite,
  INT64_MAX,
  INT64_MIN,
  invalidExpireTime,
  keyed,
  keyless,
  NOT_INTEGER,
  parseInteger,
  SYNTAX_ERROR,
  word,
} from './data-args.js';

const ZERO = integer(0);
const ONE = integer(1);
const NO_SUCH_KEY = error('ERR no such key');
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
/** SCAN's default COUNT, as in Redis. */
const SCAN_COUNT_DEFAULT = 10;
/** SCAN cursors past this are past the end of the keyspace's order (hash + 1 ≤ 2^32). */
const CURSOR_MAX = 2n ** 32n;
const UINT64_MAX = 2n ** 64n - 1n;

function argument(call: CommandCall, index: number): Buffer {
  return call.args[index] as Buffer;
}

function del(call: CommandCall): Reply | Promise<Reply> {
  const change = call.server.keyspace.change();
  let deleted = 0;
  for (let i = 1; i < call.args.length; i++) if (change.delete(argument(call, i))) deleted++;
  return afterWrite(deleted === 0 ? null : change.commit(), integer(deleted));
}

function exists(call: CommandCall): Reply {
  const keyspace = call.server.keyspace;
  let count = 0;
  for (let i = 1; i < call.args.length; i++) if (keyspace.has(argument(call, i))) count++;
  return integer(count);
}

function type(call: CommandCall): Reply {
  const stored = call.server.keyspace.get(argument(call, 1));
  return simple(stored === undefined ? 'none' : stored.type);
}

function rename(onlyIfAbsent: boolean) {
  return (call: CommandCall): Reply | Promise<Reply> => {
    const source = argument(call, 1);
    const target = argument(call, 2);
    const change = call.server.keyspace.change();
    const stored = change.get(source);
    if (stored === undefined) return NO_SUCH_KEY;
    if (source.equals(target)) return onlyIfAbsent ? ZERO : OK;
    if (onlyIfAbsent && change.get(target) !== undefined) return ZERO;
    change.set(target, stored);
    change.delete(source);
    return afterWrite(change.commit(), onlyIfAbsent ? ONE : OK);
  };
}

function copy(call: CommandCall): Reply | Promise<Reply> {
  const { args } = call;
  let replace = false;
  for (let i = 3; i < args.length; i++) {
    const option = word(args[i]);
    if (option === 'replace') {
      replace = true;
    } else if (option === 'db' && i + 1 < args.length) {
      const index = parseInteger(argument(call, i + 1));
      if (index === null) return NOT_INTEGER;
      if (index < INT32_MIN || index > INT32_MAX)
        return error(`ERR value is out of range, value must between ${INT32_MIN} and ${INT32_MAX}`);
      if (index !== 0n) return error('ERR DB index is out of range');
      i++;
    } else {
      return SYNTAX_ERROR;
    }
  }
  const source = argument(call, 1);
  const target = argument(call, 2);
  if (source.equals(target)) return error('ERR source and destination objects are the same');
  const change = call.server.keyspace.change();
  const stored = change.get(source);
  if (stored === undefined) return ZERO;
  if (change.get(target) !== undefined && !replace) return ZERO;
  change.set(target, stored);
  return afterWrite(change.commit(), ONE);
}

function keys(call: CommandCall): Reply {
  const pattern = argument(call, 1);
  const everything = pattern.length === 1 && pattern[0] === 0x2a;
  const found: Reply[] = [];
  for (const [key] of call.server.keyspace.entries()) {
    if (everything || globMatch(pattern, key)) found.push(bulk(key));
  }
  return array(found);
}

/** A SCAN cursor as strtoul reads it (sign allowed and wrapped, empty = 0), or null when Redis refuses it. */
function parseCursor(text: Buffer): bigint | null {
  const source = text.toString('latin1');
  const match = /^([+-]?)(\d*)$/.exec(source);
  if (match === null) return null;
  const digits = match[2] ?? '';
  if (digits.length === 0) return source.length === 0 ? 0n : null;
  const value = BigInt(digits);
  if (value > UINT64_MAX) return null;
  return match[1] === '-' ? (UINT64_MAX + 1n - value) & UINT64_MAX : value;
}

function scan(call: CommandCall): Reply {
  const cursor = parseCursor(argument(call, 1));
  if (cursor === null) return error('ERR invalid cursor');
  const { args } = call;
  let count = SCAN_COUNT_DEFAULT;
  let pattern: Buffer | null = null;
  let typeName: string | null = null;
  for (let i = 2; i < args.length; i++) {
    const option = word(args[i]);
    const hasValue = i + 1 < args.length;
    if (option === 'count' && hasValue) {
      const parsed = parseInteger(argument(call, i + 1));
      if (parsed === null) return NOT_INTEGER;
      if (parsed < 1n) return SYNTAX_ERROR;
      count = parsed > 1_000_000n ? 1_000_000 : Number(parsed);
    } else if (option === 'match' && hasValue) {
      const given = argument(call, i + 1);
      pattern = given.length === 1 && given[0] === 0x2a ? null : given;
    } else if (option === 'type' && hasValue) {
      typeName = word(args[i + 1]);
    } else {
      return SYNTAX_ERROR;
    }
    i++;
  }
  let next = 0;
  let found: Buffer[] = [];
  if (cursor <= CURSOR_MAX) {
    const step = call.server.keyspace.scan(Number(cursor), count, (key, stored) => {
      if (pattern !== null && !globMatch(pattern, key)) return false;
      // As in Redis, an expired key met by SCAN has type "none": TYPE none lists it.
      if (typeName !== null) return (stored === null ? 'none' : stored.type) === typeName;
      return stored !== null;
    });
    next = step.cursor;
    found = step.keys;
  }
  return array([bulk(String(next)), array(found.map((key) => bulk(key)))]);
}

function randomkey(call: CommandCall): Reply {
  const key = call.server.keyspace.randomKey();
  return key === null ? NIL : bulk(key);
}

function flush(call: CommandCall): Reply | Promise<Reply> {
  let mode: 'sync' | 'async' = 'sync';
  if (call.args.length === 2) {
    const option = word(call.args[1]);
    if (option === 'async') mode = 'async';
    else if (option !== 'sync') return SYNTAX_ERROR;
  } else if (call.args.length > 2) {
    return SYNTAX_ERROR;
  }
  return afterWrite(call.server.keyspace.flush(mode), OK);
}

const EXPIRE_NX = 1;
const EXPIRE_XX = 2;
const EXPIRE_GT = 4;
const EXPIRE_LT = 8;

function expireGeneric(command: string, seconds: boolean, relative: boolean) {
  return (call: CommandCall): Reply | Promise<Reply> => {
    const { args } = call;
    let flags = 0;
    for (let i = 3; i < args.length; i++) {
      const option = word(args[i]);
      if (option === 'nx') flags |= EXPIRE_NX;
      else if (option === 'xx') flags |= EXPIRE_XX;
      else if (option === 'gt') flags |= EXPIRE_GT;
      else if (option === 'lt') flags |= EXPIRE_LT;
      else return bytesError(Buffer.concat([Buffer.from('ERR Unsupported option '), quotedBytes(argument(call, i))]));
    }
    if ((flags & EXPIRE_NX) !== 0 && (flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) !== 0) {
      return error('ERR NX and XX, GT or LT options at the same time are not compatible');
    }
    if ((flags & EXPIRE_GT) !== 0 && (flags & EXPIRE_LT) !== 0) return error('ERR GT and LT options at the same time are not compatible');
    let when = parseInteger(argument(call, 2));
    if (when === null) return NOT_INTEGER;
    if (seconds) {
      if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalidExpireTime(command);
      when *= 1000n;
    }
    const now = call.server.now();
    const base = relative ? BigInt(now) : 0n;
    if (when > INT64_MAX - base) return invalidExpireTime(command);
    when += base;
    const change = call.server.keyspace.change();
    const key = argument(call, 1);
    const stored = change.get(key);
    if (stored === undefined) return ZERO;
    const current = stored.expireAt;
    if ((flags & EXPIRE_NX) !== 0 && current !== null) return ZERO;
    if ((flags & EXPIRE_XX) !== 0 && current === null) return ZERO;
    // A key without expiry counts as an infinite time to live for GT and LT.
    if ((flags & EXPIRE_GT) !== 0 && (current === null || when <= current)) return ZERO;
    if ((flags & EXPIRE_LT) !== 0 && current !== null && when >= current) return ZERO;
    if (when <= BigInt(now)) change.delete(key);
    else change.set(key, { ...stored, expireAt: Number(when) });
    return afterWrite(change.commit(), ONE);
  };
}

function ttlGeneric(milliseconds: boolean, absolute: boolean) {
  return (call: CommandCall): Reply => {
    const stored = call.server.keyspace.get(argument(call, 1));
    if (stored === undefined) return integer(-2);
    if (stored.expireAt === null) return integer(-1);
    let ttl = absolute ? stored.expireAt : stored.expireAt - call.server.now();
    if (ttl < 0) ttl = 0;
    return integer(milliseconds ? ttl : Math.floor((ttl + 500) / 1000));
  };
}

function persist(call: CommandCall): Reply | Promise<Reply> {
  const change = call.server.keyspace.change();
  const key = argument(call, 1);
  const stored = change.get(key);
  if (stored === undefined || stored.expireAt === null) return ZERO;
  change.set(key, { ...stored, expireAt: null });
  return afterWrite(change.commit(), ONE);
}

const GENERIC = 'generic';

export const keyCommands: CommandSpec[] = [
  keyed('del', -2, ['write'], [1, -1, 1], GENERIC, 'Deletes keys and returns how many existed.', del),
  keyed('unlink', -2, ['write', 'fast'], [1, -1, 1], GENERIC, 'Deletes keys (as DEL: values are freed by the store).', del),
  keyed('exists', -2, ['readonly', 'fast'], [1, -1, 1], GENERIC, 'Counts how many of the given keys exist.', exists),
  keyed(
    'touch',
    -2,
    ['readonly', 'fast'],
    [1, -1, 1],
    GENERIC,
    'Counts how many of the given keys exist (no access times are kept).',
    exists,
  ),
  keyed('type', 2, ['readonly', 'fast'], [1, 1, 1], GENERIC, 'Returns the type of the value of a key.', type),
  keyed('rename', 3, ['write'], [1, 2, 1], GENERIC, 'Renames a key, replacing any key of the new name.', rename(false)),
  keyed('renamenx', 3, ['write', 'fast'], [1, 2, 1], GENERIC, 'Renames a key only when the new name is free.', rename(true)),
  keyed('copy', -3, ['write', 'denyoom'], [1, 2, 1], GENERIC, 'Copies the value and expiry of a key to another key.', copy),
  keyless('keys', 2, ['readonly'], GENERIC, 'Returns every key that matches a glob pattern.', keys),
  keyless('scan', -2, ['readonly'], GENERIC, 'Iterates over the keys with a cursor.', scan),
  keyless('randomkey', 1, ['readonly'], GENERIC, 'Returns a random key.', randomkey),
  keyless('dbsize', 1, ['readonly', 'fast'], 'server', 'Returns the number of keys.', (call) => integer(call.server.keyspace.size())),
  keyless('flushdb', -1, ['write'], 'server', 'Deletes every key.', flush),
  keyless('flushall', -1, ['write'], 'server', 'Deletes every key (there is one database).', flush),
  keyed(
    'expire',
    -3,
    ['write', 'fast'],
    [1, 1, 1],
    GENERIC,
    'Sets the time to live of a key in seconds.',
    expireGeneric('expire', true, true),
  ),
  keyed(
    'pexpire',
    -3,
    ['write', 'fast'],
    [1, 1, 1],
    GENERIC,
    'Sets the time to live of a key in milliseconds.',
    expireGeneric('pexpire', false, true),
  ),
  keyed(
    'expireat',
    -3,
    ['write', 'fast'],
    [1, 1, 1],
    GENERIC,
    'Sets the expiry of a key as a Unix time in seconds.',
    expireGeneric('expireat', true, false),
  ),
  keyed(
    'pexpireat',
    -3,
    ['write', 'fast'],
    [1, 1, 1],
    GENERIC,
    'Sets the expiry of a key as a Unix time in milliseconds.',
    expireGeneric('pexpireat', false, false),
  ),
  keyed('ttl', 2, ['readonly', 'fast'], [1, 1, 1], GENERIC, 'Returns the time to live of a key in seconds.', ttlGeneric(false, false)),
  keyed('pttl', 2, ['readonly', 'fast'], [1, 1, 1], GENERIC, 'Returns the time to live of a key in milliseconds.', ttlGeneric(true, false)),
  keyed(
    'expiretime',
    2,
    ['readonly', 'fast'],
    [1, 1, 1],
    GENERIC,
    'Returns the expiry of a key as a Unix time in seconds.',
    ttlGeneric(false, true),
  ),
  keyed(
    'pexpiretime',
    2,
    ['readonly', 'fast'],
    [1, 1, 1],
    GENERIC,
    'Returns the expiry of a key as a Unix time in milliseconds.',
    ttlGeneric(true, true),
  ),
  keyed('persist', 2, ['write', 'fast'], [1, 1, 1], GENERIC, 'Removes the expiry of a key.', persist),
];
