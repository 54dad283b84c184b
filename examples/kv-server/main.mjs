// redis-cli against dbos-kv serve. Starts the server (the dbos-kv CLI of @dbos/kv) on a free port
// with its own data directory, drives it with the stock redis-cli (Debian's redis-tools), takes a
// BGSAVE and has redis-check-rdb verify the dump, stops the server with SIGTERM, starts it again
// and reads the data back.
// `node main.mjs [directory]` (after `pnpm build` in packages/kv); prints the session.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const cli = path.join(path.dirname(require.resolve('@dbos/kv/package.json')), 'dist', 'cli.js');
const dir = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-server-example-'));

for (const tool of ['redis-cli', 'redis-check-rdb']) {
  if (spawnSync(tool, ['--version']).error) {
    console.error(`${tool} is not installed (Debian: apt-get install redis-tools)`);
    process.exit(2);
  }
}

/** A free TCP port on the loopback interface. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

/** Start `dbos-kv serve`; resolves once it prints its address, with a stop() that awaits its exit code. */
function startServer(port) {
  const child = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let output = '';
    let serving = false;
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const line = /^dbos-kv: serving on .*$/m.exec(output)?.[0];
      if (serving || !line) return;
      serving = true;
      console.log(line.replace(/ \(.*\)$/, '')); // the mechanism line is long; `dbos probe` has it
      const stop = () => {
        child.kill('SIGTERM');
        return exited;
      };
      resolve({ stop });
    });
    exited.then((code) => reject(new Error(`dbos-kv serve exited (${code}) before serving: ${output}`)));
  });
}

/** One redis-cli command, printed as a session would show it. */
function redis(port, ...args) {
  const run = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${run.stderr}`);
  const reply = run.stdout.trimEnd();
  console.log(`> ${args.join(' ')}\n${reply}`);
  return reply;
}

const port = await freePort();
const first = await startServer(port);
redis(port, 'PING');
redis(port, 'SET', 'greeting', 'hello from dbos');
redis(port, 'GET', 'greeting');
redis(port, 'INCRBY', 'visits', '41');
redis(port, 'INCR', 'visits');
redis(port, 'SET', 'session:42', 'alice', 'EX', '3600');
redis(port, 'TTL', 'session:42');
redis(port, 'MSET', 'city:1', 'Lisbon', 'city:2', 'Porto', 'city:3', 'Faro');
redis(port, '--scan', '--pattern', 'city:*');
redis(port, 'APPEND', 'greeting', '!');
redis(port, 'DBSIZE');
redis(port, 'GET', 'no-such-key');
redis(port, 'INCR', 'greeting');
redis(port, 'SELECT', '1');

// BGSAVE writes dump.rdb from a snapshot of the store (no fork) while clients go on; INFO
// persistence says when it is done, as it does in Redis.
redis(port, 'BGSAVE');
const persistence = () => spawnSync('redis-cli', ['-p', String(port), 'INFO', 'persistence'], { encoding: 'utf8' }).stdout;
for (let tries = 0; tries < 200 && /rdb_bgsave_in_progress:1/.test(persistence()); tries++) await new Promise((r) => setTimeout(r, 50));
console.log(`INFO persistence: ${/rdb_last_bgsave_status:\w+/.exec(persistence())?.[0]}`);
const check = spawnSync('redis-check-rdb', [path.join(dir, 'dump.rdb')], { encoding: 'utf8' });
const verdict = /RDB looks OK!/.test(check.stdout) ? 'RDB looks OK' : `REJECTED: ${check.stdout}${check.stderr}`;
console.log(`redis-check-rdb dump.rdb: ${verdict}`);

console.log(`SIGTERM: exit ${await first.stop()}`);
const second = await startServer(port);
redis(port, 'GET', 'greeting');
redis(port, 'GET', 'visits');
redis(port, 'DBSIZE');
console.log(`SIGTERM: exit ${await second.stop()}`);
if (process.argv[2] === undefined) fs.rmSync(dir, { recursive: true, force: true });
console.log('kv-server example finished');
