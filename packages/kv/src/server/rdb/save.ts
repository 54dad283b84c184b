// A save: the entries of one consistent view, encoded as an RDB image and written atomically.
// `saveRdbSync` blocks (SAVE); `saveRdb` streams through a file stream, yielding to the event
// loop between slices of work and waiting whenever the disk falls behind (BGSAVE), so clients
// are served while it runs and memory stays at a few chunks whatever the image's size.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DbosError } from '@dbos/platform';
import { type RdbAux, RdbEncoder, type RdbEncoderOptions, type RdbEntry } from './encoder.js';
import { writeFileAtomic, writeFileAtomicSync } from './file.js';
import { RDB_REDIS_VERSION } from './format.js';

/** What a save reads: counts for RESIZEDB (estimates are fine) and the entries of one consistent view. */
export interface RdbSource<Entries = Iterable<RdbEntry>> {
  readonly keyCount: number;
  readonly expiringCount: number;
  readonly entries: Entries;
}

export interface RdbSaveOptions extends RdbEncoderOptions {
  /** The save's time, for the ctime AUX field (ms since the epoch). */
  readonly nowMs: number;
  /** For the used-mem AUX field; default this process's resident set size. */
  readonly usedMemoryBytes?: number;
}

export interface RdbBackgroundSaveOptions extends RdbSaveOptions {
  /** Longest stretch of encoding between two turns of the event loop. Default 2 ms. */
  readonly sliceMs?: number;
  /** Stops the save (DBOS_ECANCELED); the temporary file is removed and dump.rdb left as it was. */
  readonly signal?: AbortSignal;
  /** Told the number of keys written so far, once per slice (INFO's current_save_keys_processed). */
  readonly onProgress?: (keys: number) => void;
}

export interface RdbSaveResult {
  readonly keys: number;
  readonly bytes: number;
}

const SLICE_MS_DEFAULT = 2;
/** Look at the clock once per this many entries: reading it costs more than encoding a small key. */
const ENTRIES_PER_CLOCK_CHECK = 64;

function auxFields(options: RdbSaveOptions): RdbAux {
  return [
    ['redis-ver', RDB_REDIS_VERSION],
    ['redis-bits', 64],
    ['ctime', Math.floor(options.nowMs / 1000)],
    ['used-mem', options.usedMemoryBytes ?? process.memoryUsage.rss()],
    // Redis 7 marks whether the image is the base of a multi-part AOF; ours never is.
    ['aof-base', 0],
  ];
}

/** Blocking save of `source` to `target` (written to a temporary file, fsync'd, renamed). */
export function saveRdbSync(target: string, source: RdbSource, options: RdbSaveOptions): RdbSaveResult {
  let keys = 0;
  let bytes = 0;
  writeFileAtomicSync(target, (write) => {
    const encoder = new RdbEncoder(write, options);
    encoder.header(auxFields(options));
    encoder.database(0, source.keyCount, source.expiringCount);
    for (const entry of source.entries) {
      encoder.entry(entry);
      keys++;
    }
    encoder.end();
    bytes = encoder.emittedBytes;
  });
  return { keys, bytes };
}

/**
 * Background save of `source` to `target`: never holds the event loop for much more than
 * `sliceMs` at a time (an async source also waits for its own reads between entries).
 */
export async function saveRdb(
  target: string,
  source: RdbSource<Iterable<RdbEntry> | AsyncIterable<RdbEntry>>,
  options: RdbBackgroundSaveOptions,
): Promise<RdbSaveResult> {
  const sliceMs = options.sliceMs ?? SLICE_MS_DEFAULT;
  const { signal, onProgress } = options;
  let keys = 0;
  let bytes = 0;
  const checkAborted = (): void => {
    if (signal?.aborted) throw new DbosError('DBOS_ECANCELED', 'the background save was stopped');
  };
  await writeFileAtomic(
    target,
    async (stream) => {
      const encoder = new RdbEncoder((chunk) => stream.write(chunk), options);
      encoder.header(auxFields(options));
      encoder.database(0, source.keyCount, source.expiringCount);
      let sliceStart = performance.now();
      // Between entries: wait for the disk when its queue is full, else give clients a turn once the slice is used up.
      const pause = async (): Promise<void> => {
        if (stream.full) await stream.drained();
        else if (performance.now() - sliceStart >= sliceMs) await nextTurn();
        else return;
        checkAborted();
        onProgress?.(keys);
        sliceStart = performance.now();
      };
      checkAborted();
      if (Symbol.asyncIterator in source.entries) {
        for await (const entry of source.entries) {
          encoder.entry(entry);
          keys++;
          if (stream.full || keys % ENTRIES_PER_CLOCK_CHECK === 0) await pause();
        }
      } else {
        for (const entry of source.entries) {
          encoder.entry(entry);
          keys++;
          if (stream.full || keys % ENTRIES_PER_CLOCK_CHECK === 0) await pause();
        }
      }
      encoder.end();
      onProgress?.(keys);
      bytes = encoder.emittedBytes;
    },
    signal,
  );
  return { keys, bytes };
}
