// The C core's unit tests (test/c/*.c) and the freestanding check, run through vitest. The
// programs that boot a guest (test_vmm.c, test_gateway_guest.c) read the test image's path from
// DBOS_TEST_GUEST_IMAGE, set here before they run.
import { expect, test } from 'vitest';
import { defineCTests, defineFreestandingCheck } from '@dbos/native-build/ctest';
import { packageDir, testImagePath } from './guest-image.js';

process.env.DBOS_TEST_GUEST_IMAGE = testImagePath;
defineFreestandingCheck(packageDir, { test, expect });
await defineCTests(packageDir, { test, expect });
