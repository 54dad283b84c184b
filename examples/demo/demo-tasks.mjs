// Task functions for the demo's @dbos/scheduler step: they run on the TaskPool's worker threads.
import { shouldYield, yieldNow } from '@dbos/scheduler/task';

/** A background scan of about `ms` of CPU that offers to yield every 1024 rows. */
export async function scan(ms) {
  const end = performance.now() + ms;
  let rows = 0;
  while (performance.now() < end) {
    rows++;
    if ((rows & 1023) === 0 && shouldYield()) await yieldNow();
  }
  return rows;
}

/** A short request. */
export function lookup(key) {
  return key * 2;
}
