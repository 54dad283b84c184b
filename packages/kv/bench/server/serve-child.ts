// node --import tsx serve-child.ts PORT DIR APPENDFSYNC CACHE_BYTES: dbos-kv serve's startServer
// with the store's buffer pool sized by the benchmark (the CLI keeps the store's default, 256 MiB,
// too small to hold the snapshot experiment's data set in memory the way Redis does). Imports the
// server's source through tsx (so the bench typechecks before a build); closes gracefully on SIGTERM.
import { startServer } from '../../src/server/index.js';

const [portText, dir, appendfsync, cacheText] = process.argv.slice(2);
if (dir === undefined || (appendfsync !== 'everysec' && appendfsync !== 'no') || cacheText === undefined)
  throw new Error('usage: serve-child.ts PORT DIR everysec|no CACHE_BYTES');
const server = await startServer({ port: Number(portText), dir, appendfsync, cacheBytes: Number(cacheText) });
process.once('SIGTERM', () => void server.close());
process.stdout.write(`serving on ${server.port}, ${server.mechanism}\n`);
await server.closed;
