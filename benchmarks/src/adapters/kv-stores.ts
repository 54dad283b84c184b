// Adapters for the key-value stores @dbos/kv is compared with (lmdb, classic-level,
// better-sqlite3, rocksdb-native), each behind the same few operations and each done the way that
// store's documentation recommends, so a driver runs identical work against every one. The peers
// are this package's (exact-version) devDependencies; our own store's adapter lives with its bench
// (packages/kv/bench/dbos-store.ts), since @dbos/benchmarks must not depend on @dbos/kv.
//
// Modes, like with like:
//   durable  every acknowledged write survives power loss (the store fsyncs/fdatasyncs before
//            resolving): @dbos/kv { sync: true }, lmdb's default (sync on commit), classic-level
//            { sync: true }, better-sqlite3 WAL + synchronous=FULL. rocksdb-native 3.18 exposes no
//            sync write (it passes default write options: WAL written, not synced), so it has no
//            durable mode and sits out the durable line.
//   fast     each store's fastest documented setting that still keeps the data in its own files:
//            @dbos/kv { sync: false }, lmdb noSync, classic-level { sync: false }, better-sqlite3
//            WAL + synchronous=OFF, rocksdb-native's default writes.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export type Mode = 'durable' | 'fast';

export type Op = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

export interface OpenOptions {
  mode: Mode;
  /** The memory budget a store gets where it has a cache knob (the same for every store). */
  cacheBytes: number;
}

export interface Store {
  /** Apply `ops` as one atomic batch in this instance's mode; resolves when the mode's promise is kept. */
  write(ops: Op[]): Promise<void>;
  /** Synchronous point read, where the store has one (reads from a cache or a map need no event-loop turn). */
  getSync?(key: Buffer): Buffer | undefined;
  /** Asynchronous point read, for stores with no synchronous one. */
  get?(key: Buffer): Promise<Buffer | undefined>;
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  /** Entries from the first key >= `start`, at most `limit`: how many were read (values touched). */
  scanSync?(start: Buffer, limit: number): number;
  scan?(start: Buffer, limit: number): Promise<number>;
  /**
   * Maintenance run while the bulk load goes on, where the store has it through its API: a
   * checkpoint, then an online backup into the empty directory `backupDir` (the event-loop line
   * then measures the load with both running).
   */
  maintain?(backupDir: string): Promise<void>;
  close(): Promise<void>;
}

export interface StoreKind {
  /** Name with version, as it appears in results. */
  name: string;
  /** Which modes it has (see the header). */
  modes: Mode[];
  /** The configuration per mode, for the notes. */
  describe(mode: Mode): string;
  open(dir: string, options: OpenOptions): Promise<Store>;
}

