// Running redis-benchmark (Debian redis-tools) against a server and reading its --csv output:
// one row per test ("SET", "GET") with requests per second and its latency percentiles.
import { spawn } from 'node:child_process';
import { childOutput } from '../child.js';

export interface BenchmarkRow {
  test: string;
  requestsPerSecond: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
}

export interface BenchmarkRun {
  /** The command line, as a reader would type it (host and port included). */
  command: string;
  rows: BenchmarkRow[];
}

/** Parse redis-benchmark --csv: a header line, then `"SET","rps","avg",…` rows. */
export function parseCsv(text: string): BenchmarkRow[] {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.startsWith('"'));
  const header = (lines[0] ?? '').split(',').map((cell) => cell.replaceAll('"', ''));
  const column = (name: string) => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`redis-benchmark --csv has no "${name}" column (header: ${lines[0] ?? 'none'})`);
    return index;
  };
  const rps = column('rps');
  const p50 = column('p50_latency_ms');
  const p99 = column('p99_latency_ms');
  const max = column('max_latency_ms');
  return lines.slice(1).map((line) => {
    const cells = line.split(',').map((cell) => cell.replaceAll('"', ''));
    return {
      test: cells[0] as string,
      requestsPerSecond: Number(cells[rps]),
      p50ms: Number(cells[p50]),
      p99ms: Number(cells[p99]),
      maxms: Number(cells[max]),
    };
  });
}

/** `redis-benchmark -t set,get -d 100 -c 50 -n <requests> -P <pipeline> --csv` against `port`. */
export async function runRedisBenchmark(port: number, requests: number, pipeline: number): Promise<BenchmarkRun> {
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    'set,get',
    '-d',
    '100',
    '-c',
    '50',
    '-n',
    String(requests),
    '-P',
    String(pipeline),
    '--csv',
  ];
  const command = `redis-benchmark ${args.join(' ')}`;
  const { stdout, stderr, code } = await childOutput(spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  if (code !== 0) throw new Error(`${command} exited with ${code}: ${stderr.slice(-500)}`);
  try {
    const rows = parseCsv(stdout);
    for (const test of ['SET', 'GET'])
      if (!rows.some((row) => row.test === test && row.requestsPerSecond > 0))
        throw new Error(`no ${test} row in its output: ${stdout.slice(-500)}`);
    return { command, rows };
  } catch (error) {
    throw new Error(`${command}: ${(error as Error).message}`);
  }
}
