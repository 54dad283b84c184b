// The hostile-call harness over @dbos/hypercall's public API: each case runs in a child process, so a
// crash, an abort or a hang fails the test that names the case, the seed and the last call.
import { expect, test } from 'vitest';
import { defineHostileSuite } from '@dbos/hostile';

await defineHostileSuite({ test, expect }, new URL('./hostile/gateway.cases.ts', import.meta.url));
await defineHostileSuite({ test, expect }, new URL('./hostile/guest.cases.ts', import.meta.url));
await defineHostileSuite({ test, expect }, new URL('./hostile/lifecycle.cases.ts', import.meta.url));
