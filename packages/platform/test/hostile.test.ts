// The hostile-call harness over @dbos/platform's public API: each case runs in a child process.
import { expect, test } from 'vitest';
import { defineHostileSuite } from '@dbos/hostile';

await defineHostileSuite({ test, expect }, new URL('./hostile/platform.cases.ts', import.meta.url));
