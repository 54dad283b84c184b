// `dbos-kv serve`: flags and --config parsing, refusals with exit code 2 or 3, and the real bin
// under SIGTERM: it answers, exits 0, and every acknowledged write is in the store afterwards.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ServeUsageError, serveOptions } from '../../src/cli-serve.js';
import { main } from '../../src/cli.js';
import { RawClient, freePort, request, testServer } from './frame-helpers.js';

const bin = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-serve-'));
}

describe('dbos-kv serve options', () => {
  it('defaults to 127.0.0.1:6379 and ./dbos-data', () => {
    expect(serveOptions([])).toEqual({ dir: './dbos-data' });
  });

  it('reads a redis.conf-style file, and flags win over it', () => {
    const root = scratchDir();
    const file = path.join(root, 'kv.conf');
    fs.writeFileSync(
      file,
      '# a comment\nport 7000\nbind 127.0.0.2\nrequirepass "s3cret"\nappendfsync always\ntimeout 30\nmaxclients 50\nproto-max-bulk-len 2mb\nclient-output-buffer-limit normal 1mb 512kb 10\n',
    );
    expect(serveOptions(['--config', file, '--port', '7001', '--dir', root])).toEqual({
      dir: root,
      port: 7001,
      bind: '127.0.0.2',
      requirepass: 's3cret',
      appendfsync: 'always',
      timeout: 30,
      maxclients: 50,
      protoMaxBulkLen: 2 * 1024 * 1024,
      clientOutputBufferLimit: { hardBytes: 1024 * 1024, softBytes: 512 * 1024, softSeconds: 10 },
    });
    fs.rmSync(root, { recursive: true });
  });

  it('refuses unknown flags, bad values and unsupported config lines', () => {
    const root = scratchDir();
    const file = path.join(root, 'bad.conf');
    fs.writeFileSync(file, 'port 7000\nsave 900 1\n');
    expect(() => serveOptions(['--nope'])).toThrow(ServeUsageError);
    expect(() => serveOptions(['--appendfsync', 'sometimes'])).toThrow(/everysec, always, no/);
    expect(() => serveOptions(['--protected-mode', 'maybe'])).toThrow(/yes or no/);
    expect(() => serveOptions(['--config', file])).toThrow(/line 2: unsupported setting 'save'/);
    expect(() => serveOptions(['--config', path.join(root, 'missing.conf')])).toThrow(/cannot read --config/);
    fs.rmSync(root, { recursive: true });
  });

  it('exits 2 on a usage error and 3 when protected mode refuses the address', async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (text: string) => err.push(text), tty: false };
    expect(await main(['serve', '--port', 'x'], io)).toBe(2);
    expect(await main(['serve', '--bind', '0.0.0.0', '--dir', path.join(os.tmpdir(), 'never')], io)).toBe(3);
    expect(err.join('')).toMatch(/refusing to listen on 0\.0\.0\.0 without a password.*\(DBOS_EPERM\)/);
  });

  it('exits 3 when the port is taken, leaving the store closed', async () => {
    const root = scratchDir();
    const busy = await testServer();
    const err: string[] = [];
    const io = { out: () => {}, err: (text: string) => err.push(text), tty: false };
    expect(await main(['serve', '--port', String(busy.server.port), '--dir', root], io)).toBe(3);
    expect(err.join('')).toMatch(/EADDRINUSE/);
    await busy.stop();
    // The refused server closed its store: another opens it at once.
    const again = await testServer({ dir: root });
    await again.server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe('the dbos-kv serve process', () => {
  it('serves, exits 0 on SIGTERM, and keeps every acknowledged write', async () => {
    const root = scratchDir();
    const dir = path.join(root, 'data');
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', tsx, bin, 'serve', '--port', String(port), '--dir', dir, '--appendfsync', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      for (let attempt = 0; !stdout.includes('serving on'); attempt++) {
        if (attempt > 200) throw new Error(`no start line: ${stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(stdout).toMatch(new RegExp(`^dbos-kv: serving on 127\\.0\\.0\\.1:${port}, dir ${dir} \\(`));
      const client = await RawClient.connect(port);
      const count = 500;
      client.send(Buffer.concat(Array.from({ length: count }, (_, i) => request('SET', `key${i}`, `value${i}`))));
      for (let i = 0; i < count; i++) expect(await client.reply()).toBe('OK');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stdout).toMatch(/dbos-kv: closed\n$/);
      const reopened = await testServer({ dir });
      for (let i = 0; i < count; i++) expect(reopened.server.keyspace.get(Buffer.from(`key${i}`))?.value.toString()).toBe(`value${i}`);
      await reopened.server.close();
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
