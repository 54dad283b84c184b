// The server commands: COMMAND, INFO, CONFIG, DEBUG, FUNCTION and SHUTDOWN.
import os from 'node:os';
import type { CommandCall, CommandSpec } from '../command.js';
import { ConfigUnknownError, ConfigValueError } from '../config.js';
import { NO_REPLY, type ServerContext, emptyStats, serverOf } from '../context.js';
import { OK, type Reply, array, bulk, error, integer, simple } from '../reply.js';
import { REDIS_VERSION } from './connection.js';
import { SYNTAX_ERROR, keyless } from './data-args.js';

const text = (buffer: Buffer | undefined): string => (buffer ? buffer.toString('utf8') : '');
const lower = (buffer: Buffer | undefined): string => text(buffer).toLowerCase();

/** Redis's ACL categories where they do not follow from the flags and group (container commands, admin reads). */
const CATEGORY_EXCEPTIONS: Readonly<Record<string, readonly string[]>> = {
  keys: ['@keyspace', '@read', '@slow', '@dangerous'],
  dbsize: ['@keyspace', '@read', '@fast'],
  flushdb: ['@keyspace', '@write', '@slow', '@dangerous'],
  flushall: ['@keyspace', '@write', '@slow', '@dangerous'],
  client: ['@slow'],
  command: ['@connection', '@slow'],
  info: ['@slow', '@dangerous'],
  config: ['@slow'],
  function: ['@slow'],
  lastsave: ['@admin', '@fast', '@dangerous'],
};

/** The ACL categories Redis names that a group maps to ("server" has none of its own). */
const GROUP_CATEGORIES: Readonly<Record<string, string>> = {
  string: '@string',
  generic: '@keyspace',
  keyspace: '@keyspace',
  connection: '@connection',
  scripting: '@scripting',
};

/** COMMAND's ACL categories of a command, derived from its flags and group. */
function categories(spec: CommandSpec): readonly string[] {
  const exception = CATEGORY_EXCEPTIONS[spec.name];
  if (exception) return exception;
  const out: string[] = [];
  if (spec.flags.includes('write')) out.push('@write');
  if (spec.flags.includes('readonly')) out.push('@read');
  const group = GROUP_CATEGORIES[spec.group];
  if (group) out.push(group);
  if (spec.flags.includes('admin')) out.push('@admin', '@dangerous');
  out.push(spec.flags.includes('fast') ? '@fast' : '@slow');
  return out;
}

function statusSet(words: readonly string[]): Reply {
  return { type: 'set', items: words.map((word) => simple(word)) };
}

function map(entries: [string, Reply][]): Reply {
  return { type: 'map', entries: entries.map(([key, value]) => [bulk(key), value] as const) };
}

function keySpecs(spec: CommandSpec): Reply {
  if (spec.firstKey === 0) return array([]);
  const last = spec.lastKey < 0 ? spec.lastKey : spec.lastKey - spec.firstKey;
  return array([
    map([
      ['flags', statusSet(spec.flags.includes('write') ? ['RW', 'UPDATE'] : ['RO', 'ACCESS'])],
      [
        'begin_search',
        map([
          ['type', bulk('index')],
          ['spec', map([['index', integer(spec.firstKey)]])],
        ]),
      ],
      [
        'find_keys',
        map([
          ['type', bulk('range')],
          [
            'spec',
            map([
              ['lastkey', integer(last)],
              ['keystep', integer(spec.step)],
              ['limit', integer(0)],
            ]),
          ],
        ]),
      ],
    ]),
  ]);
}

/** One command's COMMAND INFO entry, in Redis 7's ten-field shape. */
function commandInfo(spec: CommandSpec): Reply {
  return array([
    bulk(spec.name),
    integer(spec.arity),
    statusSet(spec.flags),
    integer(spec.firstKey),
    integer(spec.lastKey),
    integer(spec.step),
    statusSet(categories(spec)),
    array([]),
    keySpecs(spec),
    array((spec.subcommands ?? []).map(commandInfo)),
  ]);
}

