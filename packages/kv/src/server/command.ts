// What a command is to the server: its table entry (name, arity, flags and key positions, as
// COMMAND reports them) and the function that runs it.
//
// The execution rule every command follows: `run` does all of its reads and writes before it
// returns, synchronously, so commands from every client apply one at a time in arrival order
// (as in Redis). A write returns a Promise only to delay its reply until the write is durable
// under the configured appendfsync; the connection sends replies in request order.
import type { Reply } from './reply.js';

export interface CommandSpec {
  /** Lower-case name, as COMMAND lists it ("get", "client|setname" for a subcommand). */
  readonly name: string;
  /** Redis's convention: n > 0 exactly n words (the name counts), n < 0 at least -n words. */
  readonly arity: number;
  /** COMMAND's flags: "write", "readonly", "denyoom", "admin", "fast", "noscript", "loading", "stale", "no_auth", … */
  readonly flags: readonly string[];
  /** Key positions for COMMAND: first, last (−1 = the last argument) and step; 0, 0, 0 when it takes no keys. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  /** COMMAND DOCS: group ("string", "generic", "connection", "server", "keyspace") and one-line summary. */
  readonly group: string;
  readonly summary: string;
  /** For container commands (CLIENT, CONFIG, COMMAND, DEBUG, FUNCTION): dispatched on args[1]. */
  readonly subcommands?: readonly CommandSpec[];
  run(call: CommandCall): Reply | Promise<Reply>;
}

/** One request being executed. `args[0]` is the command name as the client sent it. */
export interface CommandCall {
  readonly args: readonly Buffer[];
  readonly client: ClientHandle;
  readonly server: ServerHandle;
}

/** What a command may know about and do to the client that sent it. */
export interface ClientHandle {
  readonly id: number;
  /** 2 or 3, switched by HELLO. */
  protocol: 2 | 3;
  name: string | null;
  authenticated: boolean;
  /** Close the connection once the reply to this command has been written (QUIT). */
  closeAfterReply(): void;
}

/** What a command may know about and do to the server as a whole. */
export interface ServerHandle {
  readonly keyspace: import('./keyspace.js').Keyspace;
  /** Milliseconds since the epoch, from one clock the whole server uses (tests can move it). */
  now(): number;
}