/** The installed version (read from the file: not every peer exports its package.json). */
function version(pkg: string): string {
  const file = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'node_modules', pkg, 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

// ---- lmdb -------------------------------------------------------------------------------------

interface LmdbDatabase {
  get(key: Buffer): Buffer | undefined;
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  getRange(options: { start: Buffer; limit: number }): Iterable<{ key: Buffer; value: Buffer }>;
  put(key: Buffer, value: Buffer): Promise<boolean>;
  remove(key: Buffer): Promise<boolean>;
  batch(callback: () => void): Promise<boolean>;
  close(): Promise<void>;
}

export const lmdbStore: StoreKind = {
  name: `lmdb ${version('lmdb')}`,
  modes: ['durable', 'fast'],
  describe: (mode) =>
    mode === 'durable'
      ? 'lmdb-js defaults (each commit synced before its promise resolves), binary keys and values, no compression'
      : 'noSync: true (commits reach the OS, never fsynced by lmdb), binary keys and values, no compression',
  async open(dir, options) {
    const { open } = require('lmdb') as { open(options: Record<string, unknown>): LmdbDatabase };
    const db = open({
      path: path.join(dir, 'lmdb'),
      keyEncoding: 'binary',
      encoding: 'binary',
      compression: false,
      noSync: options.mode === 'fast',
    });
    return {
      // A batch callback's puts commit in one transaction, resolved as the mode promises.
      async write(ops) {
        await db.batch(() => {
          for (const op of ops) {
            if (op.type === 'put') void db.put(op.key, op.value);
            else void db.remove(op.key);
          }
        });
      },
      getSync: (key) => db.get(key),
      getMany: (keys) => db.getMany(keys),
      scanSync(start, limit) {
        let count = 0;
        for (const _entry of db.getRange({ start, limit })) count++;
        return count;
      },
      close: () => db.close(),
    };
  },
};

// ---- classic-level ------------------------------------------------------------------------------

interface LevelDatabase {
  open(): Promise<void>;
  getSync(key: Buffer): Buffer | undefined;
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  batch(ops: Op[], options: { sync: boolean }): Promise<void>;
  iterator(options: { gte: Buffer; limit: number }): { all(): Promise<[Buffer, Buffer][]> };
  close(): Promise<void>;
}

export const classicLevelStore: StoreKind = {
  name: `classic-level ${version('classic-level')}`,
  modes: ['durable', 'fast'],
  describe: (mode) => `LevelDB, cacheSize = the budget, buffer keys and values, batch({ sync: ${mode === 'durable'} })`,
  async open(dir, options) {
    const { ClassicLevel } = require('classic-level') as {
      ClassicLevel: new (location: string, options: Record<string, unknown>) => LevelDatabase;
    };
    const db = new ClassicLevel(path.join(dir, 'level'), {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      cacheSize: options.cacheBytes,
    });
    await db.open();
    const sync = options.mode === 'durable';
    return {
      write: (ops) => db.batch(ops, { sync }),
      getSync: (key) => db.getSync(key),
      getMany: (keys) => db.getMany(keys),
      async scan(start, limit) {
        return (await db.iterator({ gte: start, limit }).all()).length;
      },
      close: () => db.close(),
    };
  },
};

// ---- better-sqlite3 -----------------------------------------------------------------------------

export const sqliteStore: StoreKind = {
  name: `better-sqlite3 ${version('better-sqlite3')}`,
  modes: ['durable', 'fast'],
  describe: (mode) =>
    `WAL journal, synchronous=${mode === 'durable' ? 'FULL' : 'OFF'}, cache_size = the budget, ` +
    'table (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID, one transaction per batch',
  async open(dir, options) {
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(path.join(dir, 'sqlite.db'));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.mode === 'durable' ? 'FULL' : 'OFF'}`);
    db.pragma(`cache_size = ${-Math.floor(options.cacheBytes / 1024)}`);
    db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
    const put = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
    const del = db.prepare('DELETE FROM kv WHERE k = ?');
    const get = db.prepare('SELECT v FROM kv WHERE k = ?').pluck();
    const range = db.prepare('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?').raw();
    const apply = db.transaction((ops: Op[]) => {
      for (const op of ops) {
        if (op.type === 'put') put.run(op.key, op.value);
        else del.run(op.key);
      }
    });
    const getSync = (key: Buffer) => get.get(key) as Buffer | undefined;
    return {
      async write(ops) {
        apply(ops);
      },
      getSync,
      // No multi-get in SQLite: the natural way is the prepared statement in a loop.
      async getMany(keys) {
        return keys.map(getSync);
      },
      scanSync(start, limit) {
        let count = 0;
        for (const _row of range.iterate(start, limit)) count++;
        return count;
      },
      async close() {
        db.close();
      },
    };
  },
};

// ---- rocksdb-native -----------------------------------------------------------------------------

interface RocksBatch {
  tryPut(key: Buffer, value: Buffer): void;
  tryDelete(key: Buffer): void;
  get(key: Buffer): Promise<Buffer | null>;
  flush(): Promise<void>;
  tryFlush(): void;
}
interface RocksDatabase {
  ready(): Promise<void>;
  read(options: { capacity: number; autoDestroy: boolean }): RocksBatch;
  write(options: { capacity: number; autoDestroy: boolean }): RocksBatch;
  get(key: Buffer): Promise<Buffer | null>;
  iterator(range: { gte: Buffer; limit: number }): AsyncIterable<{ key: Buffer; value: Buffer }>;
  close(): Promise<void>;
}

export const rocksdbStore: StoreKind = {
  name: `rocksdb-native ${version('rocksdb-native')}`,
  modes: ['fast'],
  describe: () => 'RocksDB defaults (WAL written to the OS per write batch, never synced by a write; no sync option is exposed)',
  async open(dir) {
    const RocksDB = require('rocksdb-native') as new (location: string) => RocksDatabase;
    const db = new RocksDB(path.join(dir, 'rocksdb'));
    await db.ready();
    return {
      async write(ops) {
        const batch = db.write({ capacity: ops.length, autoDestroy: true });
        for (const op of ops) {
          if (op.type === 'put') batch.tryPut(op.key, op.value);
          else batch.tryDelete(op.key);
        }
        await batch.flush();
      },
      async get(key) {
        return (await db.get(key)) ?? undefined;
      },
      // A read batch is rocksdb-native's multi-get: every key in one native call.
      async getMany(keys) {
        const batch = db.read({ capacity: keys.length, autoDestroy: true });
        const values = keys.map((key) => batch.get(key));
        batch.tryFlush();
        return (await Promise.all(values)).map((value) => value ?? undefined);
      },
      async scan(start, limit) {
        let count = 0;
        for await (const _entry of db.iterator({ gte: start, limit })) count++;
        return count;
      },
      close: () => db.close(),
    };
  },
};

export const peers: StoreKind[] = [lmdbStore, classicLevelStore, sqliteStore, rocksdbStore];
