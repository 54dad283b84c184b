// The Redis-protocol server: a TCP listener, its clients, the store and keyspace under them, the
// settings, and the once-a-second housekeeping (idle timeouts, output-buffer soft limits, and the
// log sync of appendfsync everysec). close() is graceful: it stops accepting, answers every
// request already read, stops active expiry and closes the store, which makes every
// acknowledged write durable.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DbosError } from '@dbos/platform';
import { open } from '../store.js';
import { commandTable } from './commands/index.js';
import { type Persistence, createPersistence } from './commands/persistence.js';
import { ServerConfig } from './config.js';
import { Connection } from './connection.js';
import { type ClientContext, type ServerContext, emptyStats } from './context.js';
import { type BinaryStore, Keyspace } from './keyspace.js';
import { type ServerOptions, serverSettings } from './options.js';

export type { ServerOptions } from './options.js';

export interface KvServer {
  /** The port it listens on (the chosen one when `port` was 0). */
  readonly port: number;
  readonly bind: string;
  readonly dir: string;
  /** The store's durability mechanism. */
  readonly mechanism: string;
  readonly keyspace: Keyspace;
  readonly store: BinaryStore;
  /** Settles once the server has closed, by close(), SHUTDOWN or a signal handler. */
  readonly closed: Promise<void>;
  /** Graceful close; idempotent. */
  close(): Promise<void>;
}

const HOUSEKEEPING_MS = 1000;

/** True for addresses only this machine can reach. */
export function isLoopback(address: string): boolean {
  if (typeof address !== 'string') return false;
  return address === 'localhost' || address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}

/**
 * The store's directory inside the server's dir. The dir is the server's, as in Redis: dump.rdb
 * and other exports go there, and a store refuses to open in a directory with files it does not
 * know, so the store keeps a directory of its own.
 */
export const STORE_SUBDIR = 'store';

/** Starts a server on a store in `options.dir`/store; resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<KvServer> {
  const settings = serverSettings(options);
  if (settings.protectedMode && !isLoopback(settings.bind) && settings.requirepass === '') {
    throw new DbosError(
      'DBOS_EPERM',
      `refusing to listen on ${settings.bind} without a password: set requirepass, bind a loopback address, or turn protected mode off`,
    );
  }
  fs.mkdirSync(settings.dir, { recursive: true });
  const store = open(path.join(settings.dir, STORE_SUBDIR), {
    keyEncoding: 'binary',
    valueEncoding: 'binary',
    ...(options.cacheBytes !== undefined ? { cacheBytes: options.cacheBytes } : {}),
  });
  const now = options.now ?? Date.now;
  const config = new ServerConfig(settings);
  const keyspace = new Keyspace(store, { now, sync: () => config.settings.appendfsync === 'always' });
  const persistence = createPersistence({ dir: settings.dir, store, keyspace, now });
  const server = new RespServer(store, keyspace, persistence, config, now);
  try {
    await server.listen();
  } catch (failure) {
    await persistence.close();
    keyspace.stop();
    await store.close();
    throw failure;
  }
  return server;
}

class RespServer implements KvServer, ServerContext {
  readonly store: BinaryStore;
  readonly keyspace: Keyspace;
  readonly persistence: Persistence;
  readonly config: ServerConfig;
  readonly stats = emptyStats();
  readonly commands = commandTable();
  readonly startedAtMs = Date.now();
  readonly closed: Promise<void>;
  readonly #now: () => number;
  readonly #listener: net.Server;
  readonly #clients = new Map<number, Connection>();
  #nextClientId = 1;
  #housekeeping: NodeJS.Timeout | null = null;
  #writesSinceSync = false;
  #closing: Promise<void> | null = null;
  #markClosed: () => void = () => {};

  constructor(store: BinaryStore, keyspace: Keyspace, persistence: Persistence, config: ServerConfig, now: () => number) {
    this.store = store;
    this.keyspace = keyspace;
    this.persistence = persistence;
    this.config = config;
    this.#now = now;
    this.closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
    this.#listener = net.createServer((socket) => this.#accept(socket));
  }

  get port(): number {
    return this.config.settings.port;
  }

  get bind(): string {
    return this.config.settings.bind;
  }

  get dir(): string {
    return this.config.settings.dir;
  }

  get mechanism(): string {
    return this.store.mechanism;
  }

  now(): number {
    return this.#now();
  }

  clients(): Iterable<ClientContext> {
    return this.#clients.values();
  }

  noteWrite(): void {
    this.#writesSinceSync = true;
    // One change per write command (Redis counts keys changed; close enough for "anything to save?").
    this.persistence.noteChanges();
  }

  persistenceInfo(): [string, string | number][] {
    return this.persistence.infoFields();
  }

  shutdown(save: boolean): boolean {
    if (save) {
      try {
        // As Redis kills a BGSAVE child first: the stopped save can no longer replace this one.
        this.persistence.stopBackgroundSave();
        this.persistence.saveSync();
      } catch {
        return false;
      }
    }
    void this.close();
    return true;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      // A listen failure (EADDRINUSE, EACCES, EADDRNOTAVAIL) carries its errno name as the code.
      this.#listener.once('error', (error: NodeJS.ErrnoException) => {
        const code = typeof error.code === 'string' && /^E[A-Z0-9]+$/.test(error.code) ? error.code : 'DBOS_EIO';
        const { port, bind } = this.config.settings;
        reject(new DbosError(code, `cannot listen on ${bind}:${port}: ${error.message}`, { cause: error }));
      });
      this.#listener.listen(this.config.settings.port, this.config.settings.bind, () => {
        this.#listener.removeAllListeners('error');
        const address = this.#listener.address();
        if (address !== null && typeof address === 'object') this.config.settings.port = address.port;
        this.#housekeeping = setInterval(() => this.#tick(), HOUSEKEEPING_MS);
        this.#housekeeping.unref();
        resolve();
      });
    });
  }

  #accept(socket: net.Socket): void {
    this.stats.connectionsReceived++;
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#clients.size >= this.config.settings.maxclients) {
      this.stats.rejectedConnections++;
      socket.on('error', () => socket.destroy());
      socket.end('-ERR max number of clients reached\r\n');
      return;
    }
    const id = this.#nextClientId++;
    this.#clients.set(id, new Connection(id, socket, this, (closed) => this.#clients.delete(closed.id)));
  }

  #tick(): void {
    const nowMs = Date.now();
    for (const client of this.#clients.values()) client.tick(nowMs);
    if (this.config.settings.appendfsync === 'everysec' && this.#writesSinceSync) {
      this.#writesSinceSync = false;
      // A failed sync fails the log: the store rejects every later write, which the clients see.
      this.keyspace.syncPoint().catch(() => {});
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#closeNow();
    return this.#closing;
  }

  async #closeNow(): Promise<void> {
    if (this.#housekeeping !== null) clearInterval(this.#housekeeping);
    const stopped = new Promise<void>((resolve) => this.#listener.close(() => resolve()));
    await Promise.all([...this.#clients.values()].map((client) => client.drain()));
    await stopped;
    await this.persistence.close();
    this.keyspace.stop();
    try {
      // Closing the store syncs the log: every write acknowledged under everysec or no is durable too.
      await this.store.close();
    } finally {
      this.#markClosed();
    }
  }
}
