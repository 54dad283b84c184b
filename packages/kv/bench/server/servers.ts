// Starting and stopping the two systems the benchmark compares, each fresh in its own temporary
// directory on a free port: redis-server 7 as Debian ships it, and dbos-kv serve (the CLI, or the
// same startServer through serve-child.ts when the buffer pool must be sized to the data set).
// Every start checks that the process answering on the port is the one just started (INFO server's
// process_id), since other work on this machine runs Redis servers of its own.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RespClient, infoFields } from './resp-client.js';

export interface RunningServer {
  /** Shown in tables and notes ("redis-server 7.0.15, appendonly no"). */
  readonly label: string;
  readonly system: 'redis' | 'dbos';
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(PACKAGE_DIR, 'dist', 'cli.js');
const SERVE_CHILD = fileURLToPath(new URL('./serve-child.ts', import.meta.url));

/** The directory every server's temporary directory goes under (DBOS_BENCH_DIR, else the OS temp dir). */
export const benchBase = process.env.DBOS_BENCH_DIR ?? os.tmpdir();

/** redis-server's version string, or null where it is not installed. */
export function redisVersion(): string | null {
  const result = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) return null;
  return /v=(\S+)/.exec(result.stdout)?.[1] ?? null;
}

export function missingPrerequisite(): string | null {
  for (const tool of ['redis-server', 'redis-benchmark'])
    if (spawnSync(tool, ['--version']).status !== 0) return `${tool} is not installed (Debian redis-server / redis-tools)`;
  if (!fs.existsSync(CLI)) return `${CLI} is missing (run pnpm build first)`;
  return null;
}

/** A port nothing listens on right now (the kernel's pick for port 0, released at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Wait until `port` answers PING from process `pid` (INFO server's process_id). */
async function waitReady(child: ChildProcess, port: number, what: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before it listened: ${log()}`);
    try {
      const client = await RespClient.connect(port);
      try {
        const info = infoFields(await client.send('INFO', 'server'));
        const pid = Number(info.get('process_id'));
        if (pid !== child.pid) throw new Error(`port ${port} is answered by process ${pid}, not by ${what} (${child.pid})`);
        return;
      } finally {
        client.close();
      }
    } catch (error) {
      lastError = (error as Error).message;
      if (lastError.includes('is answered by')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${what} did not answer on port ${port} within 60 s (${lastError}): ${log()}`);
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function launch(
  system: 'redis' | 'dbos',
  label: string,
  command: string,
  args: (port: number, dir: string) => string[],
  shutdown: (child: ChildProcess, port: number) => Promise<void>,
): Promise<RunningServer> {
  const dir = fs.mkdtempSync(path.join(benchBase, `dbos-kv-server-bench-${system}-`));
  const port = await freePort();
  const logFile = path.join(dir, 'server.log');
  const out = fs.openSync(logFile, 'w');
  // The package directory: node resolves --import tsx from there.
  const child = spawn(command, args(port, dir), { cwd: PACKAGE_DIR, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const log = () => fs.readFileSync(logFile, 'utf8').slice(-2000);
  try {
    await waitReady(child, port, label, log);
  } catch (error) {
    child.kill('SIGKILL');
    await exited(child, 5000);
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    label,
    system,
    port,
    pid: child.pid as number,
    dir,
    stop: async () => {
      try {
        await shutdown(child, port);
      } catch {}
      if (!(await exited(child, 60_000))) {
        child.kill('SIGKILL');
        await exited(child, 5000);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type RedisPersistence = 'none' | 'aof-everysec';

/** redis-server with no RDB save points and either no AOF or an AOF fsynced every second. */
export function startRedis(persistence: RedisPersistence): Promise<RunningServer> {
  const label = persistence === 'none' ? 'redis-server, appendonly no' : 'redis-server, appendonly yes, appendfsync everysec';
  return launch(
    'redis',
    label,
    'redis-server',
    (port, dir) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      persistence === 'none' ? 'no' : 'yes',
      '--appendfsync',
      'everysec',
      '--daemonize',
      'no',
    ],
    async (_child, port) => {
      const client = await RespClient.connect(port);
      client.send('SHUTDOWN', 'NOSAVE').catch(() => {}); // the connection closes instead of a reply
      await new Promise((resolve) => setTimeout(resolve, 100));
      client.close();
    },
  );
}

export type Appendfsync = 'everysec' | 'no';

/**
 * dbos-kv serve with `appendfsync`. With `cacheBytes` it runs the same startServer through
 * serve-child.ts, whose only difference is the store's buffer-pool size (the CLI has no flag for
 * it); without, it is `node dist/cli.js serve`.
 */
export function startDbos(appendfsync: Appendfsync, cacheBytes?: number): Promise<RunningServer> {
  const label = `dbos-kv serve, appendfsync ${appendfsync}`;
  // Development: extra node flags for the server process, e.g. '--cpu-prof --cpu-prof-dir=/tmp/p'.
  const nodeArgs = (process.env.DBOS_KV_SERVER_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const args = (port: number, dir: string): string[] =>
    cacheBytes === undefined
      ? [...nodeArgs, CLI, 'serve', '--port', String(port), '--dir', dir, '--appendfsync', appendfsync]
      : [...nodeArgs, '--import', 'tsx', SERVE_CHILD, String(port), dir, appendfsync, String(cacheBytes)];
  return launch('dbos', label, process.execPath, args, async (child) => {
    child.kill('SIGTERM');
  });
}
