// Starting and stopping the two systems the benchmark compares, each fresh in its own temporary
// directory on a free port: redis-server 7 as Debian ships it (the shared adapter,
// @dbos/benchmarks/adapters/redis-server), and dbos-kv serve (the CLI, or the same startServer
// through serve-child.ts when the buffer pool must be sized to the data set), started through the
// adapter's launchServer, which checks that the process answering on the port is the one just
// started (INFO server's process_id), since other work on this machine runs Redis servers of its own.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type RedisPersistence,
  type RunningServer,
  launchServer,
  missingRedisTools,
  startRedis as startSharedRedis,
} from '@dbos/benchmarks/adapters/redis-server';

export { benchBase, redisVersion, type RunningServer } from '@dbos/benchmarks/adapters/redis-server';

const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(PACKAGE_DIR, 'dist', 'cli.js');
const SERVE_CHILD = fileURLToPath(new URL('./serve-child.ts', import.meta.url));

export function missingPrerequisite(): string | null {
  const tools = missingRedisTools();
  if (tools !== null) return tools;
  if (!fs.existsSync(CLI)) return `${CLI} is missing (run pnpm build first)`;
  return null;
}

/** redis-server with no RDB save points and either no AOF or an AOF fsynced every second. */
export function startRedis(persistence: RedisPersistence): Promise<RunningServer> {
  return startSharedRedis(persistence, { dirPrefix: 'dbos-kv-server-bench-redis-' });
}

export type Appendfsync = 'everysec' | 'no';

/**
 * dbos-kv serve with `appendfsync`. With `cacheBytes` it runs the same startServer through
 * serve-child.ts, whose only difference is the store's buffer-pool size (the CLI has no flag for
 * it); without, it is `node dist/cli.js serve`.
 */
export function startDbos(appendfsync: Appendfsync, cacheBytes?: number): Promise<RunningServer> {
  // Development: extra node flags for the server process, e.g. '--cpu-prof --cpu-prof-dir=/tmp/p'.
  const nodeArgs = (process.env.DBOS_KV_SERVER_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return launchServer({
    system: 'dbos',
    label: `dbos-kv serve, appendfsync ${appendfsync}`,
    command: process.execPath,
    args: (port, dir) =>
      cacheBytes === undefined
        ? [...nodeArgs, CLI, 'serve', '--port', String(port), '--dir', dir, '--appendfsync', appendfsync]
        : [...nodeArgs, '--import', 'tsx', SERVE_CHILD, String(port), dir, appendfsync, String(cacheBytes)],
    // The package directory: node resolves --import tsx from there.
    cwd: PACKAGE_DIR,
    dirPrefix: 'dbos-kv-server-bench-dbos-',
    async shutdown(child) {
      child.kill('SIGTERM');
    },
  });
}