function commandDocs(spec: CommandSpec): Reply {
  const entries: [string, Reply][] = [
    ['summary', bulk(spec.summary)],
    ['group', bulk(spec.group)],
  ];
  if (spec.subcommands) entries.push(['subcommands', map(spec.subcommands.map((sub) => [sub.name, commandDocs(sub)]))]);
  return map(entries);
}

/** A command or `container|sub` by its name. */
function findCommand(server: ServerContext, name: string): CommandSpec | undefined {
  const [container, sub] = name.toLowerCase().split('|', 2) as [string, string | undefined];
  const spec = server.commands.get(container);
  if (sub === undefined) return spec;
  return spec?.subcommands?.find((candidate) => candidate.name === `${container}|${sub}`);
}

const commandSubcommands: CommandSpec[] = [
  keyless('command|count', 2, ['loading', 'stale'], 'server', 'Get total number of Redis commands', (call) =>
    integer(serverOf(call).commands.all.length),
  ),
  keyless(
    'command|info',
    -2,
    ['loading', 'stale'],
    'server',
    'Get array of specific Redis command details, or all when no argument is given',
    (call) => {
      const server = serverOf(call);
      const names = call.args.slice(2);
      if (names.length === 0) return array(server.commands.all.map(commandInfo));
      return array(
        names.map((name) => {
          const spec = findCommand(server, text(name));
          return spec ? commandInfo(spec) : { type: 'array', items: null };
        }),
      );
    },
  ),
  keyless('command|docs', -2, ['loading', 'stale'], 'server', 'Get array of specific Redis command documentation', (call) => {
    const server = serverOf(call);
    const names = call.args.slice(2);
    const specs = names.length === 0 ? server.commands.all : names.flatMap((name) => findCommand(server, text(name)) ?? []);
    return map(specs.map((spec) => [spec.name, commandDocs(spec)]));
  }),
  keyless('command|list', -2, ['loading', 'stale'], 'server', 'Get an array of Redis command names', (call) => {
    const { args } = call;
    let keep = (_spec: CommandSpec): boolean => true;
    if (args.length > 2) {
      if (args.length !== 5 || lower(args[2]) !== 'filterby') return SYNTAX_ERROR;
      const [kind, value] = [lower(args[3]), text(args[4])];
      if (kind === 'module') keep = () => false;
      else if (kind === 'aclcat') keep = (spec) => categories(spec).includes(`@${value.toLowerCase()}`);
      else if (kind === 'pattern') keep = (spec) => globLike(value.toLowerCase(), spec.name);
      else return SYNTAX_ERROR;
    }
    return array(
      serverOf(call)
        .commands.all.filter(keep)
        .map((spec) => bulk(spec.name)),
    );
  }),
  keyless('command|getkeys', -4, ['loading', 'stale'], 'server', 'Extract keys given a full Redis command', (call) => {
    const words = call.args.slice(2);
    const spec = serverOf(call).commands.get(lower(words[0]));
    if (!spec) return error('ERR Invalid command specified');
    if ((spec.arity > 0 && words.length !== spec.arity) || words.length < -spec.arity) {
      return error('ERR Invalid number of arguments specified for command');
    }
    if (spec.firstKey === 0) return error('ERR The command has no key arguments');
    const last = spec.lastKey < 0 ? words.length + spec.lastKey : spec.lastKey;
    const keys: Reply[] = [];
    for (let i = spec.firstKey; i <= last && i < words.length; i += spec.step) keys.push(bulk(words[i] as Buffer));
    return array(keys);
  }),
];

