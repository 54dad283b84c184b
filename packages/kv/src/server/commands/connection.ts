// The connection commands: PING ECHO AUTH HELLO SELECT QUIT RESET and CLIENT, with Redis 7.0's
// replies and error wording.
import { timingSafeEqual } from 'node:crypto';
import type { CommandCall, CommandSpec } from '../command.js';
import { clientOf, serverOf } from '../context.js';
import { OK, type Reply, array, bulk, error, integer, simple } from '../reply.js';
import { NOT_INTEGER, SYNTAX_ERROR, keyless } from './data-args.js';

const text = (buffer: Buffer | undefined): string => (buffer ? buffer.toString('utf8') : '');
const lower = (buffer: Buffer | undefined): string => text(buffer).toLowerCase();

/** The password check of AUTH and HELLO AUTH; without requirepass the default user takes any password. */
function passwordMatches(call: CommandCall, user: string, password: Buffer): boolean {
  const required = serverOf(call).config.settings.requirepass;
  if (user !== 'default') return false;
  if (required === '') return true;
  const expected = Buffer.from(required, 'utf8');
  // Equal lengths first (timingSafeEqual needs them); the comparison itself takes constant time.
  return expected.length === password.length && timingSafeEqual(expected, password);
}

const WRONGPASS = error('WRONGPASS invalid username-password pair or user is disabled.');

