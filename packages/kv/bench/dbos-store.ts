// @dbos/kv through its TypeScript API, the way the peers are driven (their adapters are in
// @dbos/benchmarks/adapters/kv-stores; this one stays here, since @dbos/benchmarks must not depend
// on @dbos/kv): the package's source via tsx, as the other packages' benchmarks do, so a run
// measures the tree as it is.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Store, StoreKind } from '@dbos/benchmarks/adapters/kv-stores';

const require = createRequire(import.meta.url);
const packageJson = require('../package.json') as { version: string };

/** The slice of the @dbos/kv API this benchmark uses (the lmdb-style surface of src/index.ts). */
interface KvDatabase {
  get(key: Buffer): Buffer | undefined;
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  batch(ops: ({ type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer })[], options: { sync: boolean }): Promise<unknown>;
  range(options: { gte: Buffer; limit: number }): Iterable<{ key: Buffer; value: Buffer }>;
  stats(): { fileBytes?: number; entries?: number };
  checkpoint(): Promise<void>;
  backup(destDir: string): Promise<void>;
  /** One line: page file mode, log sync, checksum (a getter). */
  readonly mechanism?: string;
  close(): Promise<void>;
}
type KvOpen = (dir: string, options: Record<string, unknown>) => KvDatabase | Promise<KvDatabase>;

/** The store's mechanism line from the last instance opened (page file mode, log sync, checksum). */
export let dbosMechanism = '';

/** The adapter, or why @dbos/kv cannot be measured in this tree (then the run measures the peers only). */
export async function loadDbos(): Promise<StoreKind | { missing: string }> {
  const source = new URL('../src/index.ts', import.meta.url);
  if (!fs.existsSync(source)) return { missing: 'packages/kv/src/index.ts does not exist yet' };
  let open: KvOpen;
  try {
    const module = (await import('../src/index.js')) as unknown as { open?: KvOpen };
    if (typeof module.open !== 'function') return { missing: 'src/index.ts exports no open()' };
    open = module.open;
  } catch (error) {
    return { missing: `importing src/index.ts failed: ${(error as Error).message.split('\n')[0]}` };
  }
  return {
    name: `@dbos/kv ${packageJson.version}`,
    modes: ['durable', 'fast'],
    describe: (mode) =>
      `cacheBytes = the budget, binary values, batch(ops, { sync: ${mode === 'durable'} })` +
      (mode === 'durable' ? ' (resolves once the log is fdatasynced: group commit)' : ' (resolves once applied and queued for the log)'),
    async open(dir, options): Promise<Store> {
      const db = await open(dir, { cacheBytes: options.cacheBytes, valueEncoding: 'binary', keyEncoding: 'binary' });
      const sync = options.mode === 'durable';
      dbosMechanism = db.mechanism ?? '';
      return {
        async write(ops) {
          await db.batch(ops, { sync });
        },
        getSync: (key) => db.get(key),
        getMany: (keys) => db.getMany(keys),
        scanSync(start, limit) {
          let count = 0;
          for (const _entry of db.range({ gte: start, limit })) count++;
          return count;
        },
        async maintain(backupDir) {
          await db.checkpoint();
          await db.backup(backupDir);
        },
        close: () => db.close(),
      };
    },
  };
}