function globLike(pattern: string, name: string): boolean {
  const expression = pattern
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${expression}$`).test(name);
}

/** The sections INFO knows, in its order; "default", "all" and "everything" select them all. */
const SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'keyspace'] as const;
type Section = (typeof SECTIONS)[number];

function sectionFields(server: ServerContext, section: Section): [string, string | number][] {
  const { settings } = server.config;
  switch (section) {
    case 'server': {
      const uptimeSeconds = Math.floor((Date.now() - server.startedAtMs) / 1000);
      return [
        ['redis_version', REDIS_VERSION],
        ['redis_mode', 'standalone'],
        ['dbos_kv_mechanism', server.mechanism],
        ['os', `${os.type()} ${os.release()} ${os.arch()}`],
        ['arch_bits', 64],
        ['process_id', process.pid],
        ['tcp_port', settings.port],
        ['server_time_usec', server.now() * 1000],
        ['uptime_in_seconds', uptimeSeconds],
        ['uptime_in_days', Math.floor(uptimeSeconds / 86400)],
        ['executable', process.argv[1] ?? ''],
      ];
    }
    case 'clients': {
      let connected = 0;
      for (const _ of server.clients()) connected++;
      return [
        ['connected_clients', connected],
        ['maxclients', settings.maxclients],
        ['blocked_clients', 0],
      ];
    }
    case 'memory': {
      const usage = process.memoryUsage();
      return [
        ['used_memory', usage.heapUsed + usage.external],
        ['used_memory_rss', usage.rss],
        ['total_system_memory', os.totalmem()],
        ['maxmemory', 0],
        ['maxmemory_policy', 'noeviction'],
      ];
    }
    case 'persistence':
      return [
        ['loading', 0],
        ['async_loading', 0],
        ...server.persistenceInfo(),
        ['aof_enabled', 0],
        ['dbos_appendfsync', settings.appendfsync],
      ];
    case 'stats': {
      const { stats } = server;
      return [
        ['total_connections_received', stats.connectionsReceived],
        ['total_commands_processed', stats.commandsProcessed],
        ['total_net_input_bytes', stats.inputBytes],
        ['total_net_output_bytes', stats.outputBytes],
        ['rejected_connections', stats.rejectedConnections],
        ['total_error_replies', stats.errorReplies],
      ];
    }
    case 'replication':
      return [
        ['role', 'master'],
        ['connected_slaves', 0],
      ];
    case 'cpu': {
      const usage = process.cpuUsage();
      return [
        ['used_cpu_sys', (usage.system / 1e6).toFixed(6)],
        ['used_cpu_user', (usage.user / 1e6).toFixed(6)],
      ];
    }
    case 'keyspace': {
      const keys = server.keyspace.size();
      // Redis lists only databases that hold keys.
      return keys > 0 ? [['db0', `keys=${keys},expires=${server.keyspace.expiringCount()},avg_ttl=0`]] : [];
    }
  }
}

function info(call: CommandCall): Reply {
  const server = serverOf(call);
  const asked = call.args.slice(1).map((word) => lower(word));
  const everything = asked.length === 0 || asked.some((name) => name === 'default' || name === 'all' || name === 'everything');
  const chosen = SECTIONS.filter((section) => everything || asked.includes(section));
  const blocks = chosen.map((section) => {
    const title = `# ${section === 'cpu' ? 'CPU' : `${section[0]?.toUpperCase()}${section.slice(1)}`}`;
    const lines = sectionFields(server, section).map(([name, value]) => `${name}:${value}`);
    return [title, ...lines].join('\r\n');
  });
  const body = blocks.length > 0 ? `${blocks.join('\r\n\r\n')}\r\n` : '';
  return { type: 'verbatim', value: body };
}

