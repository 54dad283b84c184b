// What the hostile cases share: fixtures (a space with a live snapshot, images on disk), a scratch
// directory, and the arbitraries for this package's argument slots.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { hostileBigInt, hostileBuffer, hostileNumber, hostileValue, sizeLike } from '@dbos/hostile';
import { createSpace, mechanisms, PAGE_SIZE } from '../../src/index.js';
import type { Snapshot, SnapshotMechanism, SnapshotSpace } from '../../src/index.js';

/** Pages of the fixtures' spaces: small, so every valid call is cheap. */
export const PAGES = 64;
export const SIZE = PAGES * PAGE_SIZE;

/** The mechanisms this machine runs (each gets its own cases). */
export const MECHANISMS: SnapshotMechanism[] = mechanisms()
  .filter((entry) => entry.available)
  .map((entry) => entry.mechanism);

let scratch: string | null = null;

/**
 * A directory of this child process's own, made its working directory on first use: hostile paths
 * ('0', 'x', relative names) then create files there, never in the package. Removed at exit. Only in
 * the case's child (the parent imports the module to list the cases).
 */
export function scratchDir(): string {
  if (scratch) return scratch;
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(); // tmpfs: no disk in the loop
  scratch = fs.mkdtempSync(path.join(base, 'dbos-snapshot-hostile-'));
  if (process.env.DBOS_HOSTILE_CHILD === '1') {
    process.chdir(scratch);
    const dir = scratch;
    process.on('exit', () => {
      process.chdir(os.tmpdir());
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }
  return scratch;
}

/** A space of PAGES pages with a pattern written and one snapshot live. */
export interface Fixture {
  space: SnapshotSpace;
  snapshot: Snapshot;
}

export function openSpace(mechanism: SnapshotMechanism, size = SIZE): SnapshotSpace {
  return createSpace({ size, mechanism, writes: mechanism === 'epoch' ? 'barrier' : 'raw' });
}

export function fixture(mechanism: SnapshotMechanism): () => Fixture {
  return () => {
    scratchDir();
    const space = openSpace(mechanism);
    space.write(
      0,
      new Uint8Array(SIZE).map((_, i) => i % 251),
    );
    return { space, snapshot: space.snapshot() };
  };
}

export function closeFixture(target: unknown): void {
  (target as Fixture).space.close();
}

/** Image files in the scratch directory: a good one of `pages` pages and a corrupt copy. */
export async function writeImages(pages = PAGES): Promise<{ good: string; corrupt: string; other: string }> {
  const dir = scratchDir();
  const space = openSpace('epoch', pages * PAGE_SIZE);
  space.write(0, new Uint8Array(pages * PAGE_SIZE).fill(7));
  const snapshot = space.snapshot();
  const good = path.join(dir, `good-${pages}.img`);
  await snapshot.writeTo(good);
  snapshot.release();
  space.close();
  const corrupt = path.join(dir, `corrupt-${pages}.img`);
  const bytes = fs.readFileSync(good);
  bytes[4096 + 5 * PAGE_SIZE + 9]! ^= 0x10;
  fs.writeFileSync(corrupt, bytes);
  const other = path.join(dir, `other-${pages}.img`);
  const small = openSpace('epoch', 8 * PAGE_SIZE);
  const smallSnapshot = small.snapshot();
  await smallSnapshot.writeTo(other);
  smallSnapshot.release();
  small.close();
  return { good, corrupt, other };
}

/** A page index: valid, at the edges (the page count, -1), or hostile numbers, BigInts and values. */
export function pageArg(pages = PAGES): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: pages - 1 }), weight: 3 },
    { arbitrary: fc.constantFrom(pages, pages + 1, -1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1), weight: 2 },
    { arbitrary: hostileNumber(), weight: 2 },
    { arbitrary: hostileBigInt(), weight: 1 },
    { arbitrary: hostileValue(), weight: 1 },
  );
}

/** A byte offset or length: valid in a space of `size` bytes, around its end, or hostile. */
export function byteArg(size = SIZE): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: size }), weight: 3 },
    { arbitrary: fc.constantFrom(size - 1, size + 1, size * 2, 2 ** 31, 2 ** 32 - 1, 2 ** 32 + 1), weight: 2 },
    { arbitrary: sizeLike(), weight: 2 },
    { arbitrary: hostileBigInt(), weight: 1 },
    { arbitrary: hostileValue(), weight: 1 },
  );
}

/** Any byte view a caller could pass (hostile states and other view types included), or no view at all. */
export function bufferArg(size: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(size, size + 13, 1, 0).map((n) => new Uint8Array(n)), weight: 2 },
    { arbitrary: fc.constantFrom(size, 2 * size).chain((n) => hostileBuffer(n)), weight: 3 },
    { arbitrary: hostileValue(), weight: 1 },
  );
}

/** A path: one of `valid`, a place that is not an image (a directory, a device), or hostile strings and values. */
export function pathArg(valid: readonly string[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...valid), weight: 3 },
    {
      arbitrary: fc.constantFrom(
        '',
        '.',
        '/',
        '/proc/self/mem',
        '/dev/null',
        '/dev/zero',
        '/dev/full',
        'missing/x.img',
        'a\0b',
        '\0',
        'x'.repeat(5000),
      ),
      weight: 2,
    },
    { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
    { arbitrary: hostileValue(), weight: 1 },
  );
}

/** An options object with `keys`, each field valid (from `valid`) or hostile. */
export function optionsArg(valid: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const fields = Object.fromEntries(
    Object.entries(valid).map(([key, arbitrary]) => [key, fc.oneof({ arbitrary, weight: 3 }, { arbitrary: hostileValue(), weight: 1 })]),
  );
  return fc.oneof(
    { arbitrary: fc.record(fields, { requiredKeys: [] }), weight: 4 },
    { arbitrary: fc.constantFrom(undefined, null, 0, 'options', [], () => ({})), weight: 1 },
    { arbitrary: hostileValue(), weight: 1 },
  );
}

/** Fail a scenario (an uncoded Error is what the harness reports) when `condition` does not hold. */
export function expectThat(condition: boolean, what: string): void {
  if (!condition) throw new Error(`expected: ${what}`);
}

/** The error `run` throws or rejects with, or null. */
export async function caught(run: () => unknown): Promise<unknown> {
  try {
    await run();
    return null;
  } catch (error) {
    return error;
  }
}

export function codeOf(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}
