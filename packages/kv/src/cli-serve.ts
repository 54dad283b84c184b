// `dbos-kv serve`: runs the Redis-protocol server until SIGINT or SIGTERM (or SHUTDOWN), then
// closes it gracefully and exits 0. Settings come from a redis.conf-style file (--config), then
// the flags, which win.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { importRdbIntoStore } from './server/rdb/import.js';
import { type ServerOptions, startServer } from './server/index.js';
import { STORE_SUBDIR } from './server/server.js';
import { type ServerSettings, parseConfigFile } from './server/config.js';

export const SERVE_USAGE = `usage: dbos-kv serve [--port 6379] [--bind 127.0.0.1] [--dir ./dbos-data] [--config file]
                     [--requirepass password] [--appendfsync always|everysec|no] [--protected-mode yes|no]
                     [--import dump.rdb]`;

/** The output side of the CLI (see cli.ts). */
export interface ServeIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** A serve flag the CLI refuses (exit 2). */
export class ServeUsageError extends Error {}

const DEFAULT_DIR = './dbos-data';

/** The server options of `argv` (the words after `serve`). */
export function serveOptions(argv: string[]): ServerOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        bind: { type: 'string' },
        dir: { type: 'string' },
        config: { type: 'string' },
        requirepass: { type: 'string' },
        appendfsync: { type: 'string' },
        'protected-mode': { type: 'string' },
      },
    }));
  } catch (error) {
    throw new ServeUsageError((error as Error).message);
  }
  let settings: Partial<ServerSettings> = {};
  if (typeof values.config === 'string') {
    let text: string;
    try {
      text = fs.readFileSync(values.config, 'utf8');
    } catch (error) {
      throw new ServeUsageError(`cannot read --config ${values.config}: ${(error as Error).message}`);
    }
    try {
      settings = parseConfigFile(text);
    } catch (error) {
      throw new ServeUsageError(`${values.config}: ${(error as Error).message}`);
    }
  }
  // The flags are parsed as config lines too, so a flag and a file line accept the same values.
  const lines: string[] = [];
  for (const name of ['port', 'bind', 'dir', 'requirepass', 'appendfsync', 'protected-mode'] as const) {
    const value = values[name];
    if (typeof value === 'string') lines.push(`${name} "${value}"`);
  }
  try {
    settings = { ...settings, ...parseConfigFile(lines.join('\n')) };
  } catch (error) {
    throw new ServeUsageError(`--${(error as Error).message.replace(/^line \d+: /, '')}`);
  }
  const options: ServerOptions = { dir: settings.dir ?? DEFAULT_DIR };
  if (settings.port !== undefined) options.port = settings.port;
  if (settings.bind !== undefined) options.bind = settings.bind;
  if (settings.protectedMode !== undefined) options.protectedMode = settings.protectedMode;
  if (settings.requirepass !== undefined) options.requirepass = settings.requirepass;
  if (settings.appendfsync !== undefined) options.appendfsync = settings.appendfsync;
  if (settings.timeoutSeconds !== undefined) options.timeout = settings.timeoutSeconds;
  if (settings.maxclients !== undefined) options.maxclients = settings.maxclients;
  if (settings.protoMaxBulkLen !== undefined) options.protoMaxBulkLen = settings.protoMaxBulkLen;
  if (settings.clientOutputBufferLimit !== undefined) options.clientOutputBufferLimit = settings.clientOutputBufferLimit;
  return options;
}

/**
 * `--import <file>` / `--import=<file>` taken out of `argv`: the RDB file to load before serving
 * (a step of its own, not a server setting: it is no config-file line).
 */
export function takeImportFlag(argv: string[]): { importFile: string | null; rest: string[] } {
  const rest: string[] = [];
  let importFile: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === '--import' || word.startsWith('--import=')) {
      const value = word === '--import' ? argv[++i] : word.slice('--import='.length);
      if (value === undefined || value === '') throw new ServeUsageError("option '--import <file>' argument missing");
      if (importFile !== null) throw new ServeUsageError('--import is given twice');
      importFile = value;
    } else {
      rest.push(word);
    }
  }
  return { importFile, rest };
}

/** Runs the server until a signal or SHUTDOWN closes it; resolves to the exit code. */
export async function serve(argv: string[], io: ServeIo): Promise<number> {
  const { importFile, rest } = takeImportFlag(argv);
  const options = serveOptions(rest);
  if (importFile !== null) {
    // Loaded before the server listens, as Redis loads dump.rdb before it accepts clients.
    const imported = await importRdbIntoStore(path.join(options.dir, STORE_SUBDIR), importFile);
    io.out(`dbos-kv: imported ${imported.loaded} keys from ${importFile} (${imported.expired} already expired, skipped)\n`);
  }
  const server = await startServer(options);
  const stop = (): void => {
    void server.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  io.out(`dbos-kv: serving on ${server.bind}:${server.port}, dir ${server.dir} (${server.mechanism})\n`);
  try {
    await server.closed;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  io.out('dbos-kv: closed\n');
  return 0;
}