const configSubcommands: CommandSpec[] = [
  keyless('config|get', -3, ['admin', 'noscript', 'loading', 'stale'], 'server', 'Get the values of configuration parameters', (call) => {
    const pairs = serverOf(call).config.get(call.args.slice(2).map((word) => text(word)));
    return map(pairs.map(([name, value]) => [name, bulk(value)]));
  }),
  keyless(
    'config|set',
    -4,
    ['admin', 'noscript', 'loading', 'stale'],
    'server',
    'Set configuration parameters to the given values',
    (call) => {
      const words = call.args.slice(2).map((word) => text(word));
      if (words.length % 2 !== 0) return error("ERR wrong number of arguments for 'config|set' command");
      const pairs: [string, string][] = [];
      for (let i = 0; i < words.length; i += 2) pairs.push([words[i] as string, words[i + 1] as string]);
      try {
        serverOf(call).config.set(pairs);
      } catch (failure) {
        if (failure instanceof ConfigValueError || failure instanceof ConfigUnknownError) return error(`ERR ${failure.message}`);
        throw failure;
      }
      return OK;
    },
  ),
  keyless('config|resetstat', 2, ['admin', 'noscript', 'loading', 'stale'], 'server', 'Reset the stats returned by INFO', (call) => {
    Object.assign(serverOf(call).stats, emptyStats());
    return OK;
  }),
];

const functionSubcommands: CommandSpec[] = [
  keyless('function|flush', -2, ['write', 'noscript'], 'scripting', 'Deleting all functions', (call) => {
    const mode = call.args[2];
    if (call.args.length > 3 || (mode && lower(mode) !== 'sync' && lower(mode) !== 'async')) {
      return error('ERR FUNCTION FLUSH only supports SYNC|ASYNC option');
    }
    // This server has no functions: there is nothing to delete.
    return OK;
  }),
  keyless('function|list', -2, ['noscript'], 'scripting', 'List information about all the functions', () => array([])),
];

function debug(call: CommandCall): Reply | Promise<Reply> {
  const sub = lower(call.args[1]);
  if (sub === 'sleep' && call.args.length === 3) {
    const seconds = Number(text(call.args[2]));
    if (!Number.isFinite(seconds)) return error('ERR value is not a valid float');
    // Unlike Redis, which blocks every client, only this client's reply waits.
    if (seconds <= 0) return OK;
    return new Promise((resolve) => setTimeout(() => resolve(OK), seconds * 1000));
  }
  return error(`ERR Unknown subcommand or wrong number of arguments for '${text(call.args[1])}'. Try DEBUG HELP.`);
}

function shutdown(call: CommandCall): Reply {
  let abort = false;
  let save = false;
  for (const word of call.args.slice(1)) {
    const option = lower(word);
    if (option === 'abort') abort = true;
    else if (option === 'save') save = true;
    else if (option !== 'nosave' && option !== 'save' && option !== 'now' && option !== 'force') return SYNTAX_ERROR;
  }
  if (abort) return error('ERR No shutdown in progress.');
  // The store is durable by itself; SAVE also writes dump.rdb, as Redis does, before closing.
  if (!serverOf(call).shutdown(save)) return error('ERR Errors trying to SHUTDOWN. Check logs.');
  return NO_REPLY;
}

export const serverCommands: readonly CommandSpec[] = [
  keyless(
    'command',
    -1,
    ['loading', 'stale'],
    'server',
    'Get array of Redis command details',
    (call) => (call.args.length === 1 ? array(serverOf(call).commands.all.map(commandInfo)) : error('ERR unknown subcommand')),
    commandSubcommands,
  ),
  keyless('info', -1, ['loading', 'stale'], 'server', 'Get information and statistics about the server', info),
  keyless(
    'config',
    -2,
    [],
    'server',
    'A container for server configuration commands',
    () => error('ERR unknown subcommand'),
    configSubcommands,
  ),
  keyless('debug', -2, ['admin', 'noscript', 'loading', 'stale'], 'server', 'A container for debugging commands', debug),
  keyless('function', -2, [], 'scripting', 'A container for function commands', () => error('ERR unknown subcommand'), functionSubcommands),
  keyless(
    'shutdown',
    -1,
    ['admin', 'noscript', 'loading', 'stale', 'no_multi', 'allow_busy'],
    'server',
    'Synchronously save the dataset to disk and then shut down the server',
    shutdown,
  ),
];
