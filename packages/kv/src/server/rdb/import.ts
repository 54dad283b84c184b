// Loading an RDB file written by Redis into the keyspace (`dbos-kv serve --import dump.rdb`).
//
// Two passes: the first reads the whole file and checks everything (structure, checksum, value
// types, database numbers, key and value sizes) without writing; only a file that passes is
// loaded, by the second, in batches. So a damaged or unsupported file leaves the keyspace as it
// was. Keys already expired are skipped, as Redis skips them when it loads; existing keys with
// the same name are replaced.
import fs from 'node:fs';
import path from 'node:path';
import { DbosError } from '@dbos/platform';
import { open } from '../../store.js';
import { KEY_BYTES_MAX, Keyspace, VALUE_BYTES_MAX } from '../keyspace.js';
import { fileInput } from './input.js';
import { type RdbRecord, type RdbSummary, describeKey, readRdb } from './reader.js';

export interface ImportOptions {
  /** Keys per store batch. Default 1000. */
  readonly batchKeys?: number;
  /** Value bytes per store batch (a batch closes at whichever limit comes first). Default 4 MiB. */
  readonly batchBytes?: number;
}

export interface ImportResult {
  /** Keys written to the keyspace. */
  readonly loaded: number;
  /** Keys skipped because their expiry time had passed. */
  readonly expired: number;
  readonly version: number;
  readonly bytes: number;
}

const BATCH_KEYS_DEFAULT = 1000;
const BATCH_BYTES_DEFAULT = 4 << 20;

/** Every record of the file at `file`, and its summary once the reader returns. */
function* records(file: string): Generator<RdbRecord, RdbSummary> {
  const input = fileInput(file);
  try {
    return yield* readRdb(input, path.basename(file));
  } finally {
    input.close();
  }
}

/** Pass one: what the keyspace could not hold is refused before anything is written. */
function check(file: string): void {
  const name = path.basename(file);
  const reading = records(file);
  for (let step = reading.next(); step.done !== true; step = reading.next()) {
    const record = step.value;
    if (record.kind === 'database' && record.index !== 0) {
      throw new DbosError('DBOS_ENOTSUP', `${name} holds keys in database ${record.index}; the server has database 0 only`);
    }
    if (record.kind !== 'string') continue;
    if (record.key.length > KEY_BYTES_MAX) {
      throw new DbosError(
        'DBOS_ENOTSUP',
        `${name}: the key ${describeKey(record.key)} is ${record.key.length} bytes; the server's keys are at most ${KEY_BYTES_MAX}`,
      );
    }
    if (record.value.length > VALUE_BYTES_MAX) {
      throw new DbosError(
        'DBOS_ENOTSUP',
        `${name}: the value of ${describeKey(record.key)} is ${record.value.length} bytes; the server's values are at most ${VALUE_BYTES_MAX}`,
      );
    }
  }
}

/** Load the string keys of the RDB file `file` into `keyspace` (see the top of this file). */
export async function importRdb(file: string, keyspace: Keyspace, options: ImportOptions = {}): Promise<ImportResult> {
  const batchKeys = options.batchKeys ?? BATCH_KEYS_DEFAULT;
  const batchBytes = options.batchBytes ?? BATCH_BYTES_DEFAULT;
  check(file);
  const now = keyspace.now();
  let loaded = 0;
  let expired = 0;
  let change = keyspace.change();
  let pendingKeys = 0;
  let pendingBytes = 0;
  const reading = records(file);
  let step = reading.next();
  for (; step.done !== true; step = reading.next()) {
    const record = step.value;
    if (record.kind !== 'string') continue;
    if (record.expireAt !== null && record.expireAt <= now) {
      expired++;
      continue;
    }
    change.set(record.key, { type: 'string', value: record.value, expireAt: record.expireAt });
    loaded++;
    pendingKeys++;
    pendingBytes += record.key.length + record.value.length;
    if (pendingKeys >= batchKeys || pendingBytes >= batchBytes) {
      // One batch at a time: the file is read no faster than the store takes it.
      await change.commit();
      change = keyspace.change();
      pendingKeys = 0;
      pendingBytes = 0;
    }
  }
  await change.commit();
  return { loaded, expired, version: step.value.version, bytes: step.value.bytes };
}

/**
 * Import `file` into the store in `storeDir` (created when missing), opened and closed here, so a
 * server started on it afterwards begins with the data (`dbos-kv serve --import`). Batches are
 * written without a sync each; closing the store makes them all durable before this resolves.
 */
export async function importRdbIntoStore(storeDir: string, file: string, options: ImportOptions = {}): Promise<ImportResult> {
  fs.mkdirSync(storeDir, { recursive: true });
  const store = open(storeDir, { keyEncoding: 'binary', valueEncoding: 'binary' });
  const keyspace = new Keyspace(store, { now: Date.now, sync: () => false, activeExpiry: false });
  try {
    return await importRdb(file, keyspace, options);
  } finally {
    keyspace.stop();
    await store.close();
  }
}
