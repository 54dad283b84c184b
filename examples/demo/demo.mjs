// A tour of every dbos capability that exists today, on this machine, with the mechanism that
// actually ran. `pnpm demo` (after `pnpm build`). Each step prints what it did and what it measured;
// a step whose mechanism is unavailable here says why instead of pretending.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probe } from '@dbos/platform';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Gateway, Guest } from '@dbos/hypercall';
import { FramePool, PAGE_SIZE, Region } from '@dbos/pagetable';
import { Allocator } from '@dbos/alloc';
import { createSpace, mechanisms, verifyImage } from '@dbos/snapshot';
import { TaskPool } from '@dbos/scheduler';
import { BufferPool } from '@dbos/bufferpool';
import { open as openStore } from '@dbos/kv';

const { buildGuestImage } = createRequire(import.meta.url)('@dbos/native-build');
const demoDir = path.dirname(fileURLToPath(import.meta.url));
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-demo-'));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function heading(title) {
  console.log(`\n== ${title}`);
}

async function step(title, body) {
  heading(title);
  try {
    await body();
  } catch (error) {
    console.log(`   failed: ${error.code ?? error.name}: ${error.message}`);
    process.exitCode = 1;
  }
}

await step('probe: what this machine offers', () => {
  const facts = probe();
  console.log(`   kvm: ${facts.kvm.kind} (${facts.kvm.reason})`);
  console.log(
    `   io_uring: ${facts.ioUring.available ? 'works' : `unavailable (${facts.ioUring.error})`}; userfaultfd: ${facts.userfaultfd.available ? 'yes' : 'no'}; THP: ${facts.thp.enabled}`,
  );
});

