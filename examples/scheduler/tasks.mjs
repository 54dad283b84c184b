// The work of the example: a long scan (with and without yield points) and a short lookup.
import { shouldYield, yieldNow } from '@dbos/scheduler/task';

function row(i) {
  return Math.sqrt(i) * Math.sin(i);
}

/** A scan that reaches a yield point every 1024 rows: a waiting lookup runs within about a quantum. */
export async function scan(rows) {
  let total = 0;
  for (let i = 0; i < rows; i++) {
    total += row(i);
    if ((i & 1023) === 0 && shouldYield()) await yieldNow();
  }
  return total;
}

/** The same scan without yield points: a lookup waits until it ends. */
export function scanWithoutYielding(rows) {
  let total = 0;
  for (let i = 0; i < rows; i++) total += row(i);
  return total;
}

/** A short request: a few microseconds of hashing. */
export function lookup(key) {
  let hash = key | 0;
  for (let i = 0; i < 2000; i++) hash = Math.imul(hash ^ i, 0x9e3779b1);
  return hash >>> 0;
}
