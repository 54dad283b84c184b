// The data file's block format: 4 KiB blocks, each stamped with its own number and sealed with a
// checksum, so a read that returns the wrong block, a torn block or stale bytes is caught.
//   bytes 0-3      block number (u32, little-endian)
//   bytes 4-4091   content derived from the block number
//   bytes 4092-4095 FNV-1a of bytes 0-4091
export const BLOCK_SIZE = 4096;
const SEAL_AT = BLOCK_SIZE - 4;

function fnv1a(bytes, end) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < end; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return hash >>> 0;
}

/** Fill `block` (a 4 KiB Uint8Array) as block `number`. */
export function writeBlock(block, number) {
  const view = new DataView(block.buffer, block.byteOffset, BLOCK_SIZE);
  view.setUint32(0, number, true);
  let state = (Math.imul(number, 0x9e3779b1) + 1) >>> 0;
  for (let offset = 4; offset < SEAL_AT; offset += 4) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    view.setUint32(offset, state, true);
  }
  view.setUint32(SEAL_AT, fnv1a(block, SEAL_AT), true);
}

/** True when `block` is block `number`, whole: its stamp and its checksum agree. */
export function isBlock(block, number) {
  const view = new DataView(block.buffer, block.byteOffset, BLOCK_SIZE);
  return view.getUint32(0, true) === number && view.getUint32(SEAL_AT, true) === fnv1a(block, SEAL_AT);
}
