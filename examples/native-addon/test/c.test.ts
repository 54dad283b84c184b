// The interner's C tests (test/c/*.c, linked with its closure: @dbos/platform, @dbos/alloc and
// csrc/) and the check that csrc/ is freestanding, through @dbos/native-build like every package.
import { fileURLToPath } from 'node:url';
import { defineCTests, defineFreestandingCheck } from '@dbos/native-build/ctest';
import { expect, test } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
defineFreestandingCheck(packageDir, { test, expect });
await defineCTests(packageDir, { test, expect });
