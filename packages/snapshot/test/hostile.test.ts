// The hostile-call harness over @dbos/snapshot's public API (test/hostile/*.cases.ts): every case
// runs in a child process, so a crash, an abort, a hang or an uncoded error fails its test.
import { expect, test } from 'vitest';
import { defineHostileSuite, hostileRuns } from '@dbos/hostile';

await defineHostileSuite({ test, expect }, new URL('./hostile/api.cases.ts', import.meta.url));
await defineHostileSuite({ test, expect }, new URL('./hostile/image.cases.ts', import.meta.url));
await defineHostileSuite({ test, expect }, new URL('./hostile/engine.cases.ts', import.meta.url));
// Scenarios stream 4 MiB images per iteration, workers start a TypeScript loader each: fewer runs.
await defineHostileSuite({ test, expect }, new URL('./hostile/scenarios.cases.ts', import.meta.url), { runs: hostileRuns(10) });
await defineHostileSuite({ test, expect }, new URL('./hostile/threads.cases.ts', import.meta.url), {
  runs: hostileRuns(6),
  timeoutMs: 120_000,
});
