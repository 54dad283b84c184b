// Loads a package's prebuilt (or locally built) Node-API addon with node-gyp-build.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DbosError } from './errors.js';

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;

/**
 * Load the addon of the package whose root is one level above `moduleUrl`'s
 * folder (src/ in development, dist/ when installed).  Honours
 * PREBUILDS_ONLY=1, which refuses a locally compiled build.  DBOS_ENOENT
 * (the loader's error as its cause) when no addon there loads.
 */
export function loadAddon<T>(moduleUrl: string): T {
  if (typeof moduleUrl !== 'string' || !moduleUrl.startsWith('file:')) {
    throw Object.assign(new TypeError('loadAddon needs the file: URL of a module inside the package (import.meta.url)'), {
      code: 'DBOS_EINVAL',
    });
  }
  const packageRoot = fileURLToPath(new URL('..', moduleUrl));
  try {
    return nodeGypBuild(packageRoot) as T;
  } catch (error) {
    // node-gyp-build's error has no code: give it one, and say what would fix it.
    throw new DbosError(
      'DBOS_ENOENT',
      `no native addon for ${packageRoot} that this Node (${process.version}, ${process.platform}-${process.arch}) can load: ` +
        `build it (pnpm build:native in the package)${process.env.PREBUILDS_ONLY ? ', or unset PREBUILDS_ONLY to allow a local build' : ''}`,
      { cause: error },
    );
  }
}
