// The command table (every commands/*.ts array, by lower-case name) and dispatch: lookup, arity,
// authentication and subcommands, with Redis 7.0's error replies, before a command runs.
import type { CommandCall, CommandSpec } from '../command.js';
import type { CommandTable } from '../context.js';
import { bytesError, error, quotedBytes as quoted, type Reply } from '../reply.js';
import { connectionCommands } from './connection.js';
import { keyCommands } from './keys.js';
import { persistenceCommands } from './persistence.js';
import { serverCommands } from './server.js';
import { stringCommands } from './strings.js';

/** Every command this server has, in the order COMMAND lists them. */
export function commandTable(): CommandTable {
  const all = [...stringCommands, ...keyCommands, ...connectionCommands, ...serverCommands, ...persistenceCommands];
  const byName = new Map<string, CommandSpec>();
  for (const spec of all) {
    if (byName.has(spec.name)) throw new Error(`two commands are named '${spec.name}'`);
    byName.set(spec.name, spec);
  }
  return { get: (name) => byName.get(name), all };
}

/** Redis quotes at most this many bytes of an unknown command's name and arguments. */
const QUOTE_BYTES = 128;

const ascii = (text: string) => Buffer.from(text, 'latin1');

function unknownCommand(args: readonly Buffer[]): Reply {
  const quotedArgs: Buffer[] = [];
  let length = 0;
  for (let i = 1; i < args.length && length < QUOTE_BYTES; i++) {
    const word = quoted(args[i] as Buffer, QUOTE_BYTES - length);
    quotedArgs.push(ascii("'"), word, ascii("' "));
    length += word.length + 3;
  }
  return bytesError(
    Buffer.concat([
      ascii("ERR unknown command '"),
      quoted(args[0] as Buffer, QUOTE_BYTES),
      ascii("', with args beginning with: "),
      ...quotedArgs,
    ]),
  );
}

function arityFits(spec: CommandSpec, count: number): boolean {
  return spec.arity > 0 ? count === spec.arity : count >= -spec.arity;
}

/** The command a request names (a subcommand for a container), or the error reply that refuses it. */
export function resolve(table: CommandTable, args: readonly Buffer[]): CommandSpec | Reply {
  const name = (args[0] as Buffer).toString('latin1').toLowerCase();
  const spec = table.get(name);
  if (!spec) return unknownCommand(args);
  if (!arityFits(spec, args.length)) return error(`ERR wrong number of arguments for '${spec.name}' command`);
  if (!spec.subcommands || args.length === 1) return spec;
  const subName = `${name}|${(args[1] as Buffer).toString('latin1').toLowerCase()}`;
  const sub = spec.subcommands.find((candidate) => candidate.name === subName);
  if (!sub) {
    return bytesError(
      Buffer.concat([
        ascii("ERR unknown subcommand '"),
        quoted(args[1] as Buffer, QUOTE_BYTES),
        ascii(`'. Try ${name.toUpperCase()} HELP.`),
      ]),
    );
  }
  if (!arityFits(sub, args.length)) return error(`ERR wrong number of arguments for '${sub.name}' command`);
  return sub;
}

const NOAUTH = error('NOAUTH Authentication required.');

/**
 * Runs one request: its reply, or a Promise of it when the reply waits for durability. A command
 * that throws gets an ERR reply with the error's message: a bug in one command never closes the
 * server. `requirePassword`: the server has a requirepass and the client must authenticate first.
 */
export function dispatch(
  table: CommandTable,
  call: CommandCall,
  requirePassword: boolean,
  onResolved?: (spec: CommandSpec) => void,
): { spec: CommandSpec | null; reply: Reply | Promise<Reply> } {
  const resolved = resolve(table, call.args);
  if (!('run' in resolved)) return { spec: null, reply: resolved };
  onResolved?.(resolved);
  if (requirePassword && !call.client.authenticated && !resolved.flags.includes('no_auth')) return { spec: resolved, reply: NOAUTH };
  try {
    const reply = resolved.run(call);
    return { spec: resolved, reply: reply instanceof Promise ? reply.catch(errorReply) : reply };
  } catch (failure) {
    return { spec: resolved, reply: errorReply(failure) };
  }
}

/** The reply for a command that failed unexpectedly: ERR, the message and the stable code. */
export function errorReply(failure: unknown): Reply {
  const message = failure instanceof Error ? failure.message : String(failure);
  const code = (failure as { code?: unknown } | null)?.code;
  return error(`ERR ${message}${typeof code === 'string' ? ` (${code})` : ''}`);
}
