// pnpm bench:guest — the guest runtime's primitive costs next to the host mechanism a user
// would use instead, in one run on one machine:
//
//   a call from JS into guest code and back           vs a plain synchronous addon call
//   hypercall round trip (sync doorbell = MMIO exit; async doorbell = ioeventfd), single and
//   batched 64 per doorbell                          vs getppid(), the plainest system call
//   kernel call through the int3 trap gate           vs getppid()
//   page fault resolved by a guest #PF handler        vs a userfaultfd fault (UFFDIO_ZEROPAGE)
//   PTE map + write + unmap, each with INVLPG         vs mmap(MAP_FIXED) + write + madvise + unmap
//   time a spinning engine loses per LAPIC timer tick vs per setitimer SIGALRM
//
// Expected on PVM (docs/platform-facts.md): every guest exit or ring-0 entry costs 2-30 µs and each
// emulated ring-0 instruction ~0.7 µs, so single guest operations are 10-100x a host system
// call (0.2 µs); batching amortises one exit over 64 requests (~1 µs each). On hardware
// virtualization the same paths cost nanoseconds (no exit for PTEs, INVLPG or #PF); these
// numbers say nothing about that. Every row is labelled with the KVM flavour it ran on.
//
// Everything benchmark-only is built here, never shipped: the guest image (the test entry points
// plus bench/guest/*.c) with @dbos/native-build's buildGuestImage, and the host baselines
// (bench/host/) as an addon of their own with buildTestAddon.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCase, benchProfile, machineInfo, resultsDir, type BenchCase, type BenchResult } from '@dbos/benchmarks/report';
import { median } from '@dbos/benchmarks/measure';
import { buildGuestImage } from '@dbos/native-build';
import { buildTestAddon } from '@dbos/native-build/ctest';
import { Guest } from '../src/guest.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const BENCH_ENTRIES = ['test/guest/basic.c', 'test/guest/hypercall.c', 'test/guest/memory.c', 'bench/guest/timer.c'];

/** bench/host/bench_host.cc: hostBaseline(what, a, b) -> ns per operation (bench/host/host_baseline.h). */
interface BenchHostAddon {
  hostBaseline(what: number, a: number, b: number): number;
}

const profile = benchProfile();
const ROUNDS = profile === 'full' ? 7 : 3;
const SCALE = profile === 'full' ? 4 : 1;
const ENGINE_VA = 2 ** 39;
const HOST = { syscall: 1, uffd: 2, remap: 3, timer: 4 } as const; // enum host_baseline_kind
const TIMER_PERIOD_NS = 1_000_000;
const TIMER_WINDOW_NS = 200_000_000;

function rounds(measure: () => number): number {
  const values: number[] = [];
  for (let i = 0; i < ROUNDS; i++) values.push(measure());
  return median(values);
}

