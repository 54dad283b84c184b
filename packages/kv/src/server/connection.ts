// One client connection: reads requests from its socket, runs them through the command table in
// arrival order and writes the replies in the same order. Pipelining: every complete request in
// a chunk runs before the chunk's replies are written, in one socket write. A reply that waits
// for durability (a Promise) holds back the replies after it until it settles. Backpressure:
// while the socket's unsent bytes or the replies still waiting grow past a bound, the connection
// stops reading, so a client that sends without reading cannot grow the server's memory.
import type net from 'node:net';
import type { CommandSpec } from './command.js';
import { dispatch } from './commands/index.js';
import { type ClientContext, NO_REPLY, type ServerContext } from './context.js';
import { type Reply, error } from './reply.js';
import { ReplyWriter, RequestParser, encodeReply } from './resp.js';

/** Unsent reply bytes above which the connection stops reading until the socket drains. */
const WRITE_BUFFER_HIGH_BYTES = 1024 * 1024;
/** Replies still waiting for durability above which the connection stops reading. */
const WAITING_REPLIES_MAX = 4096;
/** How long a closing connection may take to hand its last replies to a client that does not read. */
const CLOSE_FLUSH_MS = 1000;

interface Slot {
  bytes: Buffer | null;
}

export class Connection implements ClientContext {
  readonly id: number;
  protocol: 2 | 3 = 2;
  name: string | null = null;
  authenticated: boolean;
  readonly createdAtMs = Date.now();
  lastInteractionMs = Date.now();
  /** When the output buffer first went over the soft limit (0: it is under it). */
  #softLimitSinceMs = 0;
  #lastCommand = 'NULL';
  readonly #socket: net.Socket;
  readonly #server: ServerContext;
  readonly #parser: RequestParser;
  /** Replies ready while nothing waits ahead of them; they go out before the queue. */
  readonly #ready = new ReplyWriter();
  /** Replies behind one that waits for durability, in request order. */
  readonly #queue: Slot[] = [];
  #waiting = 0;
  /** QUIT, SHUTDOWN, a protocol error or the server closing: no more requests are read. */
  #stopReading = false;
  #endAfterFlush = false;
  #paused = false;
  #flushScheduled = false;
  #closed = false;
  readonly #onClosed: (connection: Connection) => void;
  #drained: (() => void) | null = null;

  constructor(id: number, socket: net.Socket, server: ServerContext, onClosed: (connection: Connection) => void) {
    this.id = id;
    this.#socket = socket;
    this.#server = server;
    this.#onClosed = onClosed;
    this.authenticated = server.config.settings.requirepass === '';
    this.#parser = new RequestParser({ maxBulkBytes: server.config.settings.protoMaxBulkLen });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#resumeIfRoom());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#finish());
  }

  get closed(): boolean {
    return this.#closed;
  }

  closeAfterReply(): void {
    this.#stopReading = true;
    this.#endAfterFlush = true;
  }

  reset(): void {
    this.protocol = 2;
    this.name = null;
    this.authenticated = this.#server.config.settings.requirepass === '';
  }

