// A small RESP2 client for a benchmark's own load, and for checking which process answers a port
// (redis-server.ts): one TCP connection, requests answered in order (pipelining = several requests
// sent before their replies), replies parsed incrementally.
// Deliberately lean (no command table, no reconnects) so the client's own cost per request stays
// small next to the servers' on a machine whose cores it shares.
import net from 'node:net';

export type Reply = string | number | Buffer | null | ReplyError | Reply[];

/** An error reply (`-ERR …`): returned as a value, so a pipelined sequence keeps its order. */
export class ReplyError extends Error {}

const CRLF = Buffer.from('\r\n');

/** The RESP encoding of one command. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/** One reply parsed from `buffer` at `offset`: [reply, next offset], or null while incomplete. */
function parseReply(buffer: Buffer, offset: number): [Reply, number] | null {
  const lineEnd = buffer.indexOf(CRLF, offset);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buffer[offset] as number);
  const line = buffer.toString('latin1', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return [line, next];
    case '-':
      return [new ReplyError(line), next];
    case ':':
      return [Number(line), next];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buffer.length < next + length + 2) return null;
      return [buffer.subarray(next, next + length), next + length + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (item === null) return null;
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`unexpected RESP reply type '${type}'`);
  }
}

export class RespClient {
  readonly #socket: net.Socket;
  readonly #waiting: { resolve: (reply: Reply) => void; reject: (error: Error) => void }[] = [];
  #head = 0;
  #pending: Buffer = Buffer.alloc(0);
  #failure: Error | null = null;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    const fail = (error: Error) => {
      this.#failure ??= error;
      for (let i = this.#head; i < this.#waiting.length; i++) this.#waiting[i]?.reject(this.#failure);
      this.#waiting.length = 0;
      this.#head = 0;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the server')));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => {
        socket.off('error', reject);
        resolve(new RespClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Send an encoded command (encodeCommand) and resolve with its reply. */
  sendRaw(encoded: Buffer): Promise<Reply> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#socket.write(encoded);
    });
  }

  send(...args: (string | Buffer)[]): Promise<Reply> {
    return this.sendRaw(encodeCommand(args));
  }

  close(): void {
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let offset = 0;
    for (;;) {
      const parsed = parseReply(this.#pending, offset);
      if (parsed === null) break;
      offset = parsed[1];
      const waiter = this.#waiting[this.#head++];
      if (waiter === undefined) throw new Error('a reply arrived with no request waiting for it');
      waiter.resolve(parsed[0]);
    }
    this.#pending = offset === this.#pending.length ? Buffer.alloc(0) : this.#pending.subarray(offset);
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#head);
      this.#head = 0;
    }
  }
}

/** The fields of an INFO reply (`name:value` lines). */
export function infoFields(reply: Reply): Map<string, string> {
  if (!Buffer.isBuffer(reply)) throw new Error(`INFO answered ${String(reply)}`);
  const fields = new Map<string, string>();
  for (const line of reply.toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}
