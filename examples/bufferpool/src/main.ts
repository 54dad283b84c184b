// pnpm start [-- [directory] [--keys N]]: run the example and print what it did (src/example.ts).
// Without a directory the page file goes to a temporary one, removed afterwards.
import { runExample } from './example.js';

const args = process.argv.slice(2).filter((arg) => arg !== '--'); // `pnpm start -- ...` passes the `--` on
const keysAt = args.indexOf('--keys');
const keys = keysAt >= 0 ? Number(args.splice(keysAt, 2)[1]) : undefined;
if (keys !== undefined && !(Number.isSafeInteger(keys) && keys > 0)) throw new RangeError('--keys takes a positive integer');
const result = await runExample({ dir: args[0], keys, log: (line) => console.log(line) });
const ok =
  result.range.matches &&
  result.scan.matches &&
  result.lookups.found === result.inserted &&
  result.lookups.wrong === 0 &&
  result.lookups.absentFound === 0 &&
  result.batched.found === result.inserted &&
  result.batched.wrong === 0;
console.log(ok ? 'bufferpool example finished' : 'bufferpool example FAILED: see the lines above');
process.exitCode = ok ? 0 : 1;
