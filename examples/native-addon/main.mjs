// The interner in use: the column of a log table stored as small ids instead of repeated strings.
// 200 000 rows name one of a few thousand hosts; each row keeps a 4-byte id, the interner keeps
// each distinct host name once, in a pool whose limit bounds that memory.
// `node main.mjs` (after `pnpm build:native` here); prints what it did.
import { Interner } from './index.js';

const ROWS = 200_000;
const interner = new Interner({ limitBytes: 8 << 20 });
const column = new Uint32Array(ROWS);

let seed = 7;
const random = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
for (let row = 0; row < ROWS; row++) {
  // A skewed choice: a few hosts are busy, most are rare.
  const host = Math.floor(5000 * random() ** 3);
  column[row] = interner.intern(`host-${host}.eu-west.example.net`);
}

const counts = new Map();
for (const id of column) counts.set(id, (counts.get(id) ?? 0) + 1);
const [busiest, rows] = [...counts].sort((a, b) => b[1] - a[1])[0];
const stats = interner.stats();
console.log(`${ROWS} rows, ${interner.size} distinct hosts`);
console.log(`busiest: ${interner.string(busiest)} (${rows} rows)`);
console.log(`interner: ${stats.bytesInUse} bytes in a pool limited to ${stats.limitBytes}; the column: ${column.byteLength} bytes`);
console.log(
  `lookup: ${interner.find('host-0.eu-west.example.net') === undefined ? 'absent' : 'found'} host-0, ${interner.find('host-99999.example') === undefined ? 'absent' : 'found'} host-99999`,
);
interner.close();
console.log('native-addon example finished');
