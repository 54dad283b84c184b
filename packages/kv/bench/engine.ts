// Builds and runs bench/engine.c: the kv C core and its closure (native-build's host sources, the
// same files the addon compiles) plus the benchmark's main, -O2, as bufferpool's bench does.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const nativeBuild = require('@dbos/native-build') as {
  sources(dir: string, runtime: string): string[];
  includeDirs(dir: string): string[];
};

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const MiB = 2 ** 20;

export interface EngineRun {
  inMemory: boolean;
  /** Keys per dbos_kv_prefetch (1: each lookup on its own). */
  batch: number;
  entries: number;
  threads: number;
  cacheBytes: number;
  lookupsPerSecond: number;
  loadOpsPerSecond: number;
  cacheHits: number;
  cacheMisses: number;
  treeHeight: number;
  mechanism: string;
}

export type EngineOutcome = { runs: EngineRun[]; seconds: number } | { missing: string };

function build(): string {
  const exe = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-bench-')), 'kvbench');
  const args = ['-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Wno-unused-parameter', '-pthread']
    .concat(nativeBuild.includeDirs(packageDir).map((dir) => `-I${dir}`))
    .concat(nativeBuild.sources(packageDir, 'host'), [path.join(packageDir, 'bench', 'engine.c')], ['-o', exe, '-lpthread', '-lm']);
  const result = spawnSync(process.env.CC || 'cc', args, { encoding: 'utf8' });
  if (result.status !== 0) {
    fs.rmSync(path.dirname(exe), { recursive: true, force: true });
    const firstError = result.stderr.split('\n').find((line) => /error/.test(line)) ?? result.stderr.trim().split('\n').pop();
    throw new Error(`compiling bench/engine.c with the kv C core failed: ${firstError}`);
  }
  return exe;
}

function run(exe: string, args: string[], log: (line: string) => void): Promise<EngineRun[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`kvbench failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-1000)}`));
      const runs: EngineRun[] = [];
      for (const text of stdout.split('\n')) {
        if (!text.startsWith('{')) continue;
        const line = JSON.parse(text) as Record<string, number | string>;
        if (Number(line.wrong)) return reject(new Error(`kvbench ${line.phase}: ${line.wrong} lookups returned a wrong value`));
        const entry: EngineRun = {
          inMemory: line.phase === 'in-memory',
          batch: Number(line.batch ?? 1),
          entries: Number(line.entries),
          threads: Number(line.threads),
          cacheBytes: Number(line.cacheBytes),
          lookupsPerSecond: Number(line.lookupsPerSecond),
          loadOpsPerSecond: Number(line.loadOpsPerSecond),
          cacheHits: Number(line.cacheHits),
          cacheMisses: Number(line.cacheMisses),
          treeHeight: Number(line.treeHeight),
          mechanism: String(line.mechanism ?? ''),
        };
        log(
          `  engine ${line.phase}${entry.batch > 1 ? ` batches of ${entry.batch}` : ''}: ${(entry.lookupsPerSecond / 1e6).toFixed(2)} M lookups/s, ${entry.threads} threads, ${entry.entries} entries, hits ${entry.cacheHits} misses ${entry.cacheMisses}`,
        );
        runs.push(entry);
      }
      resolve(runs);
    });
  });
}

/**
 * Quick: 1 M entries, full: 10 M; in memory, then the same store reopened with a buffer pool of
 * 1/8 of its pages' worth (out of memory), one lookup at a time and in prefetched batches. 2
 * threads: the machine has 2 cores.
 */
export async function runEngineBench(profile: 'quick' | 'full', base: string, log: (line: string) => void): Promise<EngineOutcome> {
  const full = profile === 'full';
  const entries = Number(process.env.DBOS_KV_BENCH_ENGINE_ENTRIES) || (full ? 10_000_000 : 1_000_000);
  const seconds = full ? 8 : 3;
  // ~128 B of key + value per entry, leaves ~70 % full after random inserts: ~200 B a key in pages.
  const pageBytes = entries * 200;
  const cacheBytes = Math.max(64 * MiB, Math.ceil((pageBytes * 2) / MiB) * MiB);
  const smallCacheBytes = Math.max(16 * MiB, Math.floor(pageBytes / 8 / MiB) * MiB);
  let exe: string;
  try {
    exe = build();
  } catch (error) {
    log(`engine: ${(error as Error).message}`);
    return { missing: (error as Error).message };
  }
  const dir = fs.mkdtempSync(path.join(base, 'engine-'));
  try {
    log(`engine: ${entries} entries, cache ${cacheBytes / MiB} MiB${smallCacheBytes ? `, then ${smallCacheBytes / MiB} MiB` : ''}`);
    const args = [path.join(dir, 'store'), String(entries), '2', String(seconds), String(cacheBytes)];
    if (smallCacheBytes) args.push(String(smallCacheBytes));
    const runs = await run(exe, args, log);
    if (!runs.some((r) => r.inMemory)) return { missing: 'kvbench printed no in-memory result' };
    return { runs, seconds };
  } catch (error) {
    log(`engine: ${(error as Error).message}`);
    return { missing: (error as Error).message };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.dirname(exe), { recursive: true, force: true });
  }
}
