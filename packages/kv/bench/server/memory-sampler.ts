// Sampling a server's memory every 50 ms on a worker thread (so reading /proc never delays the
// load generator's event loop). Each sample is the proportional set size (Pss, from
// /proc/PID/smaps_rollup) of the process and of its child processes: Redis's BGSAVE fork child
// shares the parent's pages until either writes one, and summing Pss counts each page once, so the
// sum grows by exactly the pages copied on write. The process's own VmRSS is sampled alongside.
import { Worker } from 'node:worker_threads';

export interface MemorySample {
  /** process.hrtime in milliseconds (one monotonic clock for every thread). */
  atMs: number;
  /** Pss of the process and its children. */
  pssBytes: number;
  /** VmRSS of the process alone, and its anonymous and file-backed parts (RssAnon, RssFile). */
  rssBytes: number;
  rssAnonBytes: number;
  rssFileBytes: number;
  children: number;
}

// Plain JavaScript evaluated in the worker (no TypeScript loader there).
const WORKER_SOURCE = `
const fs = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { pid, intervalMs } = workerData;
const samples = [];
const kib = (text, name) => { const m = new RegExp('^' + name + ':\\\\s+(\\\\d+) kB', 'm').exec(text); return m ? Number(m[1]) * 1024 : 0; };
const read = (file) => { try { return fs.readFileSync(file, 'utf8'); } catch { return ''; } };
function childrenOf(p) {
  const out = [];
  let tasks = [];
  try { tasks = fs.readdirSync('/proc/' + p + '/task'); } catch { return out; }
  for (const t of tasks) for (const c of read('/proc/' + p + '/task/' + t + '/children').split(/\\s+/)) if (c) out.push(Number(c));
  return out;
}
function sample() {
  const children = childrenOf(pid);
  let pss = kib(read('/proc/' + pid + '/smaps_rollup'), 'Pss');
  for (const c of children) pss += kib(read('/proc/' + c + '/smaps_rollup'), 'Pss');
  const status = read('/proc/' + pid + '/status');
  samples.push({ atMs: Number(process.hrtime.bigint()) / 1e6, pssBytes: pss, rssBytes: kib(status, 'VmRSS'), rssAnonBytes: kib(status, 'RssAnon'), rssFileBytes: kib(status, 'RssFile'), children: children.length });
}
const timer = setInterval(sample, intervalMs);
sample();
parentPort.on('message', () => { clearInterval(timer); sample(); parentPort.postMessage(samples); });
`;

export class MemorySampler {
  readonly #worker: Worker;

  constructor(pid: number, intervalMs = 50) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { pid, intervalMs } });
  }

  /** Stop sampling and return every sample taken. */
  async stop(): Promise<MemorySample[]> {
    const samples = new Promise<MemorySample[]>((resolve, reject) => {
      this.#worker.once('message', resolve);
      this.#worker.once('error', reject);
    });
    this.#worker.postMessage('stop');
    const result = await samples;
    await this.#worker.terminate();
    return result;
  }
}
