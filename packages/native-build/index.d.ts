/** Package dirs of `packageDir` and every package whose C core it compiles in, dependencies first. */
export function nativeClosure(packageDir: string): string[];
/** Absolute C sources for a runtime: `'core'` (freestanding only), `'host'` or `'guest'`. */
export function sources(packageDir: string, runtime?: 'core' | 'host' | 'guest'): string[];
/** Absolute include dirs of the package and its native dependencies. */
export function includeDirs(packageDir: string): string[];
/** Space-separated sources (bindings + host C closure) relative to `packageDir`, for binding.gyp. */
export function gypSources(packageDir: string): string;
/** Space-separated include dirs relative to `packageDir`, node-addon-api's included, for binding.gyp. */
export function gypIncludes(packageDir: string): string;
/** Directory holding `dbos_test.h`, the C unit-test macros. */
export const testHeaderDir: string;