function auth(call: CommandCall): Reply {
  const { args } = call;
  if (args.length > 3) return SYNTAX_ERROR;
  if (args.length === 2 && serverOf(call).config.settings.requirepass === '') {
    return error(
      'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    );
  }
  const user = args.length === 3 ? text(args[1]) : 'default';
  const password = args[args.length - 1] as Buffer;
  if (!passwordMatches(call, user, password)) return WRONGPASS;
  clientOf(call).authenticated = true;
  return OK;
}

/** Client names are printable ASCII without spaces, as CLIENT LIST can show them on one line. */
function nameError(name: Buffer): Reply | null {
  for (const byte of name)
    if (byte < 0x21 || byte > 0x7e) return error('ERR Client names cannot contain spaces, newlines or special characters.');
  return null;
}

function hello(call: CommandCall): Reply {
  const { args } = call;
  const client = clientOf(call);
  let protocol: 2 | 3 = client.protocol;
  let next = 1;
  if (args.length >= 2) {
    const given = text(args[1]);
    if (!/^-?\d+$/.test(given)) return error('ERR Protocol version is not an integer or out of range');
    const version = Number(given);
    if (version !== 2 && version !== 3) return error('NOPROTO unsupported protocol version');
    protocol = version;
    next = 2;
  }
  let credentials: [string, Buffer] | null = null;
  let name: Buffer | null = null;
  for (let i = next; i < args.length; i++) {
    const option = lower(args[i]);
    const more = args.length - 1 - i;
    if (option === 'auth' && more >= 2) {
      credentials = [text(args[i + 1]), args[i + 2] as Buffer];
      i += 2;
    } else if (option === 'setname' && more >= 1) {
      name = args[i + 1] as Buffer;
      i += 1;
    } else {
      return error(`ERR Syntax error in HELLO option '${text(args[i])}'`);
    }
  }
  if (credentials) {
    if (!passwordMatches(call, credentials[0], credentials[1])) return WRONGPASS;
    client.authenticated = true;
  }
  if (!client.authenticated) {
    return error(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  if (name) {
    const refused = nameError(name);
    if (refused) return refused;
    client.name = name.length === 0 ? null : name.toString('latin1');
  }
  client.protocol = protocol;
  return {
    type: 'map',
    entries: [
      [bulk('server'), bulk('redis')],
      [bulk('version'), bulk(REDIS_VERSION)],
      [bulk('proto'), integer(protocol)],
      [bulk('id'), integer(client.id)],
      [bulk('mode'), bulk('standalone')],
      [bulk('role'), bulk('master')],
      [bulk('modules'), array([])],
    ],
  };
}

/** The Redis version whose commands and replies this server follows (clients read it from HELLO and INFO). */
export const REDIS_VERSION = '7.0.15';

const clientSubcommands: CommandSpec[] = [
  keyless('client|id', 2, ['noscript', 'loading', 'stale'], 'connection', 'Returns the client ID for the current connection', (call) =>
    integer(call.client.id),
  ),
  keyless('client|getname', 2, ['noscript', 'loading', 'stale'], 'connection', 'Returns the name of the current connection', (call) =>
    bulk(call.client.name),
  ),
  keyless('client|setname', 3, ['noscript', 'loading', 'stale'], 'connection', 'Sets the current connection name', (call) => {
    const name = call.args[2] as Buffer;
    const refused = nameError(name);
    if (refused) return refused;
    call.client.name = name.length === 0 ? null : name.toString('latin1');
    return OK;
  }),
  keyless('client|list', -2, ['admin', 'noscript', 'loading', 'stale'], 'connection', 'Lists open connections', (call) => {
    const { args } = call;
    let ids: Set<number> | null = null;
    if (args.length > 2) {
      const option = lower(args[2]);
      if (option === 'type' && args.length === 4) {
        const kind = lower(args[3]);
        if (kind !== 'normal' && kind !== 'master' && kind !== 'replica' && kind !== 'slave' && kind !== 'pubsub') {
          return error(`ERR Unknown client type '${text(args[3])}'`);
        }
        if (kind !== 'normal') ids = new Set();
      } else if (option === 'id' && args.length >= 4) {
        ids = new Set();
        for (const word of args.slice(3)) {
          const id = text(word);
          if (!/^\d+$/.test(id) || Number(id) === 0) return error('ERR Invalid client ID');
          ids.add(Number(id));
        }
      } else return SYNTAX_ERROR;
    }
    const lines: string[] = [];
    for (const client of serverOf(call).clients()) if (ids === null || ids.has(client.id)) lines.push(`${client.describe()}\n`);
    return { type: 'verbatim', value: lines.join('') };
  }),
  keyless(
    'client|info',
    2,
    ['noscript', 'loading', 'stale'],
    'connection',
    'Returns information about the current client connection.',
    (call) => ({
      type: 'verbatim',
      value: `${clientOf(call).describe()}\n`,
    }),
  ),
];

export const connectionCommands: readonly CommandSpec[] = [
  keyless('ping', -1, ['fast'], 'connection', 'Ping the server', (call) => {
    const { args } = call;
    if (args.length > 2) return error("ERR wrong number of arguments for 'ping' command");
    return args.length === 2 ? bulk(args[1] as Buffer) : simple('PONG');
  }),
  keyless('echo', 2, ['fast', 'loading', 'stale'], 'connection', 'Echo the given string', (call) => bulk(call.args[1] as Buffer)),
  keyless('auth', -2, ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'], 'connection', 'Authenticate to the server', auth),
  keyless('hello', -1, ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'], 'connection', 'Handshake with Redis', hello),
  keyless('select', 2, ['loading', 'stale', 'fast'], 'connection', 'Change the selected database for the current connection', (call) => {
    const index = text(call.args[1]);
    if (!/^-?\d+$/.test(index) || !Number.isSafeInteger(Number(index))) return NOT_INTEGER;
    // One database: the store is one keyspace.
    return Number(index) === 0 ? OK : error('ERR DB index is out of range');
  }),
  keyless('quit', -1, ['allow_busy', 'noscript', 'loading', 'stale', 'fast', 'no_auth'], 'connection', 'Close the connection', (call) => {
    call.client.closeAfterReply();
    return OK;
  }),
  keyless('reset', 1, ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'], 'connection', 'Reset the connection', (call) => {
    clientOf(call).reset();
    return simple('RESET');
  }),
  keyless(
    'client',
    -2,
    [],
    'connection',
    'A container for client connection commands',
    () => error('ERR unknown subcommand'),
    clientSubcommands,
  ),
];
