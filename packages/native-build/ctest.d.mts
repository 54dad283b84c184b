export interface CTestRun {
  cases: { name: string; ok: boolean; skipped: string | null }[];
  status: number | null;
  signal: string | null;
  error: string | null;
  output: string;
}
interface VitestLike {
  test: ((name: string, fn: () => void) => void) & { skip: (name: string, fn: () => void) => void };
  expect: (actual: unknown, message?: string) => { toBe(expected: unknown): void; toBeNull(): void };
}
/** Sanitizers requested through DBOS_SANITIZE ("address,undefined"). */
export function sanitizers(): string[];
export function cTestFiles(packageDir: string): string[];
export function buildCTest(packageDir: string, file: string, sanitize?: string[]): string;
export function runCTest(exe: string): CTestRun;
export function checkFreestanding(packageDir: string): { file: string; ok: boolean; output: string }[];
export function defineCTests(packageDir: string, vitest: VitestLike): Promise<void>;
export function defineFreestandingCheck(packageDir: string, vitest: VitestLike): void;
/** Values of C integer expressions (`values`: name -> expression) with `includes` from the package's closure. */
export function cConstants(packageDir: string, includes: string[], values: Record<string, string>): Record<string, bigint>;
/** Build a test/bench-only Node-API addon into <package>/.ctest/<name>.node; returns its path. */
export function buildTestAddon(packageDir: string, options: { name: string; sources: string[]; withClosure?: boolean }): string;
/** Whether guest tests must run here (/dev/kvm opens, or DBOS_REQUIRE_KVM=1); logs why not. */
export function guestTestsRequired(): boolean;
