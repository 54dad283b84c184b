// Running a system under a memory budget, for "larger than memory" benchmarks: each system runs in
// its own memory cgroup, limited to the same number of bytes. Page cache counts against a cgroup,
// so an mmap- or page-cache-based peer cannot use the machine's free memory as a hidden cache.
//
//   const group = createMemoryCgroup('lmdb', 1 << 30);
//   if ('none' in group) note(`no budget: ${group.none}`);
//   else { const child = group.spawn(exe, args); …; group.peakBytes(); group.remove(); }
//
// cgroup v2 (memory.max, and memory.swap.max = 0 so the budget cannot be swapped out of) and v1
// (memory.limit_in_bytes) are both handled. Where neither can be written (no root, no controller),
// the caller gets the reason and must report that the system ran without a budget.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const V1_ROOT = '/sys/fs/cgroup/memory';
const V2_ROOT = '/sys/fs/cgroup';

export interface MemoryCgroup {
  readonly dir: string;
  readonly version: 1 | 2;
  readonly limitBytes: number;
  /** Start `command` inside the group (it joins before exec, so nothing it maps is charged elsewhere). */
  spawn(command: string, args: readonly string[], options?: { env?: NodeJS.ProcessEnv; cwd?: string }): ChildProcessWithoutNullStreams;
  /** The most memory the group held (v2 memory.peak, v1 memory.max_usage_in_bytes); null where unreadable. */
  peakBytes(): number | null;
  /** How often the group hit its limit (v2 memory.events max, v1 memory.failcnt); null where unreadable. */
  limitHits(): number | null;
  /** Remove the group (waits for its processes to be gone); idempotent. */
  remove(): void;
}

/** Which cgroup hierarchy can bound a child's memory here, or why none can. */
export function memoryCgroupSupport(): { version: 1 | 2; root: string } | { none: string } {
  try {
    if (fs.existsSync(path.join(V1_ROOT, 'memory.limit_in_bytes'))) {
      fs.accessSync(V1_ROOT, fs.constants.W_OK);
      return { version: 1, root: V1_ROOT };
    }
    const controllers = path.join(V2_ROOT, 'cgroup.controllers');
    if (fs.existsSync(controllers) && fs.readFileSync(controllers, 'utf8').split(/\s+/).includes('memory')) {
      const subtree = fs.readFileSync(path.join(V2_ROOT, 'cgroup.subtree_control'), 'utf8');
      if (!subtree.split(/\s+/).includes('memory')) fs.writeFileSync(path.join(V2_ROOT, 'cgroup.subtree_control'), '+memory');
      return { version: 2, root: V2_ROOT };
    }
    return { none: 'no memory cgroup controller (v1 or v2) is mounted' };
  } catch (error) {
    return { none: `the memory cgroup is not writable (${(error as Error).message})` };
  }
}

// Groups this process made and has not removed yet: removed at exit, even on Ctrl-C.
const live = new Set<string>();
let cleanupInstalled = false;

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    for (const dir of [...live]) removeDir(dir);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      for (const dir of [...live]) removeDir(dir);
      process.exit(130);
    });
}

function removeDir(dir: string): void {
  // v1 keeps charging page cache to a dead group; empty it so the directory can go.
  try {
    fs.writeFileSync(path.join(dir, 'memory.force_empty'), '0');
  } catch {}
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      fs.rmdirSync(dir);
      live.delete(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        live.delete(dir);
        return;
      }
      spawnSync('sleep', ['0.1']); // its last process is still exiting
    }
  }
  console.error(`could not remove cgroup ${dir}`);
}

/**
 * A memory cgroup named after `name`, limited to `limitBytes`; `{ none: why }` where this machine
 * cannot make one. A group left by a killed run of the same process id is replaced.
 */
export function createMemoryCgroup(name: string, limitBytes: number): MemoryCgroup | { none: string } {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`createMemoryCgroup: bad name '${name}'`);
  const support = memoryCgroupSupport();
  if ('none' in support) return support;
  installCleanup();
  const dir = path.join(support.root, `dbos-bench-${name}-${process.pid}`);
  const { version } = support;
  try {
    if (fs.existsSync(dir)) removeDir(dir);
    fs.mkdirSync(dir);
    live.add(dir);
    if (version === 1) {
      fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
    } else {
      fs.writeFileSync(path.join(dir, 'memory.max'), String(limitBytes));
      if (fs.existsSync(path.join(dir, 'memory.swap.max'))) fs.writeFileSync(path.join(dir, 'memory.swap.max'), '0');
    }
  } catch (error) {
    removeDir(dir);
    return { none: `creating ${dir} failed (${(error as Error).message})` };
  }
  const readNumber = (v1: string, v2: string): number | null => {
    try {
      const text = fs.readFileSync(path.join(dir, version === 1 ? v1 : v2), 'utf8');
      if (version === 2 && v2 === 'memory.events') return Number(/^max (\d+)/m.exec(text)?.[1] ?? 0);
      return Number(text.trim());
    } catch {
      return null;
    }
  };
  return {
    dir,
    version,
    limitBytes,
    // The shell writes its own pid into cgroup.procs, then execs the command: the command starts
    // inside the group, so even its first page is charged to it.
    spawn: (command, args, options) =>
      spawn('sh', ['-c', 'echo $$ > "$0" && exec "$@"', path.join(dir, 'cgroup.procs'), command, ...args], {
        env: options?.env,
        cwd: options?.cwd,
      }),
    peakBytes: () => readNumber('memory.max_usage_in_bytes', 'memory.peak'),
    limitHits: () => readNumber('memory.failcnt', 'memory.events'),
    remove: () => removeDir(dir),
  };
}

/**
 * Write back dirty pages and drop the page cache (`sync; echo 3 > /proc/sys/vm/drop_caches`), so
 * each system starts cold. False where that is not permitted (the caller says so in its notes).
 */
export function dropPageCache(): boolean {
  spawnSync('sync');
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}
