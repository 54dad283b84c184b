// Writing dump.rdb the way Redis does: into a temporary file in the same directory, fsync'd,
// then renamed over the old file, then the directory fsync'd, so a crash at any moment leaves
// either the old complete image or the new one, never a torn file under the real name.
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { DbosError } from '@dbos/platform';

/** Redis's default file name; the server writes it in its data directory. */
export const RDB_FILE_NAME = 'dump.rdb';

let temporaryCounter = 0;

/** A temporary name beside `target` that no other save of this process uses at the same time. */
function temporaryPath(target: string): string {
  temporaryCounter++;
  return path.join(path.dirname(target), `temp-${process.pid}-${temporaryCounter}.rdb`);
}

function syncDirectory(directory: string): void {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone, or never created: the error that brought us here is the one to report.
  }
}

/** Blocking: `produce` calls `write` for each chunk; the file is complete and renamed when this returns. */
export function writeFileAtomicSync(target: string, produce: (write: (chunk: Buffer) => void) => void): void {
  const temporary = temporaryPath(target);
  const fd = fs.openSync(temporary, 'w', 0o644);
  try {
    produce((chunk) => {
      for (let done = 0; done < chunk.length; ) done += fs.writeSync(fd, chunk, done, chunk.length - done);
    });
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    removeQuietly(temporary);
    throw error;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(temporary, target);
  } catch (error) {
    removeQuietly(temporary);
    throw error;
  }
  syncDirectory(path.dirname(target));
}

/** What the asynchronous producer writes through: `write` queues a chunk; `drained` resolves once the queue is below its mark. */
export interface ChunkStream {
  write(chunk: Buffer): void;
  /** True when the queue is full: the producer should `await drained()` before encoding more. */
  readonly full: boolean;
  drained(): Promise<void>;
}

/** Queue this many bytes in the file stream before the producer waits for the disk. */
const STREAM_HIGH_WATER_BYTES = 8 << 20;
/**
 * Sync the file every this many bytes, as Redis does with rdb-save-incremental-fsync. Otherwise
 * an image of gigabytes sits in the page cache as dirty data until the final fsync, the kernel
 * throttles every writer of the machine once dirty data passes its limits, and the store's own
 * log writes (which acknowledged writes wait for) stall behind the image for hundreds of ms.
 */
const INCREMENTAL_SYNC_BYTES = 32 << 20;
const EMPTY = Buffer.alloc(0);

/**
 * Non-blocking: `produce` writes chunks through a file stream with backpressure, awaiting
 * `drained()` when told the queue is full. Resolves once the file is complete, fsync'd and renamed;
 * once `signal` is aborted the file is never renamed into place.
 */
export async function writeFileAtomic(
  target: string,
  produce: (stream: ChunkStream) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const temporary = temporaryPath(target);
  // A plain descriptor, not a FileHandle: on Node 20 a FileHandle that fed a write stream never
  // settles a later sync(), so the stream gets the descriptor and we fsync it ourselves.
  const fd = await promisify(fs.open)(temporary, 'w', 0o644);
  const stream = fs.createWriteStream('', { fd, autoClose: false, highWaterMark: STREAM_HIGH_WATER_BYTES });
  let streamError: Error | null = null;
  stream.on('error', (error) => {
    streamError = error;
  });
  let full = false;
  let unsyncedBytes = 0;
  const chunks: ChunkStream = {
    write(chunk) {
      if (streamError !== null) throw streamError;
      unsyncedBytes += chunk.length;
      if (!stream.write(chunk) || unsyncedBytes >= INCREMENTAL_SYNC_BYTES) full = true;
    },
    get full() {
      return full;
    },
    async drained() {
      if (!full) return;
      if (unsyncedBytes >= INCREMENTAL_SYNC_BYTES) {
        // An empty write's callback runs once every chunk before it is written: then nothing is
        // in flight on the descriptor, and the sync covers all of it.
        await new Promise<void>((resolve, reject) => stream.write(EMPTY, (error) => (error ? reject(error) : resolve())));
        await promisify(fs.fdatasync)(fd);
        unsyncedBytes = 0;
      } else {
        // 'error' rejects the wait too, so a failing disk cannot leave the producer waiting forever.
        await once(stream, 'drain');
      }
      full = false;
    },
  };
  try {
    await produce(chunks);
    stream.end();
    await once(stream, 'finish');
    if (streamError !== null) throw streamError;
    await promisify(fs.fsync)(fd);
  } catch (error) {
    stream.destroy();
    // destroy() may still have a write in flight on the descriptor: wait until the stream says it
    // is done. It then closes the descriptor itself, whatever autoClose says, and clears
    // stream.fd. Closing the number again could close a file another save has since been given
    // the same number for (a SAVE right after SHUTDOWN stopped this one failed with EBADF so).
    if (!stream.closed) await once(stream, 'close').catch(() => undefined);
    if ((stream as unknown as { fd: number | null }).fd !== null) await promisify(fs.close)(fd).catch(() => undefined);
    removeQuietly(temporary);
    throw error;
  }
  await promisify(fs.close)(fd);
  try {
    // Checked in the same turn as the rename: a save stopped meanwhile (SHUTDOWN saving a newer
    // image) must not put its older image in place afterwards.
    if (signal?.aborted) throw new DbosError('DBOS_ECANCELED', 'the background save was stopped');
    fs.renameSync(temporary, target);
  } catch (error) {
    removeQuietly(temporary);
    throw error;
  }
  syncDirectory(path.dirname(target));
}
