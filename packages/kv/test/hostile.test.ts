// The hostile-call harness over @dbos/kv's public API: every case runs in its own child process,
// so a crash, an abort, a hang or an uncoded error fails the test that names it.
import { defineHostileSuite, hostileRuns } from '@dbos/hostile';
import { expect, test } from 'vitest';

await defineHostileSuite({ test, expect }, new URL('./hostile/calls.cases.ts', import.meta.url), { runs: hostileRuns(25) });
// Scenarios open stores, close them mid-call and collect garbage: 4 iterations unless DBOS_HOSTILE_RUNS asks for more.
await defineHostileSuite({ test, expect }, new URL('./hostile/lifecycle.cases.ts', import.meta.url), { runs: hostileRuns(4) });
// The Redis-protocol server's API: options, config files, close() under load.
await defineHostileSuite({ test, expect }, new URL('./hostile/server.cases.ts', import.meta.url), { runs: hostileRuns(5) });
