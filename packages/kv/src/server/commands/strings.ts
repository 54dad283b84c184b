// The string commands (GET, SET and its family, counters, ranges, LCS) with Redis 7.0's replies
// and error wording. Each command makes at most one keyspace change (one atomic store batch) and
// replies once it is durable; commands that write nothing reply at once.
import type { CommandCall, CommandSpec } from '../command.js';
import { type StoredValue, VALUE_BYTES_MAX } from '../keyspace.js';
import { addExtended, formatExtended, parseExtended } from '../long-double.js';
import { bulk, error, integer, NIL, OK, type Reply } from '../reply.js';
import {
  afterWrite,
  INT64_MAX,
  INT64_MIN,
  invalidExpireTime,
  isString,
  keyed,
  NOT_INTEGER,
  parseInteger,
  SYNTAX_ERROR,
  TOO_LONG,
  WRONGTYPE,
  word,
} from './data-args.js';
import { lcs } from './lcs.js';

const EMPTY = bulk('');
const ZERO = integer(0);
const ONE = integer(1);
const NOT_FLOAT = error('ERR value is not a valid float');

function keyOf(call: CommandCall, index = 1): Buffer {
  return call.args[index] as Buffer;
}

function stringValue(value: Uint8Array, expireAt: number | null): StoredValue {
  return { type: 'string', value: Buffer.from(value.buffer, value.byteOffset, value.length), expireAt };
}

/** SET and GETEX's options, as Redis's parser accepts them (later repeats of one option are allowed). */
interface ExpiryOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  persist: boolean;
  /** EX, PX, EXAT or PXAT (the last given), and its argument. */
  expiry: { unit: 'ex' | 'px' | 'exat' | 'pxat'; text: Buffer } | null;
}

function parseExpiryOptions(args: readonly Buffer[], start: number, forSet: boolean): ExpiryOptions | Reply {
  const options: ExpiryOptions = { nx: false, xx: false, get: false, keepTtl: false, persist: false, expiry: null };
  for (let i = start; i < args.length; i++) {
    const option = word(args[i]);
    const next = args[i + 1];
    const unit = options.expiry?.unit;
    if (forSet && option === 'nx' && !options.xx) options.nx = true;
    else if (forSet && option === 'xx' && !options.nx) options.xx = true;
    else if (forSet && option === 'get') options.get = true;
    else if (forSet && option === 'keepttl' && !options.persist && unit === undefined) options.keepTtl = true;
    else if (!forSet && option === 'persist' && unit === undefined && !options.keepTtl) options.persist = true;
    else if (
      (option === 'ex' || option === 'px' || option === 'exat' || option === 'pxat') &&
      !options.keepTtl &&
      !options.persist &&
      (unit === undefined || unit === option) &&
      next !== undefined
    ) {
      options.expiry = { unit: option, text: next };
      i++;
    } else {
      return SYNTAX_ERROR;
    }
  }
  return options;
}

/** The absolute expiry time an EX/PX/EXAT/PXAT argument names, or Redis's error reply. */
function expiryTime(call: CommandCall, unit: 'ex' | 'px' | 'exat' | 'pxat', text: Buffer, command: string): number | Reply {
  const value = parseInteger(text);
  if (value === null) return NOT_INTEGER;
  const seconds = unit === 'ex' || unit === 'exat';
  if (value <= 0n || (seconds && value > INT64_MAX / 1000n)) return invalidExpireTime(command);
  let at = seconds ? value * 1000n : value;
  if (unit === 'ex' || unit === 'px') at += BigInt(call.server.now());
  if (at > INT64_MAX) return invalidExpireTime(command);
  return Number(at);
}

function get(call: CommandCall): Reply {
  const stored = call.server.keyspace.get(keyOf(call));
  if (stored === undefined) return NIL;
  return isString(stored) ? bulk(stored.value) : WRONGTYPE;
}

function set(call: CommandCall): Reply | Promise<Reply> {
  const options = parseExpiryOptions(call.args, 3, true);
  if ('type' in options) return options;
  let expireAt: number | null = null;
  if (options.expiry !== null) {
    const at = expiryTime(call, options.expiry.unit, options.expiry.text, 'set');
    if (typeof at !== 'number') return at;
    expireAt = at;
  }
  const change = call.server.keyspace.change();
  const key = keyOf(call);
  const previous = change.get(key);
  let reply = OK;
  if (options.get) {
    if (previous !== undefined && !isString(previous)) return WRONGTYPE;
    reply = previous === undefined ? NIL : bulk(previous.value);
  }
  const found = previous !== undefined;
  if ((options.nx && found) || (options.xx && !found)) return options.get ? reply : NIL;
  if (options.keepTtl && previous !== undefined) expireAt = previous.expireAt;
  change.set(key, stringValue(keyOf(call, 2), expireAt));
  return afterWrite(change.commit(), reply);
}

