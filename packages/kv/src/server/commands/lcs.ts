// LCS: the longest common subsequence of two strings by the classic dynamic-programming table,
// walked back from the end to build the subsequence and its matching ranges. The walk takes the
// same branch as Redis's at every step (on a tie it moves in the second string), so when several
// subsequences are equally long, the same one and the same ranges come out.
import { array, bulk, error, integer, type Reply } from '../reply.js';

export interface LcsOptions {
  wantIndexes: boolean;
  wantLength: boolean;
  withMatchLength: boolean;
  minMatchLength: bigint;
}

/** Redis refuses a table bigger than proto-max-bulk-len (512 MiB by default), 4 bytes a cell. */
const TABLE_BYTES_MAX = 512 * 1024 * 1024;

export function lcs(a: Buffer, b: Buffer, options: LcsOptions): Reply {
  const rows = a.length + 1;
  const columns = b.length + 1;
  if (rows * columns * 4 > TABLE_BYTES_MAX) {
    return error('ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len');
  }
  // table[i * columns + j]: the LCS length of a[0..i) and b[0..j).
  const table = new Uint32Array(rows * columns);
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const at = i * columns + j;
      if (a[i - 1] === b[j - 1]) table[at] = (table[at - columns - 1] as number) + 1;
      else table[at] = Math.max(table[at - columns] as number, table[at - 1] as number);
    }
  }
  const length = table[rows * columns - 1] as number;
  if (options.wantLength) return integer(length);

  const result = Buffer.allocUnsafe(length);
  const matches: Reply[] = [];
  let left = length;
  // The range being grown backwards: none while aStart === a.length.
  let aStart = a.length;
  let aEnd = 0;
  let bStart = 0;
  let bEnd = 0;
  let i = a.length;
  let j = b.length;
  while (i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      result[left - 1] = a[i - 1] as number;
      if (aStart === a.length) {
        aStart = i - 1;
        aEnd = i - 1;
        bStart = j - 1;
        bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else {
        emit = true;
      }
      if (aStart === 0 || bStart === 0) emit = true;
      left--;
      i--;
      j--;
    } else {
      const up = table[(i - 1) * columns + j] as number;
      const back = table[i * columns + j - 1] as number;
      if (up > back) i--;
      else j--;
      if (aStart !== a.length) emit = true;
    }
    if (emit) {
      const matchLength = aEnd - aStart + 1;
      if (options.minMatchLength === 0n || BigInt(matchLength) >= options.minMatchLength) {
        const range: Reply[] = [array([integer(aStart), integer(aEnd)]), array([integer(bStart), integer(bEnd)])];
        if (options.withMatchLength) range.push(integer(matchLength));
        matches.push(array(range));
      }
      aStart = a.length;
    }
  }
  if (!options.wantIndexes) return bulk(result);
  return {
    type: 'map',
    entries: [
      [bulk('matches'), array(matches)],
      [bulk('len'), integer(length)],
    ],
  };
}
