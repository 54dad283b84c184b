// The guest image every guest test boots: the dbos guest kernel linked with this package's test
// entry points (test/guest/*.c). Built once per change of its inputs by @dbos/native-build into
// .guest/test/ (gitignored); later imports only check that it is fresh. Kept apart from
// guest-helpers.ts so the C tests (test/c.test.ts) get the path without loading the addon.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGuestImage } from '@dbos/native-build';

export const packageDir = fileURLToPath(new URL('..', import.meta.url));

const testDir = path.join(packageDir, 'test');
const filesIn = (dir: string, extension: string) =>
  fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(extension))
    .sort()
    .map((name) => path.join(dir, name));

/** test/guest/*.c, relative to the package. */
export const TEST_ENTRIES = filesIn(path.join(testDir, 'guest'), '.c').map((file) => path.relative(packageDir, file));

// Headers the entries include from the test tree (the gateway suite is shared with the host's C
// tests): buildGuestImage tracks the closure's headers, not these, so a newer one forces a build.
const entryHeaders = [...filesIn(path.join(testDir, 'guest'), '.h'), path.join(testDir, 'c', 'gateway_suite.h')];
const previous = path.join(packageDir, '.guest', 'test', 'test.bin');
const headersChanged =
  fs.existsSync(previous) && Math.max(...entryHeaders.map((file) => fs.statSync(file).mtimeMs)) > fs.statSync(previous).mtimeMs;

/** The .bin of the test image. `crash` provokes what PVM cannot run in ring 0, on purpose. */
export const testImagePath = buildGuestImage(packageDir, {
  name: 'test',
  entries: TEST_ENTRIES,
  allowPvmForbiddenIn: ['crash'],
  force: headersChanged,
}).image;