function setnx(call: CommandCall): Reply | Promise<Reply> {
  const change = call.server.keyspace.change();
  if (change.get(keyOf(call)) !== undefined) return ZERO;
  change.set(keyOf(call), stringValue(keyOf(call, 2), null));
  return afterWrite(change.commit(), ONE);
}

function setWithExpiry(unit: 'ex' | 'px', command: string) {
  return (call: CommandCall): Reply | Promise<Reply> => {
    const at = expiryTime(call, unit, keyOf(call, 2), command);
    if (typeof at !== 'number') return at;
    return afterWrite(call.server.keyspace.set(keyOf(call), stringValue(keyOf(call, 3), at)), OK);
  };
}

function getset(call: CommandCall): Reply | Promise<Reply> {
  const change = call.server.keyspace.change();
  const previous = change.get(keyOf(call));
  if (previous !== undefined && !isString(previous)) return WRONGTYPE;
  change.set(keyOf(call), stringValue(keyOf(call, 2), null));
  return afterWrite(change.commit(), previous === undefined ? NIL : bulk(previous.value));
}

function getdel(call: CommandCall): Reply | Promise<Reply> {
  const change = call.server.keyspace.change();
  const previous = change.get(keyOf(call));
  if (previous === undefined) return NIL;
  if (!isString(previous)) return WRONGTYPE;
  change.delete(keyOf(call));
  return afterWrite(change.commit(), bulk(previous.value));
}

function getex(call: CommandCall): Reply | Promise<Reply> {
  const options = parseExpiryOptions(call.args, 2, false);
  if ('type' in options) return options;
  const change = call.server.keyspace.change();
  const key = keyOf(call);
  const stored = change.get(key);
  if (stored === undefined) return NIL;
  if (!isString(stored)) return WRONGTYPE;
  const reply = bulk(stored.value);
  if (options.expiry !== null) {
    const at = expiryTime(call, options.expiry.unit, options.expiry.text, 'getex');
    if (typeof at !== 'number') return at;
    const absolute = options.expiry.unit === 'exat' || options.expiry.unit === 'pxat';
    if (absolute && at <= call.server.now()) change.delete(key);
    else change.set(key, { ...stored, expireAt: at });
  } else if (options.persist && stored.expireAt !== null) {
    change.set(key, { ...stored, expireAt: null });
  } else {
    return reply;
  }
  return afterWrite(change.commit(), reply);
}

function mget(call: CommandCall): Reply {
  const keyspace = call.server.keyspace;
  const items: Reply[] = [];
  for (let i = 1; i < call.args.length; i++) {
    const stored = keyspace.get(call.args[i] as Buffer);
    items.push(stored !== undefined && isString(stored) ? bulk(stored.value) : NIL);
  }
  return { type: 'array', items };
}

function msetGeneric(command: 'mset' | 'msetnx') {
  return (call: CommandCall): Reply | Promise<Reply> => {
    const { args } = call;
    if (args.length % 2 === 0) return error(`ERR wrong number of arguments for '${command}' command`);
    const change = call.server.keyspace.change();
    if (command === 'msetnx') {
      for (let i = 1; i < args.length; i += 2) if (change.get(args[i] as Buffer) !== undefined) return ZERO;
    }
    for (let i = 1; i < args.length; i += 2) change.set(args[i] as Buffer, stringValue(args[i + 1] as Buffer, null));
    return afterWrite(change.commit(), command === 'mset' ? OK : ONE);
  };
}

const OVERFLOW = error('ERR increment or decrement would overflow');

function incrementBy(call: CommandCall, delta: bigint): Reply | Promise<Reply> {
  const change = call.server.keyspace.change();
  const key = keyOf(call);
  const stored = change.get(key);
  if (stored !== undefined && !isString(stored)) return WRONGTYPE;
  let value = 0n;
  if (stored !== undefined) {
    const parsed = parseInteger(stored.value);
    if (parsed === null) return NOT_INTEGER;
    value = parsed;
  }
  if ((delta < 0n && value < 0n && delta < INT64_MIN - value) || (delta > 0n && value > 0n && delta > INT64_MAX - value)) return OVERFLOW;
  const next = value + delta;
  change.set(key, stringValue(Buffer.from(next.toString(), 'latin1'), stored?.expireAt ?? null));
  return afterWrite(change.commit(), integer(next));
}

