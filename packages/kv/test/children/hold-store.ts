// Opens the store in argv[2], prints "ready", keeps it open argv[3] milliseconds, closes it and exits.
import { open } from '../../src/index.js';

const store = open(process.argv[2] as string);
await store.put('held-by', String(process.pid));
console.log('ready');
await new Promise((resolve) => setTimeout(resolve, Number(process.argv[3] ?? 500)));
await store.close();
