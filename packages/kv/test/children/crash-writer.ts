// Writes batches to the store in argv[2] for ever, each with a sync or a non-sync promise (by turn),
// and prints "ack <round> <sync>" once a batch's promise resolved: from then on the batch must
// survive this process being killed. Keys: r<round>-<i>, values: the round number.
import { open } from '../../src/index.js';

const dir = process.argv[2] as string;
const start = Number(process.argv[3] ?? 0);
const store = open(dir, { sync: false, cacheBytes: 8 << 20 });
console.log('ready');
for (let round = start; ; round++) {
  const sync = round % 2 === 0;
  const batch = Array.from({ length: 20 }, (_, i) => ({
    type: 'put' as const,
    key: `r${String(round).padStart(6, '0')}-${i}`,
    value: String(round),
  }));
  await store.batch(batch, { sync });
  process.stdout.write(`ack ${round} ${sync}\n`);
}
