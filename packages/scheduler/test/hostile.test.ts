// The hostile-call harness over @dbos/scheduler's public API: every case runs in its own child
// process, so a crash, an abort, a hang or an uncoded error fails the test that names it.
import { expect, test } from 'vitest';
import { defineHostileSuite, hostileRuns } from '@dbos/hostile';

await defineHostileSuite({ test, expect }, new URL('./hostile/calls.cases.ts', import.meta.url), { runs: hostileRuns(40) });
// Scenarios start pools, workers and threads: 8 iterations unless DBOS_HOSTILE_RUNS / _LONG ask for more.
await defineHostileSuite({ test, expect }, new URL('./hostile/lifecycle.cases.ts', import.meta.url), { runs: hostileRuns(8) });
