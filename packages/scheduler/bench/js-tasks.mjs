// The JavaScript tasks of the benchmark, loaded by the workers of both pools (TaskPool and
// piscina). Both take one object argument (TaskPool spreads `args: [work]`, piscina passes `work`).
// Outside a TaskPool worker shouldYield() is always false, so in piscina a scan is the same loop
// without the yields: exactly the FIFO pool a user has today.
import { shouldYield, yieldNow } from '../dist/task.js';

let sink = 0;

/** A dependent integer chain the JIT cannot fold away (the same loop the main thread calibrates). */
export function spin(iterations) {
  let x = sink | 1;
  for (let i = 0; i < iterations; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    x ^= x >>> 13;
  }
  sink = x;
  return x;
}

/** A short task: `units` units of busy work, no yield point. */
export function short(work) {
  spin(work.iterationsPerUnit * work.units);
  return work.units;
}

/**
 * A scan: `units` units with a yield point after each; stops early once the run sets its stop word.
 * Its progress goes to its own word of `progress` (16 words apart: one cache line per scan).
 */
export async function scan(work) {
  const stop = new Int32Array(work.stop);
  const progress = new Int32Array(work.progress);
  const word = work.slot * 16;
  let unit = 0;
  while (unit < work.units) {
    spin(work.iterationsPerUnit);
    unit++;
    Atomics.store(progress, word, unit);
    if (Atomics.load(stop, 0) !== 0) break;
    if (shouldYield()) await yieldNow();
  }
  return unit;
}
