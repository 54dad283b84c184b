// What the server's protocol tests share: a server on a scratch store, a real redis-server to
// compare with, and a raw TCP client that sends bytes and decodes RESP replies.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type KvServer, type ServerOptions, startServer } from '../../src/server/server.js';

/** A server on a new scratch store, on a free port; `stop` closes it and removes the store. */
export async function testServer(
  options: Partial<ServerOptions> = {},
): Promise<{ server: KvServer; dir: string; stop: () => Promise<void> }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-server-'));
  const dir = options.dir ?? path.join(root, 'store');
  const server = await startServer({ port: 0, cacheBytes: 16 * 1024 * 1024, ...options, dir });
  return {
    server,
    dir,
    stop: async () => {
      await server.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A real redis-server (Debian's 7.0) on a free port, without persistence; `stop` kills it. */
export async function redisServer(extra: string[] = []): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], {
    stdio: 'ignore',
  });
  for (let attempt = 0; ; attempt++) {
    try {
      const probe = await RawClient.connect(port);
      probe.close();
      break;
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    port,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A decoded RESP reply: errors as `{ error }`, nil as null, verbatim text as a string. */
export type Decoded = string | number | bigint | null | { error: string } | Decoded[] | { map: [Decoded, Decoded][] } | { set: Decoded[] };

/** Decodes one reply at `offset`: the value and the offset after it, or null when incomplete. */
export function decodeReply(buffer: Buffer, offset = 0): { value: Decoded; end: number } | null {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buffer[offset] as number);
  const line = buffer.toString('latin1', offset + 1, lineEnd);
  let end = lineEnd + 2;
  const aggregate = (count: number): { items: Decoded[]; end: number } | null => {
    const items: Decoded[] = [];
    for (let i = 0; i < count; i++) {
      const item = decodeReply(buffer, end);
      if (item === null) return null;
      items.push(item.value);
      end = item.end;
    }
    return { items, end };
  };
  switch (type) {
    case '+':
      return { value: line, end };
    case '-':
      return { value: { error: line }, end };
    case ':':
      return { value: Number(line), end };
    case ',':
      return { value: Number(line.replace('inf', 'Infinity')), end };
    case '_':
      return { value: null, end };
    case '$':
    case '=': {
      const length = Number(line);
      if (length < 0) return { value: null, end };
      if (buffer.length < end + length + 2) return null;
      const text = buffer.toString('latin1', end, end + length);
      return { value: type === '=' ? text.slice(4) : text, end: end + length + 2 };
    }
    case '*':
    case '~':
    case '%': {
      const count = Number(line);
      if (count < 0) return { value: null, end };
      const items = aggregate(type === '%' ? count * 2 : count);
      if (items === null) return null;
      if (type === '~') return { value: { set: items.items }, end: items.end };
      if (type === '%') {
        const entries: [Decoded, Decoded][] = [];
        for (let i = 0; i < items.items.length; i += 2) entries.push([items.items[i] as Decoded, items.items[i + 1] as Decoded]);
        return { value: { map: entries }, end: items.end };
      }
      return { value: items.items, end: items.end };
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(buffer.toString('latin1', offset, offset + 40))}`);
  }
}

/** A RESP2 multibulk request. */
export function request(...words: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${words.length}\r\n`)];
  for (const word of words) {
    const bytes = Buffer.isBuffer(word) ? word : Buffer.from(word);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A socket that sends raw bytes and reads decoded replies. */
export class RawClient {
  #received = Buffer.alloc(0);
  #offset = 0;
  #waiter: (() => void) | null = null;
  #closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received.subarray(this.#offset), chunk]);
      this.#offset = 0;
      this.#waiter?.();
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.#closed = true;
        this.#waiter?.();
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** The next reply; rejects when the connection closes first or after `timeoutMs`. */
  async reply(timeoutMs = 5000): Promise<Decoded> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const decoded = decodeReply(this.#received, this.#offset);
      if (decoded !== null) {
        this.#offset = decoded.end;
        return decoded.value;
      }
      if (this.#closed) throw new Error('the connection closed before a reply');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no reply in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = null;
    }
  }

  /** Sends one request and returns its reply. */
  async call(...words: (string | Buffer)[]): Promise<Decoded> {
    this.send(request(...words));
    return this.reply();
  }

  /** Bytes received and not decoded. */
  get pending(): number {
    return this.#received.length - this.#offset;
  }

  /** Resolves true once the server closes the connection, false after `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.closedPromise.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return result;
  }

  close(): void {
    this.socket.destroy();
  }
}
