// A real redis-server for the RDB tests: started on a Unix socket in a scratch directory (no port
// to collide with other tests), loading `dump.rdb` from that directory if one is there.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { waitForSocket } from '@dbos/benchmarks/adapters/redis-server';
import { Redis } from 'ioredis';

export interface RealRedis {
  readonly dir: string;
  readonly client: Redis;
  /** Stop the server (SIGTERM) and wait for its exit. */
  stop(): Promise<void>;
}

/** Start redis-server with its data directory `dir` (it loads `dir/dump.rdb` when present). */
export async function startRedis(dir: string, extraArgs: string[] = []): Promise<RealRedis> {
  const socketPath = path.join(dir, 'redis.sock');
  const child = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socketPath, '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', 'dump.rdb', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (data: Buffer) => {
    log += data.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = waitForSocket(socketPath, 10_000, child);
  const early = exited.then((code) => {
    throw new Error(`redis-server exited (${code}) before it was ready:\n${log}`);
  });
  await Promise.race([started, early]);
  early.catch(() => {});
  const client = new Redis({ path: socketPath, lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  return {
    dir,
    client,
    async stop() {
      client.disconnect();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** redis-check-rdb's verdict on `file`: its exit status and output. */
export function checkRdb(file: string): { ok: boolean; output: string } {
  const result = spawnSync('redis-check-rdb', [file], { encoding: 'utf8', timeout: 20_000 });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}