function incrby(call: CommandCall): Reply | Promise<Reply> {
  const delta = parseInteger(keyOf(call, 2));
  return delta === null ? NOT_INTEGER : incrementBy(call, delta);
}

function decrby(call: CommandCall): Reply | Promise<Reply> {
  const delta = parseInteger(keyOf(call, 2));
  if (delta === null) return NOT_INTEGER;
  if (delta === INT64_MIN) return error('ERR decrement would overflow');
  return incrementBy(call, -delta);
}

function incrbyfloat(call: CommandCall): Reply | Promise<Reply> {
  const change = call.server.keyspace.change();
  const key = keyOf(call);
  const stored = change.get(key);
  if (stored !== undefined && !isString(stored)) return WRONGTYPE;
  const current = stored === undefined ? parseExtended(Buffer.from('0')) : parseExtended(stored.value);
  const increment = parseExtended(keyOf(call, 2));
  if (current === null || increment === null) return NOT_FLOAT;
  const sum = addExtended(current, increment);
  if (sum === null || sum.kind === 'infinite') return error('ERR increment would produce NaN or Infinity');
  const text = formatExtended(sum);
  change.set(key, stringValue(Buffer.from(text, 'latin1'), stored?.expireAt ?? null));
  return afterWrite(change.commit(), bulk(text));
}

function append(call: CommandCall): Reply | Promise<Reply> {
  const change = call.server.keyspace.change();
  const key = keyOf(call);
  const tail = keyOf(call, 2);
  const stored = change.get(key);
  if (stored !== undefined && !isString(stored)) return WRONGTYPE;
  const length = (stored?.value.length ?? 0) + tail.length;
  if (stored !== undefined && length > VALUE_BYTES_MAX) return TOO_LONG;
  const value = stored === undefined ? tail : Buffer.concat([stored.value, tail]);
  change.set(key, stringValue(value, stored?.expireAt ?? null));
  return afterWrite(change.commit(), integer(length));
}

function strlen(call: CommandCall): Reply {
  const stored = call.server.keyspace.get(keyOf(call));
  if (stored === undefined) return ZERO;
  return isString(stored) ? integer(stored.value.length) : WRONGTYPE;
}

function getrange(call: CommandCall): Reply {
  let start = parseInteger(keyOf(call, 2));
  if (start === null) return NOT_INTEGER;
  let end = parseInteger(keyOf(call, 3));
  if (end === null) return NOT_INTEGER;
  const stored = call.server.keyspace.get(keyOf(call));
  if (stored === undefined) return EMPTY;
  if (!isString(stored)) return WRONGTYPE;
  const length = BigInt(stored.value.length);
  if (start < 0n && end < 0n && start > end) return EMPTY;
  if (start < 0n) start += length;
  if (end < 0n) end += length;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= length) end = length - 1n;
  if (start > end || length === 0n) return EMPTY;
  return bulk(stored.value.subarray(Number(start), Number(end) + 1));
}

function setrange(call: CommandCall): Reply | Promise<Reply> {
  const offset = parseInteger(keyOf(call, 2));
  if (offset === null) return NOT_INTEGER;
  if (offset < 0n) return error('ERR offset is out of range');
  const piece = keyOf(call, 3);
  const change = call.server.keyspace.change();
  const key = keyOf(call);
  const stored = change.get(key);
  if (stored !== undefined && !isString(stored)) return WRONGTYPE;
  const oldLength = stored?.value.length ?? 0;
  if (piece.length === 0) return integer(oldLength);
  if (offset + BigInt(piece.length) > BigInt(VALUE_BYTES_MAX)) return TOO_LONG;
  const at = Number(offset);
  const value = Buffer.alloc(Math.max(oldLength, at + piece.length));
  stored?.value.copy(value);
  value.set(piece, at);
  change.set(key, stringValue(value, stored?.expireAt ?? null));
  return afterWrite(change.commit(), integer(value.length));
}

