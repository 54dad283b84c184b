// The public API of @dbos/kv/server under hostile arguments: startServer's options, the config
// file parser, isLoopback, and a server's close() abused while clients are mid-request. A server
// that starts is closed again at once; a refused start must leave nothing open (the case's child
// would not exit, or the next start would find the store locked).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { type CaseTable, call, hostileOptions, hostileValue, mostly, scenario } from '@dbos/hostile';
import { isLoopback, parseConfigFile, startServer } from '../../src/server/index.js';

interface Scratch {
  dir: string;
}

const scratch = {
  setup: (): Scratch => ({ dir: fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-server-hostile-')) }),
  teardown: (target: unknown) => fs.rmSync((target as Scratch).dir, { recursive: true, force: true }),
};

const OPTION_KEYS = [
  'port',
  'bind',
  'dir',
  'requirepass',
  'appendfsync',
  'protectedMode',
  'timeout',
  'maxclients',
  'protoMaxBulkLen',
  'clientOutputBufferLimit',
  'now',
  'cacheBytes',
];

// Mostly plausible options (so some servers really start), with hostile values mixed in.
const serverOptions = fc.oneof(
  fc.record(
    {
      port: mostly(fc.constantFrom(0, 0, 65536, -1, 1.5, 80)),
      bind: mostly(fc.constantFrom('127.0.0.1', '::1', '0.0.0.0', 'localhost', 'not an address', '')),
      requirepass: mostly(fc.constantFrom('', 'secret')),
      appendfsync: mostly(fc.constantFrom('always', 'everysec', 'no', 'sometimes')),
      protectedMode: mostly(fc.boolean()),
      timeout: mostly(fc.constantFrom(0, 1, -1, 2 ** 31)),
      maxclients: mostly(fc.constantFrom(1, 10, 0, 2 ** 32)),
      protoMaxBulkLen: mostly(fc.constantFrom(1 << 20, 1 << 29, 1, 2 ** 53)),
      clientOutputBufferLimit: mostly(
        fc.record({ hardBytes: fc.constantFrom(0, 1 << 20, -1), softBytes: fc.constantFrom(0, 1), softSeconds: fc.constantFrom(0, 5) }),
      ),
      now: mostly(fc.constant(() => Date.now())),
      cacheBytes: mostly(fc.constantFrom(4 << 20, 1, 2 ** 40)),
    },
    { requiredKeys: [] },
  ),
  hostileOptions(OPTION_KEYS),
);

/** Start a server with `options` in the case's directory (unless they name their own dir), then close it. */
async function startAndClose(target: Scratch, options: unknown): Promise<void> {
  const given = typeof options === 'object' && options !== null ? { dir: path.join(target.dir, 'server'), ...options } : options;
  const server = await startServer(given as never);
  await server.close();
}

/** Send `bytes` and read what comes back until the server closes the connection or `ms` pass. */
function exchange(port: number, bytes: Buffer, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, ms);
    socket.on('error', done);
    socket.on('close', done);
    socket.on('data', () => {});
    socket.write(bytes);
  });
}

export default {
  'startServer(options)': call([serverOptions], (target, options) => startAndClose(target as Scratch, options), scratch),
  'startServer(hostile value)': call([hostileValue()], (target, options) => startAndClose(target as Scratch, options), scratch),
  'parseConfigFile(text)': call(
    [
      fc.oneof(
        hostileValue(),
        fc
          .array(
            fc.oneof(
              fc.constantFrom('port 0', 'timeout -1', 'maxclients 0', 'appendfsync sometimes', 'protected-mode maybe', '# c', ''),
              fc.constantFrom('proto-max-bulk-len 1k', 'client-output-buffer-limit normal 1 2', 'requirepass "x y"', 'nosuch 1'),
              fc.string({ maxLength: 30 }),
            ),
            { maxLength: 8 },
          )
          .map((lines) => lines.join('\n')),
      ),
    ],
    (_target, text) => parseConfigFile(text as string),
  ),
  'isLoopback(address)': call([fc.oneof(hostileValue(), fc.constantFrom('127.0.0.1', '::1', '10.0.0.1'))], (_target, address) => {
    const answer = isLoopback(address as string);
    if (typeof answer !== 'boolean') throw new Error(`isLoopback returned ${typeof answer}`);
  }),
  // close() twice and at once, with clients sending pipelined writes, half frames and garbage: both
  // promises settle, nothing crashes, and every acknowledged write is there after a restart.
  'close() under load, twice': scenario(async (random) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-server-hostile-'));
    try {
      const server = await startServer({ dir, port: 0 });
      const writes = Array.from({ length: 1 + Math.floor(random() * 50) }, (_, i) => `*3\r\n$3\r\nSET\r\n$2\r\nk${i % 10}\r\n$1\r\nv\r\n`);
      const garbage = Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256)));
      const traffic = [
        exchange(server.port, Buffer.from(writes.join('')), 200),
        exchange(server.port, Buffer.from('*2\r\n$3\r\nGET\r\n$10\r\nhalf'), 200),
        exchange(server.port, garbage, 200),
      ];
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 20)));
      await Promise.all([server.close(), server.close(), ...traffic]);
      await server.closed;
      const again = await startServer({ dir, port: 0 });
      await again.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }),
} satisfies CaseTable;
