// What the data commands (strings.ts, keys.ts) share: Redis's argument parsing rules, the error
// replies they send, and a table-entry builder for commands that take keys.
import type { CommandCall, CommandSpec } from '../command.js';
import type { StoredValue } from '../keyspace.js';
import { error, type Reply } from '../reply.js';

export const SYNTAX_ERROR = error('ERR syntax error');
export const NOT_INTEGER = error('ERR value is not an integer or out of range');
export const WRONGTYPE = error('WRONGTYPE Operation against a key holding the wrong kind of value');
export const TOO_LONG = error('ERR string exceeds maximum allowed size (proto-max-bulk-len)');

export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);
/** Redis refuses integers of this many characters or more before looking at them. */
const INTEGER_CHARS_LIMIT = 21;

/**
 * A signed 64-bit integer in Redis's strict form (string2ll): optional '-', no '+', no spaces, no
 * leading zeros, nothing after the digits. Null when `text` is not one or is out of range.
 */
export function parseInteger(text: Uint8Array): bigint | null {
  const length = text.length;
  if (length === 0 || length >= INTEGER_CHARS_LIMIT) return null;
  if (length === 1 && text[0] === 0x30) return 0n;
  let at = 0;
  const negative = text[0] === 0x2d;
  if (negative) at++;
  if (at === length) return null;
  const first = text[at] as number;
  if (first < 0x31 || first > 0x39) return null;
  for (let i = at + 1; i < length; i++) {
    const digit = text[i] as number;
    if (digit < 0x30 || digit > 0x39) return null;
  }
  const value = BigInt(Buffer.from(text.buffer, text.byteOffset, length).toString('latin1'));
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

/** `parseInteger` as a JavaScript number where the range allows it (counts, offsets). */
export function parseSmallInteger(text: Uint8Array): number | null {
  const value = parseInteger(text);
  return value === null ? null : Number(value);
}

/** The option word of an argument, lower-cased (options are ASCII; other bytes never match). */
export function word(argument: Uint8Array | undefined): string {
  return argument === undefined ? '' : Buffer.from(argument.buffer, argument.byteOffset, argument.length).toString('latin1').toLowerCase();
}

/** Redis's reply to an expiry time it cannot take, naming the command as COMMAND lists it. */
export function invalidExpireTime(command: string): Reply {
  return error(`ERR invalid expire time in '${command}' command`);
}

/** The reply once a write is durable (or at once, when nothing was written). */
export function afterWrite(done: Promise<void> | null, reply: Reply): Reply | Promise<Reply> {
  return done === null ? reply : done.then(() => reply);
}

/** True when a stored value is a string (every value is today; other types are checked for as they come). */
export function isString(stored: StoredValue): boolean {
  return stored.type === 'string';
}

/** A table entry for a command that takes keys. Flags and key positions are Redis 7.0's (COMMAND INFO). */
export function keyed(
  name: string,
  arity: number,
  flags: readonly string[],
  keys: readonly [first: number, last: number, step: number],
  group: string,
  summary: string,
  run: (call: CommandCall) => Reply | Promise<Reply>,
): CommandSpec {
  return { name, arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], group, summary, run };
}

/** A table entry for a command that takes no keys (a container command also has its subcommands). */
export function keyless(
  name: string,
  arity: number,
  flags: readonly string[],
  group: string,
  summary: string,
  run: (call: CommandCall) => Reply | Promise<Reply>,
  subcommands?: readonly CommandSpec[],
): CommandSpec {
  return { name, arity, flags, firstKey: 0, lastKey: 0, step: 0, group, summary, run, ...(subcommands ? { subcommands } : {}) };
}
