// What a child process printed, once it exits: benches start peers' tools (redis-benchmark) and
// their own readers (kv's out-of-memory reader) as child processes and read their output whole.
import type { ChildProcess } from 'node:child_process';

export interface ChildOutput {
  stdout: string;
  stderr: string;
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Resolves when `child` (started with piped stdout and stderr) has exited and its streams are
 * closed; rejects if it could not be started.
 */
export function childOutput(child: ChildProcess): Promise<ChildOutput> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ stdout, stderr, code, signal }));
  });
}
