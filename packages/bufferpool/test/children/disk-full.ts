// Child of damage.test.ts, run under a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored): writes
// pages in rounds, flushing after each, until the file system refuses; prints what happened.
import { BufferPool } from '../../src/index.js';
import { fillPage } from '../helpers.js';

const [file] = process.argv.slice(2) as [string];
const pool = BufferPool.open(file, { create: true, poolBytes: 256 * 1024, buffered: true });
let flushedPages = 0;
let failure: { code: unknown; name: string; message: string; during: string } | null = null;
let during = 'allocate';
try {
  for (let round = 0; round < 1000 && failure === null; round++) {
    during = 'allocate';
    for (let i = 0; i < 16; i++) {
      const page = pool.allocate();
      fillPage(page.data, page.pid);
      page.release();
    }
    during = 'flush';
    await pool.flush();
    flushedPages = pool.pageCount - 1;
  }
} catch (error) {
  const e = error as Error & { code?: unknown };
  failure = { code: e.code, name: e.constructor.name, message: e.message, during };
}
let closeCode: unknown = null;
try {
  await pool.close();
} catch (error) {
  closeCode = (error as { code?: unknown }).code;
}
console.log(JSON.stringify({ flushedPages, failure, closeCode }));
