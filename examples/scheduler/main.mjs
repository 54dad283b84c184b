// node examples/scheduler/main.mjs [--quick]
//
// Two workers, both busy with background scans; latency lookups arrive every 5 ms. With scans
// that poll shouldYield() the lookups run within about a quantum; with scans that never yield
// they wait for a scan to end. Prints each run's lookup latencies and the pool's statistics.
import { probe } from '@dbos/platform';
import { TaskPool } from '@dbos/scheduler';

const WORKERS = 2;
const quick = process.argv.includes('--quick'); // a smaller run (the example's test)
const SCAN_ROWS = quick ? 5_000_000 : 10_000_000; // tens to hundreds of ms of work per scan
const LOOKUPS = quick ? 10 : 30;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(scanName) {
  const pool = new TaskPool({ module: new URL('./tasks.mjs', import.meta.url), size: WORKERS, quantumUs: 1000 });
  await Promise.all(Array.from({ length: WORKERS }, () => pool.run({ name: 'lookup', args: [0] }))); // start the workers
  const scans = Array.from({ length: WORKERS }, () => pool.run({ name: scanName, args: [SCAN_ROWS] }, { priority: 'background' }));
  await sleep(20); // the scans hold every worker now
  const latenciesMs = [];
  const lookups = [];
  for (let key = 0; key < LOOKUPS; key++) {
    const start = performance.now();
    lookups.push(
      pool.run({ name: 'lookup', args: [key] }, { priority: 'latency' }).then(() => latenciesMs.push(performance.now() - start)),
    );
    await sleep(5);
  }
  await Promise.all([...lookups, ...scans]);
  const stats = pool.stats();
  await pool.close();
  latenciesMs.sort((a, b) => a - b);
  const at = (q) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))].toFixed(2);
  console.log(`${scanName.padEnd(20)} lookups: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`);
  console.log(
    `${''.padEnd(20)} flags raised: ${stats.yieldsRequested} by the native timer, ${stats.urgentFlags} by the pool for urgent arrivals; yields taken: ${stats.yieldsTaken}`,
  );
  return latenciesMs;
}

console.log(`mechanism: ${probe().mechanisms.scheduler.host}\n`);
const yielding = await run('scan');
const blocking = await run('scanWithoutYielding');
const median = (list) => list[Math.floor(list.length / 2)];
console.log(`\nmedian lookup latency: ${median(yielding).toFixed(2)} ms with yield points, ${median(blocking).toFixed(2)} ms without`);