function main(): void {
  const available = Guest.available();
  if (!available.available) {
    console.log(`guest benchmark skipped: ${available.reason}`);
    return;
  }
  const image = fs.readFileSync(buildGuestImage(packageDir, { name: 'bench', entries: BENCH_ENTRIES }).image);
  const hostAddonPath = buildTestAddon(packageDir, {
    name: 'bench_host',
    sources: ['bench/host/bench_host.cc', 'bench/host/host_baseline.c'],
  });
  const host = createRequire(import.meta.url)(hostAddonPath) as BenchHostAddon;
  const guest = Guest.start({ image, memory: 128 * 1024 * 1024 });
  const cases: BenchCase[] = [];
  const rows: string[] = [];
  const ns = (entry: string, args: Array<number | bigint>, per: number) => Number(guest.runSync(entry, args)) / per;
  const add = (name: string, value: number, system: string, baseline: number) => {
    cases.push(
      benchCase({
        case: name,
        metric: 'latency',
        unit: 'µs',
        value: value / 1000,
        baseline: { system, value: baseline / 1000 },
        higherIs: 'worse',
        target: null,
      }),
    );
    rows.push(
      `${name.padEnd(58)} ${(value / 1000).toFixed(2).padStart(9)} µs   ${system}: ${(baseline / 1000).toFixed(3)} µs   (${(value / baseline).toFixed(1)}x)`,
    );
  };
  try {
    const syscall = rounds(() => host.hostBaseline(HOST.syscall, 1_000_000 * SCALE, 0));
    // A call from JavaScript into guest code and back: mailbox, KVM_RUN, DONE exit, thread handoff.
    const jsCalls = 500 * SCALE;
    const jsToGuest = rounds(() => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < jsCalls; i++) guest.runSync('add', [i, 1]);
      return Number(process.hrtime.bigint() - start) / jsCalls;
    });
    const jsToNative = rounds(() => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < jsCalls * 20; i++) host.hostBaseline(HOST.syscall, 1, 0);
      return Number(process.hrtime.bigint() - start) / (jsCalls * 20);
    });
    add('JS -> guest entry point -> JS (runSync)', jsToGuest, 'JS -> native addon call', jsToNative);
    const calls = 2000 * SCALE;
    add(
      'hypercall round trip, sync doorbell (MMIO exit)',
      rounds(() => ns('hc_nop_loop', [calls, 1, 0], calls)),
      'host getppid()',
      syscall,
    );
    add(
      'hypercall round trip, sync doorbell as OUT via the int3 gate',
      rounds(() => ns('hc_nop_loop', [calls, 1, 2], calls)),
      'host getppid()',
      syscall,
    );
    add(
      'hypercall, 64 per sync doorbell, per request',
      rounds(() => ns('hc_nop_loop', [calls * 64, 64, 0], calls * 64)),
      'host getppid()',
      syscall,
    );
    add(
      'hypercall round trip, async doorbell (ioeventfd)',
      rounds(() => ns('hc_nop_loop', [calls, 1, 1], calls)),
      'host getppid()',
      syscall,
    );
    add(
      'hypercall, 64 per async doorbell, per request',
      rounds(() => ns('hc_nop_loop', [calls * 64, 64, 1], calls * 64)),
      'host getppid()',
      syscall,
    );
    const kcalls = 500 * SCALE;
    add(
      'kernel call through the int3 trap gate',
      rounds(() => ns('kcall_nop_loop', [kcalls], kcalls)),
      'host getppid()',
      syscall,
    );

    const pages = 256 * SCALE;
    const uffd = rounds(() => host.hostBaseline(HOST.uffd, 4096 * SCALE, 0));
    const elapsedAt = guest.info.scratch.address;
    let region = 0;
    const guestFault = rounds(() => {
      const va = ENGINE_VA + (region++ * pages + 4096) * 4096;
      const faults = Number(guest.runSync('fault_demand_zero', [va, pages, 1, elapsedAt]));
      if (faults !== pages) throw new Error(`fault_demand_zero resolved ${faults} of ${pages} faults`);
      return Number(guest.read(elapsedAt, 8).readBigUInt64LE(0)) / pages;
    });
    add('page fault resolved by a guest #PF handler (demand zero)', guestFault, 'host userfaultfd fault', uffd);

    const remaps = 500 * SCALE;
    const remap = rounds(() => host.hostBaseline(HOST.remap, 20_000 * SCALE, 0));
    add(
      'PTE map + write + unmap (2 PTE writes, 2 INVLPG)',
      rounds(() => ns('pte_map_unmap_loop', [ENGINE_VA, remaps], remaps)),
      'host mmap MAP_FIXED + madvise',
      remap,
    );

    const hostTick = rounds(() => host.hostBaseline(HOST.timer, TIMER_PERIOD_NS, TIMER_WINDOW_NS));
    const guestTick = rounds(() => Number(guest.runSync('timer_gap_ns', [TIMER_PERIOD_NS, TIMER_WINDOW_NS])));
    add('time the engine loses per timer tick (LAPIC, 1 ms period)', guestTick, 'host setitimer SIGALRM', hostTick);
  } finally {
    guest.stop();
  }

  const bootGuest = Guest.start({ image });
  const bootMs = bootGuest.info.bootNs / 1e6;
  bootGuest.stop();
  const notes = [
    `KVM flavour: ${available.kvm}; engine ring ${available.kvm === 'pvm' ? 3 : 0}. On PVM guest ring 0 is emulated instruction by instruction, so these are correctness-grade, not hardware-virtualization, costs.`,
    `Boot of a 64 MiB, 1-vCPU guest (VM creation to idle engine loop): ${bootMs.toFixed(1)} ms.`,
    `Each value is the median of ${ROUNDS} rounds; guest values are timed inside the guest with its TSC clock.`,
  ];
  console.log(rows.join('\n'));
  for (const n of notes) console.log(`note: ${n}`);
  const result: BenchResult = {
    package: '@dbos/hypercall (guest runtime)',
    version: JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version,
    date: new Date().toISOString(),
    profile,
    machine: machineInfo(),
    runtime: 'guest',
    kvm: available.kvm,
    cases,
    notes,
  };
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, 'guest.json');
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

main();
