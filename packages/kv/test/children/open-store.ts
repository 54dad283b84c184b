// Opens the store in argv[2] (options as JSON in argv[3]) and prints what happened as one JSON line:
// { ok: true, entries } or { ok: false, code, holderPid, message }.
import { open } from '../../src/index.js';

const [dir, options] = process.argv.slice(2);
try {
  const store = open(dir as string, JSON.parse(options ?? '{}'));
  const { entries } = store.stats();
  await store.close();
  console.log(JSON.stringify({ ok: true, entries }));
} catch (error) {
  const { code, holderPid, message } = error as { code?: string; holderPid?: number; message?: string };
  console.log(JSON.stringify({ ok: false, code, holderPid, message }));
}
