// The guest image every guest test boots: the dbos guest kernel linked with this package's test
// entry points (test/guest/*.c). Built once per change of its inputs by @dbos/native-build into
// .guest/test/ (gitignored); later imports only check that it is fresh. Kept apart from
// guest-helpers.ts so the C tests (test/c.test.ts) get the path without loading the addon.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGuestImage } from '@dbos/native-build';

export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** test/guest/*.c, relative to the package. */
export const TEST_ENTRIES = fs.readdirSync(path.join(packageDir, 'test', 'guest'))
  .filter((name) => name.endsWith('.c'))
  .sort()
  .map((name) => `test/guest/${name}`);

/** The .bin of the test image. `crash` provokes what PVM cannot run in ring 0, on purpose. */
export const testImagePath = buildGuestImage(packageDir, { name: 'test', entries: TEST_ENTRIES, allowPvmForbiddenIn: ['crash'] }).image;
