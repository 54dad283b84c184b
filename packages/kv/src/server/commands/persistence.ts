// SAVE, BGSAVE [SCHEDULE] and LASTSAVE, with Redis 7.0's replies and errors.
//
// The commands find their server's Persistence through the keyspace (`createPersistence`
// registers it), so the shared ServerHandle needs no new member.
import type { CommandCall, CommandSpec } from '../command.js';
import type { Keyspace } from '../keyspace.js';
import { Persistence, type PersistenceOptions } from '../persistence.js';
import { OK, type Reply, error, integer, simple } from '../reply.js';
import { SYNTAX_ERROR } from './data-args.js';

export { Persistence, type PersistenceOptions, type LoadCounts } from '../persistence.js';

const registry = new WeakMap<Keyspace, Persistence>();

/** The server's persistence state; the commands below reach it through `options.keyspace`. */
export function createPersistence(options: PersistenceOptions): Persistence {
  const persistence = new Persistence(options);
  registry.set(options.keyspace, persistence);
  return persistence;
}

/** The persistence of the server whose keyspace this is, if `createPersistence` was called. */
export function persistenceOf(keyspace: Keyspace): Persistence | undefined {
  return registry.get(keyspace);
}

const IN_PROGRESS = error('ERR Background save already in progress');
const NOT_SET_UP = error('ERR persistence is not set up on this server');

function command(name: string, arity: number, flags: readonly string[], summary: string, run: CommandSpec['run']): CommandSpec {
  return { name, arity, flags, firstKey: 0, lastKey: 0, step: 0, group: 'server', summary, run };
}

function withPersistence(call: CommandCall, run: (persistence: Persistence) => Reply): Reply {
  const persistence = persistenceOf(call.server.keyspace);
  return persistence === undefined ? NOT_SET_UP : run(persistence);
}

export const persistenceCommands: CommandSpec[] = [
  command('save', 1, ['admin', 'noscript', 'no_async_loading', 'no_multi'], 'Synchronously save the dataset to disk', (call) =>
    withPersistence(call, (persistence) => {
      if (persistence.saving) return IN_PROGRESS;
      try {
        persistence.saveSync();
        return OK;
      } catch {
        // Redis's reply to a failed SAVE is the bare word; the reason is kept in Persistence.lastError.
        return error('ERR');
      }
    }),
  ),
  command('bgsave', -1, ['admin', 'noscript', 'no_async_loading'], 'Asynchronously save the dataset to disk', (call) =>
    withPersistence(call, (persistence) => {
      // SCHEDULE only matters while another kind of child runs in Redis (an AOF rewrite); there is none here.
      if (call.args.length > 2 || (call.args.length === 2 && (call.args[1] as Buffer).toString('latin1').toLowerCase() !== 'schedule')) {
        return SYNTAX_ERROR;
      }
      if (persistence.saving) return IN_PROGRESS;
      try {
        void persistence.startBackgroundSave();
      } catch {
        return error('ERR');
      }
      return simple('Background saving started');
    }),
  ),
  command('lastsave', 1, ['loading', 'stale', 'fast'], 'Get the UNIX time stamp of the last successful save to disk', (call) =>
    withPersistence(call, (persistence) => integer(persistence.lastSaveSeconds)),
  ),
];
