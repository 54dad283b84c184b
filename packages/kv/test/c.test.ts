// The C core's unit tests (test/c/*.c) and the freestanding check, run through vitest.
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { defineCTests, defineFreestandingCheck } from '@dbos/native-build/ctest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
defineFreestandingCheck(packageDir, { test, expect });
await defineCTests(packageDir, { test, expect });
