// The differential test's plumbing: a real redis-server on a free port, and a minimal RESP2
// client (one request at a time) whose replies decode to plain values that compare with toEqual.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A decoded reply: status and error lines, integers as decimal text (64-bit exact), bulk strings as latin1 text. */
export type Resp =
  | { readonly type: 'status'; readonly value: string }
  | { readonly type: 'error'; readonly value: string }
  | { readonly type: 'integer'; readonly value: string }
  | { readonly type: 'bulk'; readonly value: string | null }
  | { readonly type: 'array'; readonly value: Resp[] | null };

/** Where a reply ends in `buffer` from `at`, with its value; null when more bytes are needed. */
function decode(buffer: Buffer, at: number): { reply: Resp; end: number } | null {
  const lineEnd = buffer.indexOf('\r\n', at);
  if (lineEnd === -1) return null;
  const kind = String.fromCharCode(buffer[at] as number);
  const line = buffer.toString('latin1', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (kind) {
    case '+':
      return { reply: { type: 'status', value: line }, end: next };
    case '-':
      return { reply: { type: 'error', value: line }, end: next };
    case ':':
      return { reply: { type: 'integer', value: line }, end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: { type: 'bulk', value: null }, end: next };
      if (buffer.length < next + length + 2) return null;
      return { reply: { type: 'bulk', value: buffer.toString('latin1', next, next + length) }, end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: { type: 'array', value: null }, end: next };
      const items: Resp[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = decode(buffer, cursor);
        if (item === null) return null;
        items.push(item.reply);
        cursor = item.end;
      }
      return { reply: { type: 'array', value: items }, end: cursor };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(kind)} in ${JSON.stringify(buffer.toString('latin1', at, at + 40))}`);
  }
}

/** A RESP2 connection that sends one command and waits for its reply. */
export class RespConnection {
  readonly #socket: net.Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (reply: Resp) => void; reject: (error: Error) => void } | null = null;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#deliver();
    });
    socket.on('error', (error) => this.#waiting?.reject(error));
    socket.on('close', () => this.#waiting?.reject(new Error('the connection closed')));
  }

  static connect(port: number): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => resolve(new RespConnection(socket)));
      socket.once('error', reject);
    });
  }

  #deliver(): void {
    if (this.#waiting === null) return;
    const decoded = decode(this.#buffer, 0);
    if (decoded === null) return;
    this.#buffer = this.#buffer.subarray(decoded.end);
    const { resolve } = this.#waiting;
    this.#waiting = null;
    resolve(decoded.reply);
  }

  /** Send one command (words as text, taken as latin1 bytes, or Buffers) and resolve with its reply. */
  call(words: readonly (string | Buffer)[]): Promise<Resp> {
    if (this.#waiting !== null) throw new Error('one request at a time');
    const parts: Buffer[] = [Buffer.from(`*${words.length}\r\n`, 'latin1')];
    for (const word of words) {
      const bytes = typeof word === 'string' ? Buffer.from(word, 'latin1') : word;
      parts.push(Buffer.from(`$${bytes.length}\r\n`, 'latin1'), bytes, Buffer.from('\r\n', 'latin1'));
    }
    const reply = new Promise<Resp>((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
    this.#socket.write(Buffer.concat(parts));
    this.#deliver();
    return reply;
  }

  close(): void {
    this.#socket.destroy();
  }
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** redis-server (7.0) on a free port without persistence; `stop` kills it and removes its directory. */
export async function startRedis(): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-differential-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt++) {
    try {
      (await RespConnection.connect(port)).close();
      return { port, stop };
    } catch (error) {
      if (attempt >= 100 || child.exitCode !== null) {
        await stop();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  }
}
