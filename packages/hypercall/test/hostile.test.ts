// The hostile-call harness over @dbos/hypercall's public API: each case runs in a child process, so a
// crash, an abort or a hang fails the test that names the case, the seed and the last call.
import { expect, test } from 'vitest';
import { defineHostileSuite, hostileRuns } from '@dbos/hostile';

await defineHostileSuite({ test, expect }, new URL('./hostile/gateway.cases.ts', import.meta.url));
await defineHostileSuite({ test, expect }, new URL('./hostile/guest.cases.ts', import.meta.url));
await defineHostileSuite({ test, expect }, new URL('./hostile/lifecycle.cases.ts', import.meta.url));
// Each iteration starts a worker with its own TypeScript loader (about a second): fewer runs.
await defineHostileSuite({ test, expect }, new URL('./hostile/workers.cases.ts', import.meta.url), {
  runs: hostileRuns(8),
  timeoutMs: 120_000,
});
