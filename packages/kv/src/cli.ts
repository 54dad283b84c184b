#!/usr/bin/env node
// dbos-kv: the store from the command line. Keys and values are UTF-8 text.
// Exit codes: 0 ok, 1 not found (get), 2 usage error, 3 store error (message and code on stderr).
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { hasCode } from '@dbos/platform';
import { bench, load } from './cli-bulk.js';
import { SERVE_USAGE, ServeUsageError, serve } from './cli-serve.js';
import { type KvOptions, type KvStore, open } from './index.js';

export const EXIT_OK = 0;
export const EXIT_NOT_FOUND = 1;
export const EXIT_USAGE = 2;
export const EXIT_STORE = 3;

/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Progress lines go to `err` only when it is a terminal. */
  tty: boolean;
}

const USAGE = `usage: dbos-kv <command> <dir> [arguments] [--json]
  load <dir> <file.jsonl|file.csv>   load {"key","value"} lines or key,value rows (batches of 1000)
  get <dir> <key>                    print the value (exit 1 when absent)
  put <dir> <key> <value>            set a key
  del <dir> <key>                    remove a key
  scan <dir> [--gte k] [--lt k] [--limit n] [--reverse]
                                     print entries in key order, one per line (key TAB value)
  backup <dir> <dest>                write a consistent copy of the store into dest
  check <dir>                        verify every page and the tree
  info <dir>                         the store's counters and mechanism
  bench <dir> [--count n]            time n puts and n gets (default 10000)
  --json                             machine-readable output (one JSON value per line)
${SERVE_USAGE}
                                     run the Redis-protocol server (see README: Server)`;

class UsageError extends Error {}

const ARITY: Record<string, number> = { load: 2, get: 2, put: 3, del: 2, scan: 1, backup: 2, check: 1, info: 1, bench: 1 };

type Flags = { json: boolean; gte?: string; lt?: string; limit?: string; reverse: boolean; count?: string };

function parse(argv: string[]): { command: string; args: string[]; flags: Flags } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        gte: { type: 'string' },
        lt: { type: 'string' },
        limit: { type: 'string' },
        reverse: { type: 'boolean', default: false },
        count: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [command, ...args] = parsed.positionals;
  if (parsed.values.help) throw new UsageError('');
  if (command === undefined) throw new UsageError('no command');
  const arity = ARITY[command];
  if (arity === undefined) throw new UsageError(`unknown command '${command}'`);
  if (args.length !== arity) throw new UsageError(`${command} takes ${arity} argument${arity === 1 ? '' : 's'} (got ${args.length})`);
  return { command, args, flags: parsed.values as Flags };
}

/** A non-negative integer flag. */
export function countFlag(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) throw new UsageError(`--${name} must be a non-negative integer (got '${text}')`);
  return value;
}

function print(io: CliIo, flags: Flags, human: string, json: unknown): void {
  io.out(`${flags.json ? JSON.stringify(json) : human}\n`);
}