  describe(): string {
    const now = Date.now();
    const socket = this.#socket;
    const fields: [string, string | number][] = [
      ['id', this.id],
      ['addr', `${socket.remoteAddress}:${socket.remotePort}`],
      ['laddr', `${socket.localAddress}:${socket.localPort}`],
      ['name', this.name ?? ''],
      ['age', Math.floor((now - this.createdAtMs) / 1000)],
      ['idle', Math.floor((now - this.lastInteractionMs) / 1000)],
      ['flags', 'N'],
      ['db', 0],
      ['sub', 0],
      ['psub', 0],
      ['ssub', 0],
      ['multi', -1],
      ['qbuf', this.#parser.buffered],
      ['oll', this.#queue.length],
      ['omem', socket.writableLength],
      ['events', this.#paused ? '' : 'r'],
      ['cmd', this.#lastCommand],
      ['user', 'default'],
      ['redir', -1],
      ['resp', this.protocol],
    ];
    return fields.map(([name, value]) => `${name}=${value}`).join(' ');
  }

  /** Bytes written to the socket and not yet sent. */
  get outputBytes(): number {
    return this.#socket.writableLength;
  }

  /** The server's once-a-second check: idle timeout and the soft output-buffer limit. */
  tick(nowMs: number): void {
    const { timeoutSeconds } = this.#server.config.settings;
    if (timeoutSeconds > 0 && this.#waiting === 0 && nowMs - this.lastInteractionMs > timeoutSeconds * 1000) {
      this.#socket.destroy();
      return;
    }
    this.#checkOutputLimit(nowMs);
  }

  /** Graceful close: stop reading, send every reply to the requests already read, then end. */
  drain(): Promise<void> {
    this.#stopReading = true;
    this.#endAfterFlush = true;
    if (this.#closed) return Promise.resolve();
    const done = new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
    this.#flush();
    return done;
  }

  #onData(chunk: Buffer): void {
    this.#server.stats.inputBytes += chunk.length;
    if (this.#stopReading) return;
    this.lastInteractionMs = Date.now();
    this.#parser.limits.maxBulkBytes = this.#server.config.settings.protoMaxBulkLen;
    this.#parser.push(chunk);
    while (!this.#stopReading) {
      const request = this.#parser.next();
      if (request === null) break;
      if (!Array.isArray(request)) {
        // A request that can never complete: answer once, then close, as Redis does.
        this.#push(error(request.error));
        this.closeAfterReply();
        break;
      }
      this.#execute(request);
    }
    this.#flush();
  }

  #execute(args: Buffer[]): void {
    const server = this.#server;
    server.stats.commandsProcessed++;
    const requirePassword = server.config.settings.requirepass !== '';
    const { spec, reply } = dispatch(server.commands, { args, client: this, server }, requirePassword, (resolved) => {
      this.#lastCommand = resolved.name;
    });
    if (spec !== null && isWrite(spec)) this.#server.noteWrite();
    if (reply === NO_REPLY) {
      this.closeAfterReply();
      return;
    }
    if (!(reply instanceof Promise)) {
      this.#push(reply);
      return;
    }
    // The reply waits; it is encoded in the protocol in force when its command ran.
    const protocol = this.protocol;
    const slot: Slot = { bytes: null };
    this.#queue.push(slot);
    this.#waiting++;
    reply.then((settled) => {
      this.#waiting--;
      if (settled.type === 'error') this.#server.stats.errorReplies++;
      slot.bytes = encodeReply(settled, protocol);
      this.#scheduleFlush();
    });
  }

  #push(reply: Reply): void {
    if (reply.type === 'error') this.#server.stats.errorReplies++;
    if (this.#queue.length === 0) this.#ready.write(reply, this.protocol);
    else this.#queue.push({ bytes: encodeReply(reply, this.protocol) });
  }

  /**
   * Flushes once the promise callbacks now running are done: the commit listener settles many
   * writes at once, and their replies then go out in one socket write, not one each.
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    process.nextTick(() => {
      this.#flushScheduled = false;
      this.#flush();
      this.#resumeIfRoom();
    });
  }

  /** Writes the replies at the front of the queue that are ready, in one write. */
  #flush(): void {
    if (this.#closed) return;
    const ready: Buffer[] = [];
    const first = this.#ready.take();
    if (first !== null) ready.push(first);
    let count = 0;
    while (count < this.#queue.length && (this.#queue[count] as Slot).bytes !== null) count++;
    for (const slot of this.#queue.splice(0, count)) ready.push(slot.bytes as Buffer);
    if (ready.length > 0) {
      const bytes = ready.length === 1 ? (ready[0] as Buffer) : Buffer.concat(ready);
      this.#server.stats.outputBytes += bytes.length;
      this.#socket.write(bytes);
      if (this.#checkOutputLimit(Date.now())) return;
    }
    if (this.#queue.length === 0 && this.#endAfterFlush) {
      this.#end();
      return;
    }
    if (!this.#paused && (this.#socket.writableLength > WRITE_BUFFER_HIGH_BYTES || this.#waiting > WAITING_REPLIES_MAX)) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #resumeIfRoom(): void {
    if (!this.#paused || this.#stopReading) return;
    if (this.#socket.writableLength <= WRITE_BUFFER_HIGH_BYTES && this.#waiting <= WAITING_REPLIES_MAX) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  /** Closes the client when its unsent output is over the hard limit, or over the soft one for too long. True when closed. */
  #checkOutputLimit(nowMs: number): boolean {
    const { hardBytes, softBytes, softSeconds } = this.#server.config.settings.clientOutputBufferLimit;
    const bytes = this.#socket.writableLength;
    if (hardBytes > 0 && bytes > hardBytes) {
      this.#socket.destroy();
      return true;
    }
    if (softBytes > 0 && bytes > softBytes) {
      if (this.#softLimitSinceMs === 0) this.#softLimitSinceMs = nowMs;
      else if (nowMs - this.#softLimitSinceMs >= softSeconds * 1000) {
        this.#socket.destroy();
        return true;
      }
    } else this.#softLimitSinceMs = 0;
    return false;
  }

  #end(): void {
    this.#socket.end(() => this.#socket.destroy());
    // A client that never reads would keep the last replies unsent forever.
    setTimeout(() => this.#socket.destroy(), CLOSE_FLUSH_MS).unref();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#onClosed(this);
    this.#drained?.();
  }
}

function isWrite(spec: CommandSpec): boolean {
  return spec.flags.includes('write');
}
