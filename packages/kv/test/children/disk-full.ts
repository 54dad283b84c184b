// Child of disk-full.test.ts, run under a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored): writes
// batches until the store refuses (a thrown write or a rejected durability promise), then prints
// what happened as one JSON line: the batches acknowledged, and the failure.
import { open } from '../../src/index.js';

const dir = process.argv[2] as string;
let acked = 0;
let failure: { code: unknown; name: string; how: string } | null = null;
const note = (error: unknown, how: string) => {
  failure ??= { code: (error as { code?: unknown }).code, name: (error as Error).constructor.name, how };
};
let store: ReturnType<typeof open> | undefined;
try {
  store = open(dir, { sync: false, buffered: true, cacheBytes: 4 << 20 });
  const value = 'x'.repeat(2048);
  for (let round = 0; round < 100_000 && failure === null; round++) {
    const batch = Array.from({ length: 16 }, (_, i) => ({ type: 'put' as const, key: `r${String(round).padStart(6, '0')}-${i}`, value }));
    try {
      await store.batch(batch, { sync: round % 8 === 0 });
      acked = round + 1;
    } catch (error) {
      note(error, 'write');
    }
  }
} catch (error) {
  note(error, 'open');
}
let closeCode: unknown = null;
try {
  await store?.close();
} catch (error) {
  closeCode = (error as { code?: unknown }).code;
}
console.log(JSON.stringify({ acked, failure, closeCode }));