await step('@dbos/hypercall Gateway: one batch of system calls', async () => {
  const gateway = new Gateway();
  const file = path.join(workDir, 'gateway.dat');
  const [opened] = await gateway.submit([{ op: 'openat', path: file, flags: fs.constants.O_RDWR | fs.constants.O_CREAT, mode: 0o600 }]);
  const fd = opened.result;
  const pages = Buffer.alloc(4 * PAGE_SIZE);
  for (let i = 0; i < 4; i++) pages.fill(65 + i, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
  await gateway.submit([{ op: 'pwrite', fd, buffer: pages, position: 0 }]);
  const back = Buffer.alloc(4 * PAGE_SIZE);
  const lengths = await gateway.readBatch(fd, [3 * PAGE_SIZE, 0, 2 * PAGE_SIZE, PAGE_SIZE], PAGE_SIZE, back);
  const [missing] = await gateway.submit([{ op: 'openat', path: path.join(workDir, 'absent'), flags: 0 }]);
  await gateway.submit([{ op: 'close', fd }]);
  console.log(
    `   backend ${gateway.backend}: read pages 3, 0, 2, 1 in one call (${[...lengths].join(', ')} bytes) → "${back.toString('latin1', 0, 1)}${back.toString('latin1', PAGE_SIZE, PAGE_SIZE + 1)}${back.toString('latin1', 2 * PAGE_SIZE, 2 * PAGE_SIZE + 1)}${back.toString('latin1', 3 * PAGE_SIZE, 3 * PAGE_SIZE + 1)}"`,
  );
  console.log(`   a failing op reports its errno name instead of throwing: ${missing.error}`);
  await gateway.close();
});

await step('@dbos/hypercall Guest: engine code in a KVM guest booted in this process', async () => {
  const availability = Guest.available();
  if (!availability.available) {
    console.log(`   guest runtime unavailable here: ${availability.reason}`);
    return;
  }
  // The engine is C compiled into a guest image with the guest kernel (guest/demo.c).
  const { image } = buildGuestImage(demoDir, { name: 'demo', entries: ['guest/demo.c'] });
  const started = process.hrtime.bigint();
  const guest = Guest.start({ memory: 64 * 2 ** 20, vcpus: 1, image });
  const bootMs = Number(process.hrtime.bigint() - started) / 1e6;
  try {
    const sum = await guest.run('add', [40, 2]);
    console.log(
      `   kvm ${availability.kvm}, engine in guest ring ${availability.engineRing}; booted in ${bootMs.toFixed(1)} ms; guest computed 40 + 2 = ${sum}`,
    );
  } finally {
    guest.stop();
  }
});

await step('@dbos/pagetable Region: 1 TiB reserved, dirty pages, frames shared without copying', () => {
  const region = Region.reserve(2 ** 40);
  region.map({ first: 0, count: 1024 });
  const mechanism = region.startDirtyTracking();
  for (const page of [7, 300, 301, 999]) region.view(page * PAGE_SIZE, 8)[0] = 1;
  const dirty = region.collectDirty({ reset: true });
  const pool = FramePool.create(16);
  region.mapFrames([2000, 3000], pool, [5, 5]);
  region.view(2000 * PAGE_SIZE, 3).set([1, 2, 3]);
  const throughOtherSlot = [...region.view(3000 * PAGE_SIZE, 3)];
  console.log(`   dirty tracking by ${mechanism}: pages written = [${[...dirty].join(', ')}]`);
  console.log(`   frame 5 mapped at pages 2000 and 3000: wrote [1,2,3] at one, read [${throughOtherSlot}] at the other`);
  region.close();
  pool.close();
});

await step('@dbos/alloc: slab allocator and arenas off the GC heap', () => {
  const allocator = new Allocator({ limitBytes: 64 * 2 ** 20 });
  const blocks = [];
  for (let i = 0; i < 1000; i++) blocks.push(allocator.alloc(16 + ((i * 37) % 4000)));
  const arena = allocator.arena({ chunkBytes: 64 * 1024 });
  for (let i = 0; i < 100; i++) arena.alloc(64);
  const before = allocator.stats();
  arena.reset();
  for (const block of blocks) allocator.free(block);
  let doubleFree = 'no error';
  try {
    allocator.free(blocks[0]);
  } catch (error) {
    doubleFree = error.code;
  }
  const after = allocator.stats();
  console.log(`   1000 objects + 100 arena allocations: ${before.bytesInUse} bytes in use → ${after.bytesInUse} after free + arena reset`);
  console.log(`   a double free is refused with ${doubleFree}`);
  allocator.close();
});

await step('@dbos/snapshot: a point-in-time snapshot while writes continue', async () => {
  const available = mechanisms()
    .filter((m) => m.available)
    .map((m) => m.mechanism);
  const space = createSpace({ size: 16 * 2 ** 20 });
  space.write(0, encoder.encode('hello'));
  const snapshot = space.snapshot();
  space.write(0, encoder.encode('HELLO'));
  const image = path.join(workDir, 'space.img');
  const written = await snapshot.writeTo(image);
  const verified = await verifyImage(image);
  console.log(`   mechanisms available here: ${available.join(', ')}; this space uses ${space.mechanism}`);
  console.log(
    `   live memory says "${decoder.decode(space.memory.subarray(0, 5))}", the snapshot still says "${decoder.decode(snapshot.read(0, 5))}"`,
  );
  console.log(
    `   image: ${written.bytesWritten} bytes via ${written.ioPath}, checksums verified (${verified.pageCount} pages of ${verified.pageSize} bytes)`,
  );
  snapshot.release();
  space.close();
});

await step('@dbos/scheduler: short requests do not wait behind long scans', async () => {
  const pool = new TaskPool({ module: new URL('./demo-tasks.mjs', import.meta.url), size: 2, quantumUs: 1000 });
  await Promise.all([pool.run({ name: 'lookup', args: [0] }), pool.run({ name: 'lookup', args: [1] })]); // workers up
  const scans = [0, 1].map(() => pool.run({ name: 'scan', args: [300] }, { priority: 'background' }));
  await new Promise((resolve) => setTimeout(resolve, 20)); // both workers are scanning now
  const latenciesMs = [];
  for (let key = 0; key < 10; key++) {
    const start = performance.now();
    await pool.run({ name: 'lookup', args: [key] }, { priority: 'latency' });
    latenciesMs.push(performance.now() - start);
  }
  await Promise.all(scans);
  const stats = pool.stats();
  await pool.close();
  console.log(`   mechanism: ${probe().mechanisms.scheduler.host}`);
  console.log(
    `   10 lookups while two 300 ms scans held both workers: slowest ${Math.max(...latenciesMs).toFixed(1)} ms; the scans yielded ${stats.yieldsTaken} times (${stats.yieldsRequested} flags from the native timer, ${stats.urgentFlags} for urgent arrivals)`,
  );
});

await step('@dbos/bufferpool: a page file four times larger than the pool', async () => {
  const file = path.join(workDir, 'pages');
  const pageCount = 1024;
  const pool = BufferPool.open(file, { create: true, poolBytes: (pageCount / 4) * PAGE_SIZE });
  for (let i = 0; i < pageCount; i++) {
    const page = pool.allocate();
    new DataView(page.data.buffer, page.data.byteOffset).setUint32(0, page.pid * 7);
    page.release();
  }
  await pool.flush();
  const pids = Array.from({ length: 256 }, (_, i) => 1 + ((i * 389) % pageCount));
  const pages = await Promise.all(pids.map((pid) => pool.fix(pid))); // merged into native batches
  const wrong = pages.filter((page) => new DataView(page.data.buffer, page.data.byteOffset).getUint32(0) !== page.pid * 7).length;
  for (const page of pages) page.release();
  const stats = pool.stats();
  const mechanism = pool.mechanism;
  await pool.close();
  console.log(`   mechanism: ${mechanism}`);
  console.log(
    `   ${pageCount} pages of ${pool.pageSize} bytes over a ${stats.budgetPages}-page budget: resident ${stats.residentPages} pages, ${stats.evictions} evictions; 256 async fixes read back with ${wrong} wrong pages, ${stats.asyncBatches} native batches`,
  );
});

await step('@dbos/kv: durable writes, a snapshot that stays put, recovery after reopening', async () => {
  const dir = path.join(workDir, 'store');
  let db = openStore(dir);
  await db.batch(Array.from({ length: 1000 }, (_, i) => ({ type: 'put', key: `user:${String(i).padStart(4, '0')}`, value: `v${i}` })));
  const view = db.snapshot();
  await db.put('user:0000', 'changed', { sync: true });
  const before = view.get('user:0000');
  view.close();
  const scanned = [...db.range({ gte: 'user:0990', limit: 5 })].map((entry) => entry.key);
  const mechanism = db.mechanism;
  await db.close();
  db = openStore(dir);
  const after = db.get('user:0000');
  const entries = db.stats().entries;
  await db.close();
  console.log(`   mechanism: ${mechanism}`);
  console.log(`   1000 keys in one atomic batch; the snapshot still reads "${before}" while the store reads "${after}" after reopening`);
  console.log(`   range from user:0990, limit 5: ${scanned.join(', ')}; ${entries} entries after reopening`);
});

fs.rmSync(workDir, { recursive: true, force: true });
console.log(process.exitCode ? '\ndemo finished with failures' : '\ndemo finished');
