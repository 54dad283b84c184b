// redis-server 7 (as Debian ships it) as a benchmark peer, and the process handling any server that
// speaks RESP needs: start it fresh in its own temporary directory on a free port, wait until it
// answers, stop it and remove the directory. A package's own server starts through the same
// launchServer (packages/kv/bench/server/servers.ts does, for dbos-kv serve).
//
// Every TCP start checks that the process answering on the port is the one just started (INFO
// server's process_id), since other work on a shared machine runs Redis servers of its own. A
// server on a unix socket in its own temporary directory needs no such check: nothing else can be
// listening there.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RespClient, infoFields } from './resp-client.js';

export interface RunningServer {
  /** Shown in tables and notes ("redis-server, appendonly no"). */
  readonly label: string;
  /** Which system it is ("redis", or the package's own name for its server). */
  readonly system: string;
  readonly port: number;
  readonly pid: number;
  /** Its temporary directory (working directory of the server's files), removed by stop(). */
  readonly dir: string;
  stop(): Promise<void>;
}

/** The directory every server's temporary directory goes under (DBOS_BENCH_DIR, else the OS temp dir). */
export const benchBase = process.env.DBOS_BENCH_DIR ?? os.tmpdir();

/** redis-server's version string ("7.0.15"), or null where it is not installed. */
export function redisVersion(): string | null {
  const result = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) return null;
  return /v=(\S+)/.exec(result.stdout)?.[1] ?? null;
}

/** Why `tools` (default redis-server and redis-benchmark) cannot run here, or null when they can. */
export function missingRedisTools(tools: readonly string[] = ['redis-server', 'redis-benchmark']): string | null {
  for (const tool of tools)
    if (spawnSync(tool, ['--version']).status !== 0) return `${tool} is not installed (Debian redis-server / redis-tools)`;
  return null;
}

/** A port nothing listens on right now (the kernel's pick for port 0, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Wait until `port` answers INFO server from process `child` (its process_id). */
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

/** Whether `child` exited within `ms`. */
export function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export interface LaunchOptions {
  /** RunningServer.system; also names the temporary directory. */
  system: string;
  label: string;
  command: string;
  /** The command's arguments for the port it must listen on and its temporary directory. */
  args(port: number, dir: string): string[];
  /** Ask the server to exit (errors are ignored; a server still running 60 s later is killed). */
  shutdown(child: ChildProcess, port: number): Promise<void>;
  /** The child's working directory (default: this process's). */
  cwd?: string;
  /** Prefix of the temporary directory's name under benchBase (default `dbos-bench-<system>-`). */
  dirPrefix?: string;
}

/**
 * Start a RESP server fresh: a new temporary directory under benchBase, a free port, stdout and
 * stderr to server.log there; resolves once the port answers INFO from this very process.
 */
export async function launchServer(options: LaunchOptions): Promise<RunningServer> {
  const { system, label } = options;
  const dir = fs.mkdtempSync(path.join(benchBase, options.dirPrefix ?? `dbos-bench-${system}-`));
  const port = await freePort();
  const logFile = path.join(dir, 'server.log');
  const out = fs.openSync(logFile, 'w');
  const child = spawn(options.command, options.args(port, dir), { cwd: options.cwd, stdio: ['ignore', out, out] });
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
        await options.shutdown(child, port);
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

export interface RedisOptions {
  /** Prefix of the temporary directory's name (default `dbos-bench-redis-`). */
  dirPrefix?: string;
}

/** redis-server with no RDB save points and either no AOF or an AOF fsynced every second. */
export function startRedis(persistence: RedisPersistence, options: RedisOptions = {}): Promise<RunningServer> {
  const label = persistence === 'none' ? 'redis-server, appendonly no' : 'redis-server, appendonly yes, appendfsync everysec';
  return launchServer({
    system: 'redis',
    label,
    command: 'redis-server',
    dirPrefix: options.dirPrefix,
    args: (port, dir) => [
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
    async shutdown(_child, port) {
      const client = await RespClient.connect(port);
      client.send('SHUTDOWN', 'NOSAVE').catch(() => {}); // the connection closes instead of a reply
      await new Promise((resolve) => setTimeout(resolve, 100));
      client.close();
    },
  });
}

/** Wait until something accepts connections on the unix socket `socketPath` (checked every 20 ms). */
export async function waitForSocket(socketPath: string, timeoutMs = 10_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before it listened on ${socketPath}`);
    const ok = await new Promise<boolean>((resolve) => {
      const probe = net.connect(socketPath, () => {
        probe.destroy();
        resolve(true);
      });
      probe.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing listened on ${socketPath} within ${timeoutMs} ms`);
}

export interface SocketServer {
  readonly socketPath: string;
  readonly pid: number;
  /** SIGTERM, and wait for the exit (the directory is the caller's). */
  stop(): Promise<void>;
}

/**
 * redis-server on the unix socket `dir`/redis.sock only (no TCP port), files in `dir` (the
 * caller's, left in place), no RDB save points, no AOF: its defaults otherwise (rdbcompression yes,
 * rdbchecksum yes). `extraArgs` are appended to the command line.
 */
export async function startRedisOnSocket(dir: string, extraArgs: readonly string[] = []): Promise<SocketServer> {
  const socketPath = path.join(dir, 'redis.sock');
  const child = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socketPath, '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
    { stdio: 'ignore' },
  );
  const stop = async () => {
    child.kill('SIGTERM');
    if (!(await exited(child, 60_000))) {
      child.kill('SIGKILL');
      await exited(child, 5000);
    }
  };
  try {
    await waitForSocket(socketPath, 10_000, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { socketPath, pid: child.pid as number, stop };
}
