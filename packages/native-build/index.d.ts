/** Package dirs of `packageDir` and every package whose C core it compiles in, dependencies first. */
export function nativeClosure(packageDir: string): string[];
/** Absolute C sources for a runtime: `'core'` (freestanding only), `'host'` (with the VMM where the package declares guestRuntime) or `'guest'`. */
export function sources(packageDir: string, runtime?: 'core' | 'host' | 'guest'): string[];
/** Absolute include dirs of the package and its native dependencies. */
export function includeDirs(packageDir: string): string[];
/** Space-separated sources (bindings + host C closure) relative to `packageDir`, for binding.gyp. */
export function gypSources(packageDir: string): string;
/** Space-separated include dirs relative to `packageDir`, node-addon-api's included, for binding.gyp. */
export function gypIncludes(packageDir: string): string;
/** The package's dbos.native manifest entries. */
export function readManifest(packageDir: string): {
  name: string;
  dependencies: string[];
  guestRuntime: boolean;
  guestKernel: string | null;
};
/** The directory of package `name` as resolved from `fromDir`. */
export function resolvePackageDir(name: string, fromDir: string): string;
/** Files in `dir` ending in `extension`, sorted, absolute ([] when `dir` does not exist). */
export function listFiles(dir: string, extension: string): string[];
/** One addon flag list ('defines' | 'cflags' | 'cflags_c' | 'cflags_cc'), space-separated, for binding.gyp. */
export function gypFlags(name: string): string;
/** Every compiler flag list of the project (addon, cTest, freestanding, guest, sanitize()). */
export const flags: {
  warnings: string[];
  addon: { defines: string[]; cflags: string[]; cflags_c: string[]; cflags_cc: string[] };
  cTest: string[];
  sanitize(list: string[]): string[];
  freestanding: string[];
  guest: string[];
};
/** Options of {@link buildGuestImage}. */
export interface GuestImageOptions {
  /** Names the output folder and files (default 'image'). */
  name?: string;
  /** Entry-point files (DBOS_GUEST_ENTRY), relative to the package. */
  entries?: string[];
  /** Output folder (default <package>/.guest/<name>). */
  outDir?: string;
  /** The package providing the guest kernel (default '@dbos/hypercall'). */
  kernelPackage?: string;
  /** Functions allowed to use instructions PVM cannot run in ring 0 (tests that provoke the failure). */
  allowPvmForbiddenIn?: string[];
  /** Rebuild even when nothing changed. */
  force?: boolean;
}
/** Build a package's guest image from its closure's cores + guest runtimes, the kernel and `entries`. */
export function buildGuestImage(
  packageDir: string,
  options?: GuestImageOptions,
): { image: string; elf: string; built: boolean; sources: string[] };
/** Directory holding `dbos_test.h`, the C unit-test macros. */
export const testHeaderDir: string;
