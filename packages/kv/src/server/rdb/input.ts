// Where the reader's bytes come from: a file read through a window (an image need not fit in
// memory) or a buffer already in memory (tests, fuzzing). Both only answer positional reads.
import fs from 'node:fs';

export interface RdbInput {
  /** Total bytes; the reader checks every declared length against what is left. */
  readonly size: number;
  /** Copy up to `length` bytes at `position` into `target` at `offset`; returns how many were copied. */
  readAt(target: Buffer, offset: number, length: number, position: number): number;
  close(): void;
}

export function bufferInput(bytes: Uint8Array): RdbInput {
  const source = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    size: source.length,
    readAt(target, offset, length, position) {
      if (position >= source.length) return 0;
      return source.copy(target, offset, position, Math.min(source.length, position + length));
    },
    close() {},
  };
}

/** The file at `path`, opened for reading now; `close` releases it. */
export function fileInput(path: string): RdbInput {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    let open = true;
    return {
      size,
      readAt(target, offset, length, position) {
        let done = 0;
        // A regular file returns short reads only at its end; loop anyway so the contract holds.
        while (done < length) {
          const got = fs.readSync(fd, target, offset + done, length - done, position + done);
          if (got === 0) break;
          done += got;
        }
        return done;
      },
      close() {
        if (open) fs.closeSync(fd);
        open = false;
      },
    };
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}
