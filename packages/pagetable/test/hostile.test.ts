// The hostile-call harness over @dbos/pagetable's public API: every case runs in its own child
// process, so a crash, an abort, a hang or an uncoded error fails the test that names it.
import { expect, test } from 'vitest';
import { defineHostileSuite, hostileRuns } from '@dbos/hostile';

await defineHostileSuite({ test, expect }, new URL('./hostile/calls.cases.ts', import.meta.url));
// Scenarios are heavier (threads, GC, large regions): 10 iterations unless DBOS_HOSTILE_RUNS / _LONG ask for more.
await defineHostileSuite({ test, expect }, new URL('./hostile/lifecycle.cases.ts', import.meta.url), { runs: hostileRuns(10) });
