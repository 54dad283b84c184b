// A save: the entries of one consistent view, encoded as an RDB image and written atomically.
// `saveRdbSync` blocks (SAVE); `saveRdb` streams through a file stream, yielding to the event
// loop between slices of work and waiting whenever the disk falls behind (BGSAVE), so clients
// are served while it runs and memory stays at a few chunks whatever the image's size.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type RdbAux, RdbEncoder, type RdbEncoderOptions, type RdbEntry } from './encoder.js';
import { writeFileAtomic, writeFileAtomicSync } from './file.js';
import { RDB_REDIS_VERSION } from './format.js';

/** What a save reads: counts for RESIZEDB (estimates are fine) and the entries of one consistent view. */
export interface RdbSource {
  readonly keyCount: number;
  readonly expiringCount: number;
  readonly entries: Iterable<RdbEntry>;
}

export interface RdbSaveOptions extends RdbEncoderOptions {
  /** The save's time, for the ctime AUX field (ms since the epoch). */
  readonly nowMs: number;
  /** For the used-mem AUX field; default this process's resident set size. */
  readonly usedMemoryBytes?: number;
  /** Longest stretch of encoding between two turns of the event loop (async save only). Default 2 ms. */
  readonly sliceMs?: number;
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

/** Background save of `source` to `target`: never holds the event loop for more than about `sliceMs`. */
export async function saveRdb(target: string, source: RdbSource, options: RdbSaveOptions): Promise<RdbSaveResult> {
  const sliceMs = options.sliceMs ?? SLICE_MS_DEFAULT;
  let keys = 0;
  let bytes = 0;
  await writeFileAtomic(target, async (stream) => {
    const encoder = new RdbEncoder((chunk) => stream.write(chunk), options);
    encoder.header(auxFields(options));
    encoder.database(0, source.keyCount, source.expiringCount);
    let sliceStart = performance.now();
    for (const entry of source.entries) {
      encoder.entry(entry);
      keys++;
      if (stream.full) {
        await stream.drained();
        sliceStart = performance.now();
      } else if (keys % ENTRIES_PER_CLOCK_CHECK === 0 && performance.now() - sliceStart >= sliceMs) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
    encoder.end();
    bytes = encoder.emittedBytes;
  });
  return { keys, bytes };
}