async function withStore<T>(dir: string, options: KvOptions<'utf8', 'utf8'>, body: (store: KvStore) => Promise<T>): Promise<T> {
  const store = open(dir, options);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** Stores that must exist already: a typo in <dir> is an error, not a new empty store. */
const EXISTING: KvOptions<'utf8', 'utf8'> = { create: false };

async function run(command: string, args: string[], flags: Flags, io: CliIo): Promise<number> {
  const dir = args[0] as string;
  // Flags are checked before the store is opened: a usage error never touches it.
  const limit = countFlag(flags.limit, 'limit', Number.POSITIVE_INFINITY);
  const count = countFlag(flags.count, 'count', 10_000);
  switch (command) {
    case 'get':
      return withStore(dir, EXISTING, async (store) => {
        const value = store.get(args[1] as string);
        if (value === undefined) {
          if (flags.json) print(io, flags, '', { key: args[1], found: false });
          else io.err(`dbos-kv: no key '${args[1]}'\n`);
          return EXIT_NOT_FOUND;
        }
        print(io, flags, value, { key: args[1], value });
        return EXIT_OK;
      });
    case 'put':
      return withStore(dir, {}, async (store) => {
        await store.put(args[1] as string, args[2] as string, { sync: true });
        if (flags.json) print(io, flags, '', { ok: true });
        return EXIT_OK;
      });
    case 'del':
      return withStore(dir, EXISTING, async (store) => {
        await store.del(args[1] as string, { sync: true });
        if (flags.json) print(io, flags, '', { ok: true });
        return EXIT_OK;
      });
    case 'scan':
      return withStore(dir, EXISTING, async (store) => {
        for (const { key, value } of store.range({ gte: flags.gte, lt: flags.lt, limit, reverse: flags.reverse })) {
          print(io, flags, `${key}\t${value}`, { key, value });
        }
        return EXIT_OK;
      });
    case 'backup':
      return withStore(dir, EXISTING, async (store) => {
        await store.backup(args[1] as string, { onProgress: progressLine(io, 'backup') });
        if (io.tty) io.err('\n');
        print(io, flags, `backed up to ${args[1]}`, { ok: true, dest: args[1] });
        return EXIT_OK;
      });
    case 'check':
      return withStore(dir, EXISTING, async (store) => {
        await store.check({ onProgress: progressLine(io, 'check') });
        if (io.tty) io.err('\n');
        const { entries, pages } = store.stats();
        print(io, flags, `ok: ${entries} entries in ${pages} pages`, { ok: true, entries, pages });
        return EXIT_OK;
      });
    case 'info':
      return withStore(dir, EXISTING, async (store) => {
        const stats = store.stats();
        const mechanism = store.mechanism;
        const width = Math.max(...Object.keys(stats).map((name) => name.length));
        const lines = Object.entries(stats).map(([name, value]) => `${name.padEnd(width)}  ${value}`);
        print(io, flags, [...lines, `${'mechanism'.padEnd(width)}  ${mechanism}`].join('\n'), { ...stats, mechanism });
        return EXIT_OK;
      });
    case 'load':
      return withStore(dir, {}, async (store) => {
        const loaded = await load(store, args[1] as string, progressLine(io, 'load'));
        if (io.tty) io.err('\n');
        print(io, flags, `loaded ${loaded} entries`, { loaded });
        return EXIT_OK;
      });
    case 'bench':
      return withStore(dir, {}, async (store) => {
        const result = await bench(store, count);
        print(
          io,
          flags,
          `put: ${result.count} keys in ${result.putMs.toFixed(1)} ms (${Math.round(result.putPerSecond)}/s); ` +
            `get: ${result.count} keys in ${result.getMs.toFixed(1)} ms (${Math.round(result.getPerSecond)}/s)`,
          result,
        );
        return EXIT_OK;
      });
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/** A progress reporter writing one updating line on a terminal, or nothing. */
function progressLine(io: CliIo, what: string): ((done: number, total: number) => undefined) | undefined {
  if (!io.tty) return undefined;
  return (done, total) => {
    io.err(`\r${what}: ${total > 0 ? Math.floor((100 * done) / total) : 0}% (${done} of ${total})`);
    return undefined;
  };
}

/** Run the CLI with `argv` (the arguments after the program name); resolves to the exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'serve') return runServe(argv.slice(1), io);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    const message = (error as Error).message;
    io.err(message ? `dbos-kv: ${message}\n${USAGE}\n` : `${USAGE}\n`);
    return message ? EXIT_USAGE : EXIT_OK;
  }
  try {
    return await run(parsed.command, parsed.args, parsed.flags, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`dbos-kv: ${error.message}\n`);
      return EXIT_USAGE;
    }
    const code = (error as { code?: unknown })?.code;
    io.err(`dbos-kv: ${(error as Error)?.message ?? String(error)}${typeof code === 'string' ? ` (${code})` : ''}\n`);
    // A refused argument (a key too long, an empty key) is the caller's mistake, like a usage error.
    if ((error instanceof TypeError && hasCode(error, 'DBOS_EINVAL')) || (error instanceof RangeError && hasCode(error, 'DBOS_ERANGE'))) {
      return EXIT_USAGE;
    }
    return EXIT_STORE;
  }
}

/** `dbos-kv serve`: its own flags (see cli-serve.ts); errors reported as for the other commands. */
async function runServe(argv: string[], io: CliIo): Promise<number> {
  try {
    return await serve(argv, io);
  } catch (error) {
    if (error instanceof ServeUsageError) {
      io.err(`dbos-kv: ${error.message}\n${SERVE_USAGE}\n`);
      return EXIT_USAGE;
    }
    const code = (error as { code?: unknown })?.code;
    io.err(`dbos-kv: ${(error as Error)?.message ?? String(error)}${typeof code === 'string' ? ` (${code})` : ''}\n`);
    return EXIT_STORE;
  }
}

// Run when executed (node dist/cli.js, the dbos-kv bin, or tsx src/cli.ts), not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  const io: CliIo = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    tty: process.stderr.isTTY === true,
  };
  process.exitCode = await main(process.argv.slice(2), io);
}