function lcsCommand(call: CommandCall): Reply {
  const keyspace = call.server.keyspace;
  const a = keyspace.get(keyOf(call));
  const b = keyspace.get(keyOf(call, 2));
  if ((a !== undefined && !isString(a)) || (b !== undefined && !isString(b))) {
    return error('ERR The specified keys must contain string values');
  }
  let wantIndexes = false;
  let wantLength = false;
  let withMatchLength = false;
  let minMatchLength = 0n;
  const { args } = call;
  for (let i = 3; i < args.length; i++) {
    const option = word(args[i]);
    if (option === 'idx') wantIndexes = true;
    else if (option === 'len') wantLength = true;
    else if (option === 'withmatchlen') withMatchLength = true;
    else if (option === 'minmatchlen' && i + 1 < args.length) {
      const parsed = parseInteger(args[i + 1] as Buffer);
      if (parsed === null) return NOT_INTEGER;
      minMatchLength = parsed < 0n ? 0n : parsed;
      i++;
    } else {
      return SYNTAX_ERROR;
    }
  }
  if (wantIndexes && wantLength) return error('ERR If you want both the length and indexes, please just use IDX.');
  return lcs(a?.value ?? Buffer.alloc(0), b?.value ?? Buffer.alloc(0), { wantIndexes, wantLength, withMatchLength, minMatchLength });
}

const STRING = 'string';

export const stringCommands: CommandSpec[] = [
  keyed('get', 2, ['readonly', 'fast'], [1, 1, 1], STRING, 'Returns the string value of a key.', get),
  keyed('set', -3, ['write', 'denyoom'], [1, 1, 1], STRING, 'Sets the string value of a key, with optional expiry and conditions.', set),
  keyed('setnx', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], STRING, 'Sets the string value of a key only when the key is absent.', setnx),
  keyed(
    'setex',
    4,
    ['write', 'denyoom'],
    [1, 1, 1],
    STRING,
    'Sets the string value and a time to live in seconds.',
    setWithExpiry('ex', 'setex'),
  ),
  keyed(
    'psetex',
    4,
    ['write', 'denyoom'],
    [1, 1, 1],
    STRING,
    'Sets the string value and a time to live in milliseconds.',
    setWithExpiry('px', 'psetex'),
  ),
  keyed(
    'getset',
    3,
    ['write', 'denyoom', 'fast'],
    [1, 1, 1],
    STRING,
    'Sets the string value of a key and returns the previous one.',
    getset,
  ),
  keyed('getdel', 2, ['write', 'fast'], [1, 1, 1], STRING, 'Returns the string value of a key and deletes the key.', getdel),
  keyed('getex', -2, ['write', 'fast'], [1, 1, 1], STRING, 'Returns the string value of a key and changes its expiry.', getex),
  keyed('mget', -2, ['readonly', 'fast'], [1, -1, 1], STRING, 'Returns the string values of several keys.', mget),
  keyed('mset', -3, ['write', 'denyoom'], [1, -1, 2], STRING, 'Sets several keys to string values at once.', msetGeneric('mset')),
  keyed(
    'msetnx',
    -3,
    ['write', 'denyoom'],
    [1, -1, 2],
    STRING,
    'Sets several keys at once only when none of them exists.',
    msetGeneric('msetnx'),
  ),
  keyed('incr', 2, ['write', 'denyoom', 'fast'], [1, 1, 1], STRING, 'Adds one to the integer value of a key.', (call) =>
    incrementBy(call, 1n),
  ),
  keyed('decr', 2, ['write', 'denyoom', 'fast'], [1, 1, 1], STRING, 'Subtracts one from the integer value of a key.', (call) =>
    incrementBy(call, -1n),
  ),
  keyed('incrby', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], STRING, 'Adds a number to the integer value of a key.', incrby),
  keyed('decrby', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], STRING, 'Subtracts a number from the integer value of a key.', decrby),
  keyed(
    'incrbyfloat',
    3,
    ['write', 'denyoom', 'fast'],
    [1, 1, 1],
    STRING,
    'Adds a floating-point number to the value of a key.',
    incrbyfloat,
  ),
  keyed('append', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], STRING, 'Appends a string to the value of a key.', append),
  keyed('strlen', 2, ['readonly', 'fast'], [1, 1, 1], STRING, 'Returns the length of the string value of a key.', strlen),
  keyed('getrange', 4, ['readonly'], [1, 1, 1], STRING, 'Returns a substring of the string value of a key.', getrange),
  keyed('setrange', 4, ['write', 'denyoom'], [1, 1, 1], STRING, 'Overwrites part of the string value of a key from an offset.', setrange),
  keyed('lcs', -3, ['readonly'], [1, 2, 1], STRING, 'Finds the longest common subsequence of two string values.', lcsCommand),
];
