// Loads a package's prebuilt (or locally built) Node-API addon with node-gyp-build.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;

/**
 * Load the addon of the package whose root is one level above `moduleUrl`'s
 * folder (src/ in development, dist/ when installed).  Honours
 * PREBUILDS_ONLY=1, which refuses a locally compiled build.
 */
export function loadAddon<T>(moduleUrl: string): T {
  if (typeof moduleUrl !== 'string' || !moduleUrl.startsWith('file:')) {
    throw Object.assign(new TypeError('loadAddon needs the file: URL of a module inside the package (import.meta.url)'), {
      code: 'DBOS_EINVAL',
    });
  }
  const packageRoot = fileURLToPath(new URL('..', moduleUrl));
  return nodeGypBuild(packageRoot) as T;
}
