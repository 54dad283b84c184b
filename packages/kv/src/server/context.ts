// What the connection and server commands (PING … SHUTDOWN) see of the server and of the client
// beyond the shared ServerHandle/ClientHandle: settings, counters, the client list and the
// command table. The data commands never need these, so the shared handles stay small.
import type { CommandSpec, CommandCall, ClientHandle, ServerHandle } from './command.js';
import type { ServerConfig } from './config.js';
import type { Reply } from './reply.js';

/** The counters INFO stats reports; CONFIG RESETSTAT zeroes them. */
export interface ServerStats {
  connectionsReceived: number;
  commandsProcessed: number;
  rejectedConnections: number;
  inputBytes: number;
  outputBytes: number;
  errorReplies: number;
}

export function emptyStats(): ServerStats {
  return { connectionsReceived: 0, commandsProcessed: 0, rejectedConnections: 0, inputBytes: 0, outputBytes: 0, errorReplies: 0 };
}

/** The command table: lookup by lower-case name, and every command in order for COMMAND. */
export interface CommandTable {
  get(name: string): CommandSpec | undefined;
  readonly all: readonly CommandSpec[];
}

/** A connected client as the server commands see it. */
export interface ClientContext extends ClientHandle {
  /** CLIENT LIST / CLIENT INFO's line for this client (no trailing newline). */
  describe(): string;
  /** RESET: back to a new connection's state. */
  reset(): void;
}

export interface ServerContext extends ServerHandle {
  readonly config: ServerConfig;
  readonly stats: ServerStats;
  readonly commands: CommandTable;
  readonly startedAtMs: number;
  /** The store's durability mechanism (INFO server). */
  readonly mechanism: string;
  clients(): Iterable<ClientContext>;
  /** A write command ran (appendfsync everysec syncs the log within a second of it). */
  noteWrite(): void;
  /** SHUTDOWN: write dump.rdb first when `save`, then close the server gracefully; false when the save failed (nothing closes). */
  shutdown(save: boolean): boolean;
  /** Counters the last save left (INFO persistence); undefined when no save support is loaded. */
  persistenceInfo(): [string, string | number][];
}

/** The server context behind a call; the server always passes one. */
export function serverOf(call: CommandCall): ServerContext {
  return call.server as ServerContext;
}

export function clientOf(call: CommandCall): ClientContext {
  return call.client as ClientContext;
}

/** What a command returns to send no reply at all (SHUTDOWN: the closed connection is the answer). */
export const NO_REPLY: Reply = { type: 'simple', value: '' };
