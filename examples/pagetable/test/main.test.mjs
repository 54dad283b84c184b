// The example must run to the end, and every number it prints must agree with the others: the
// dirty sets equal the pages the workload wrote, VACUUM keeps each live page on its frame with its
// bytes, frees exactly the empty and unused slots, and leaves the checkpoint file matching memory.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const example = fileURLToPath(new URL('../main.mjs', import.meta.url));
const ROWS_PER_PAGE = 63; // (4096 − a 64-byte header) / 64-byte rows
const EXTENT_PAGES = 16;

/** The numbers of the line matching `pattern`, or a failed expectation naming it. */
function numbers(output, pattern) {
  const match = pattern.exec(output);
  expect(match, `${pattern} in:\n${output}`).not.toBeNull();
  return match.slice(1).map((value) => (/^\d+$/.test(value) ? Number(value) : value));
}

test('checkpoints write exactly the dirty pages and VACUUM moves pages without copying them', () => {
  const run = spawnSync(process.execPath, [example], { encoding: 'utf8', timeout: 60_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toMatch(/dirty pages tracked by (uffd-wp-async|shadow-compare)/);

  const [rows, pages, slots] = numbers(output, /insert: (\d+) rows in (\d+) pages; (\d+) slots mapped/);
  expect(pages).toBe(Math.ceil(rows / ROWS_PER_PAGE));
  expect(slots % EXTENT_PAGES).toBe(0);
  expect(slots - pages).toBeGreaterThanOrEqual(0);
  expect(slots - pages).toBeLessThan(EXTENT_PAGES);
  expect(numbers(output, /checkpoint 1: (\d+) dirty pages written/)).toEqual([pages]);

  const [updates, updatedPages, updateDirty, updateSame] = numbers(
    output,
    /update: (\d+) random rows in (\d+) pages; dirty: (\d+) pages, the same ones: (\w+)/,
  );
  expect(updatedPages).toBeGreaterThan(0);
  expect(updatedPages).toBeLessThanOrEqual(updates);
  expect([updateDirty, updateSame]).toEqual([updatedPages, 'true']);

  const [deleted, deletedPages, deleteDirty, deleteSame] = numbers(
    output,
    /delete: (\d+) rows in (\d+) pages; dirty: (\d+) pages, the same ones: (\w+)/,
  );
  expect([deleteDirty, deleteSame]).toEqual([deletedPages, 'true']);

  const [empty, unused, freed, moved, holes, calls, live] = numbers(
    output,
    /vacuum: (\d+) empty pages and (\d+) unused slots gave (\d+) frames back to the pool; (\d+) live pages moved into (\d+) holes by (\d+) system calls in \d+ µs; heap now (\d+) pages/,
  );
  expect(unused).toBe(slots - pages);
  expect(freed).toBe(empty + unused);
  expect(live).toBe(pages - empty);
  expect(moved).toBe(holes);
  expect(moved).toBeGreaterThan(0);
  expect(calls).toBeLessThanOrEqual(2 * moved); // one remap and one unmap per run at most

  const [after, before, inPlace, sameFrame, sameBytes, unmapped, pastEnd] = numbers(
    output,
    /after vacuum: (\d+) live pages of (\d+), (\d+) in the first \d+ slots, (\d+) on the frame they had, (\d+) with the bytes they had; (\d+) of the (\d+) slots past the end unmapped/,
  );
  expect([after, before, inPlace, sameFrame, sameBytes]).toEqual([live, live, live, live, live]);
  expect([unmapped, pastEnd]).toEqual([pages - live, pages - live]);

  expect(numbers(output, /rows: (\d+) live after vacuum \((\d+) inserted, (\d+) deleted\)/)).toEqual([rows - deleted, rows, deleted]);
  expect(numbers(output, /checkpoint file: (\d+) of (\d+) live pages match memory; dirty after vacuum: (\d+) pages/)).toEqual([
    live,
    live,
    0,
  ]);
  expect(output).toContain('pagetable example finished');
});
