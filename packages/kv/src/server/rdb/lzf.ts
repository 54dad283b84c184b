// LZF, the compression Redis applies to RDB strings longer than 20 bytes (rdbcompression yes).
//
// A compressed block is a sequence of instructions, each opened by a control byte c:
//   c < 32:  a literal run: the next c + 1 bytes are copied to the output as they are.
//   c >= 32: a back reference: length n = c >> 5 (n = 7 means "7 + the next byte"), distance
//            d = ((c & 31) << 8 | the byte after) + 1; copy n + 2 bytes starting d bytes back in
//            the output (the copy may overlap itself, which repeats a short pattern).
// So a reference reaches at most 8192 bytes back and copies 3 to 264 bytes.
import { DbosError } from '@dbos/platform';

const LITERAL_RUN_MAX = 32;
const DISTANCE_MAX = 8192;
const MATCH_MIN = 3;
const MATCH_MAX = 7 + 255 + 2;
const HASH_BITS = 14;

/**
 * Decompress `input` into exactly `plainLength` bytes. Every bound is checked: a block that
 * reads past its input, points before the output's start or does not fill the output exactly
 * throws DBOS_ECORRUPT (the caller adds where in the file it was).
 */
export function lzfDecompress(input: Uint8Array, plainLength: number): Buffer {
  const output = Buffer.allocUnsafe(plainLength);
  let inAt = 0;
  let outAt = 0;
  while (inAt < input.length) {
    const control = input[inAt++] as number;
    if (control < LITERAL_RUN_MAX) {
      const run = control + 1;
      if (inAt + run > input.length) throw corrupt('a literal run passes the end of the compressed data');
      if (outAt + run > plainLength) throw corrupt('a literal run passes the declared length');
      output.set(input.subarray(inAt, inAt + run), outAt);
      inAt += run;
      outAt += run;
      continue;
    }
    let length = control >> 5;
    if (length === 7) {
      if (inAt >= input.length) throw corrupt('a back reference is cut off');
      length += input[inAt++] as number;
    }
    if (inAt >= input.length) throw corrupt('a back reference is cut off');
    let from = outAt - (((control & 0x1f) << 8) | (input[inAt++] as number)) - 1;
    length += 2;
    if (from < 0) throw corrupt('a back reference points before the start of the data');
    if (outAt + length > plainLength) throw corrupt('a back reference passes the declared length');
    // Byte by byte on purpose: a reference may overlap the bytes it is producing.
    for (const end = outAt + length; outAt < end; ) output[outAt++] = output[from++] as number;
  }
  if (outAt !== plainLength) throw corrupt(`the data decompresses to ${outAt} bytes, not the declared ${plainLength}`);
  return output;
}

function corrupt(detail: string): DbosError {
  return new DbosError('DBOS_ECORRUPT', `LZF data is corrupt: ${detail}`);
}

/** Last position (+1, 0 = empty) of each 3-byte hash; stale entries from earlier inputs are harmless because every candidate is compared byte by byte. */
const recent = new Int32Array(1 << HASH_BITS);

/**
 * Compress `input`, or return null when the result would not be smaller than `limit` bytes
 * (Redis stores a string compressed only when that saves space).
 */
export function lzfCompress(input: Uint8Array, limit = input.length): Buffer | null {
  // Worst case: one control byte per 32 literals. Literals are copied as they come, behind a
  // control byte reserved at the start of each run and filled in when the run ends.
  const length = input.length;
  const output = Buffer.allocUnsafe(length + Math.ceil(length / LITERAL_RUN_MAX) + 1);
  const table = recent;
  let outAt = 1;
  let runAt = 0;
  let run = 0;
  let at = 0;
  while (at + MATCH_MIN <= length) {
    const word = ((input[at] as number) << 16) | ((input[at + 1] as number) << 8) | (input[at + 2] as number);
    const slot = (Math.imul(word, 0x9e3779b1) >>> (32 - HASH_BITS)) & ((1 << HASH_BITS) - 1);
    const candidate = (table[slot] as number) - 1;
    table[slot] = at + 1;
    const distance = at - candidate;
    if (candidate >= 0 && distance > 0 && distance <= DISTANCE_MAX && startsEqual(input, candidate, at)) {
      const lengthMax = Math.min(MATCH_MAX, length - at);
      let matched = MATCH_MIN;
      while (matched < lengthMax && input[candidate + matched] === input[at + matched]) matched++;
      // Close the literal run (or give back its unused control byte).
      if (run > 0) output[runAt] = run - 1;
      else outAt--;
      const lengthCode = matched - 2;
      const distanceCode = distance - 1;
      if (lengthCode < 7) {
        output[outAt++] = (lengthCode << 5) | (distanceCode >> 8);
      } else {
        output[outAt++] = (7 << 5) | (distanceCode >> 8);
        output[outAt++] = lengthCode - 7;
      }
      output[outAt++] = distanceCode & 0xff;
      at += matched;
      runAt = outAt++;
      run = 0;
    } else {
      output[outAt++] = input[at++] as number;
      if (++run === LITERAL_RUN_MAX) {
        output[runAt] = run - 1;
        runAt = outAt++;
        run = 0;
      }
    }
    if (outAt >= limit) return null;
  }
  while (at < length) {
    output[outAt++] = input[at++] as number;
    if (++run === LITERAL_RUN_MAX) {
      output[runAt] = run - 1;
      runAt = outAt++;
      run = 0;
    }
  }
  if (run > 0) output[runAt] = run - 1;
  else outAt--;
  return outAt < limit ? output.subarray(0, outAt) : null;
}

function startsEqual(input: Uint8Array, candidate: number, at: number): boolean {
  return input[candidate] === input[at] && input[candidate + 1] === input[at + 1] && input[candidate + 2] === input[at + 2];
}
