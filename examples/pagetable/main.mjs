// A table's life on @dbos/pagetable (the heap is in heap.mjs): 120 000 rows are inserted, a
// checkpointer saves the heap to a file, a burst of updates and two range deletes follow, each
// checkpoint writing only the pages the kernel saw written, and VACUUM then packs the live pages into
// the first slots by remapping their frames. Every claim is checked by the program itself: the
// dirty set is exactly the pages the workload wrote, each moved page still sits on its own frame
// with its own bytes, and the checkpoint file still matches memory after the move.
// `node main.mjs` (after `pnpm build` in packages/pagetable); prints what it did.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PAGE_SIZE } from '@dbos/pagetable';
import { Heap } from './heap.mjs';

const ROWS = 120_000;
const UPDATES = 500;
const DELETES = [
  [20_000, 50_000],
  [80_000, 95_000],
]; // key ranges, e.g. sessions that expired

const mebibytes = (pages) => ((pages * PAGE_SIZE) / 2 ** 20).toFixed(1);
const sameSet = (dirty, written) => dirty.length === written.size && dirty.every((slot) => written.has(slot));
let seed = 42;
const random = (n) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % n;
};

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-pagetable-heap-'));
const file = fs.openSync(path.join(directory, 'heap.checkpoint'), 'w+');
const heap = new Heap();
console.log(`heap: 1 TiB of address space reserved, dirty pages tracked by ${heap.dirtyMechanism}`);

heap.insert(ROWS);
const pagesUsed = heap.slotOf.length;
let dirty = heap.checkpoint(file);
console.log(`insert: ${ROWS} rows in ${pagesUsed} pages; ${heap.slotsMapped} slots mapped as the heap grew`);
console.log(`checkpoint 1: ${dirty.length} dirty pages written (${mebibytes(dirty.length)} MiB)`);

const updated = new Set();
for (let i = 0; i < UPDATES; i++) updated.add(heap.update(random(ROWS)));
dirty = heap.checkpoint(file);
console.log(
  `update: ${UPDATES} random rows in ${updated.size} pages; dirty: ${dirty.length} pages, the same ones: ${sameSet(dirty, updated)}`,
);
console.log(`checkpoint 2: wrote ${mebibytes(dirty.length)} MiB instead of ${mebibytes(pagesUsed)} MiB`);

const deletedFrom = new Set();
let deleted = 0;
for (const [first, end] of DELETES) {
  for (const slot of heap.deleteRange(first, end)) deletedFrom.add(slot);
  deleted += end - first;
}
dirty = heap.checkpoint(file);
console.log(
  `delete: ${deleted} rows in ${deletedFrom.size} pages; dirty: ${dirty.length} pages, the same ones: ${sameSet(dirty, deletedFrom)}`,
);

const before = heap.census();
const vacuum = heap.vacuum();
console.log(
  `vacuum: ${vacuum.emptyPages} empty pages and ${vacuum.unusedSlots} unused slots gave ${vacuum.framesFreed} frames back to the pool; ` +
    `${vacuum.moved} live pages moved into ${vacuum.holes} holes by ${vacuum.calls} system calls ` +
    `in ${(Number(vacuum.moveNs) / 1000).toFixed(0)} µs; heap now ${vacuum.liveCount} pages`,
);

// Each live page must be where the directory says, on the frame it had, with the bytes it had.
const after = heap.census();
let sameFrame = 0;
let sameBytes = 0;
let inPlace = 0;
for (const [logical, page] of before.pages) {
  const now = after.pages.get(logical);
  if (now === undefined) continue;
  if (now.frame === page.frame) sameFrame++;
  if (now.checksum === page.checksum && now.stamp === logical) sameBytes++;
  if (now.slot < vacuum.liveCount) inPlace++;
}
let unmapped = 0;
for (let slot = vacuum.liveCount; slot < pagesUsed; slot++) if (heap.region.pageInfo(slot).state === 'unmapped') unmapped++;
console.log(
  `after vacuum: ${after.pages.size} live pages of ${before.pages.size}, ${inPlace} in the first ${vacuum.liveCount} slots, ` +
    `${sameFrame} on the frame they had, ${sameBytes} with the bytes they had; ` +
    `${unmapped} of the ${pagesUsed - vacuum.liveCount} slots past the end unmapped`,
);
console.log(`rows: ${after.rows} live after vacuum (${ROWS} inserted, ${deleted} deleted)`);

// A move is not a write: nothing is dirty, and the checkpoint file still holds every live page.
const dirtyAfter = heap.region.collectDirty();
let matching = 0;
const saved = new Uint8Array(PAGE_SIZE);
for (const [logical, page] of after.pages) {
  fs.readSync(file, saved, 0, PAGE_SIZE, logical * PAGE_SIZE);
  heap.withPage(page.slot, (view) => {
    if (Buffer.compare(saved, new Uint8Array(view.buffer, view.byteOffset, PAGE_SIZE)) === 0) matching++;
  });
}
console.log(`checkpoint file: ${matching} of ${after.pages.size} live pages match memory; dirty after vacuum: ${dirtyAfter.length} pages`);

heap.close();
fs.closeSync(file);
fs.rmSync(directory, { recursive: true, force: true });
console.log('pagetable example finished');
