#!/usr/bin/env node
// dbos: the command-line face of @dbos/platform. `dbos probe` prints what this machine offers and,
// for every @dbos package installed where it runs, the mechanism that package selects here.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CAPABILITIES, CAPABILITY_PACKAGES } from './mechanisms.js';
import { probe, type ProbeResult } from './probe.js';

const USAGE = `usage: dbos probe [--json]

  probe    what this machine offers the dbos runtimes: KVM flavour, userfaultfd,
           PAGEMAP_SCAN, io_uring, THP, hugetlb, memfd, and per capability the
           mechanism each runtime uses, as reported by the @dbos packages
           installed here (resolved from the current directory)
  --json   print the probe result as JSON`;

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) => `  ${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}`).join('\n');
}

function userfaultfdLine(p: ProbeResult): string {
  const u = p.userfaultfd;
  if (!u.available) return `unavailable (${u.error ?? 'unknown'})`;
  const features = Object.entries({
    WP: u.features.wp,
    WP_ASYNC: u.features.wpAsync,
    WP_UNPOPULATED: u.features.wpUnpopulated,
    MINOR_SHMEM: u.features.minorShmem,
    MOVE: u.features.move,
  })
    .filter(([, on]) => on)
    .map(([name]) => name);
  const sysctl = u.unprivilegedSysctl === null ? 'unreadable' : String(u.unprivilegedSysctl);
  const unprivileged = u.unprivilegedSysctl === 1 ? 'yes' : u.unprivileged ? 'user-mode faults only' : 'no';
  return `via ${u.via.join(' + ') || 'syscall'}; unprivileged: ${unprivileged} (vm.unprivileged_userfaultfd=${sysctl}); features ${features.join(' ') || 'none'} (${u.featureBits})`;
}

/** The `dbos probe` table for a probe result: facts, then per capability the host and guest mechanism. */
export function renderProbe(p: ProbeResult): string {
  const uring = p.ioUring;
  const facts: string[][] = [
    ['kernel', p.kernel.release, p.kernel.version],
    ['cpu', `${p.cpu.count} CPUs`, `${p.cpu.model}${p.root ? ' (running as root)' : ''}`],
    ['kvm', p.kvm.kind, p.kvm.reason],
    ['userfaultfd', yesNo(p.userfaultfd.available), userfaultfdLine(p)],
    [
      'pagemap_scan',
      yesNo(p.pagemapScan.available),
      p.pagemapScan.available ? 'PAGEMAP_SCAN ioctl on /proc/self/pagemap works' : `ioctl failed: ${p.pagemapScan.error ?? 'unknown'}`,
    ],
    ['soft-dirty', yesNo(p.softDirty), p.softDirty ? 'pagemap bit 55 tracks writes' : 'CONFIG_MEM_SOFT_DIRTY off'],
    [
      'io_uring',
      yesNo(uring.available),
      `kernel.io_uring_disabled=${uring.disabledSysctl ?? 'unreadable'}; ` +
        (uring.available
          ? `io_uring_setup works; ftruncate op: ${yesNo(uring.ops.ftruncate)}, statx: ${yesNo(uring.ops.statx)}`
          : `io_uring_setup: ${uring.error ?? 'failed'}`),
    ],
    ['thp', p.thp.enabled, `shmem_enabled=${p.thp.shmemEnabled}`],
    ['hugetlb', `${p.hugetlb.pagesTotal} pages`, `${p.hugetlb.pagesFree} free, ${p.hugetlb.pageSize / 2 ** 20} MiB each`],
    ['memfd', yesNo(p.memfd.available), p.memfd.available ? 'memfd_create works' : `memfd_create: ${p.memfd.error ?? 'failed'}`],
  ];
  const mechanisms: string[][] = [];
  for (const capability of CAPABILITIES) {
    const m = p.mechanisms[capability];
    mechanisms.push([capability, 'host', m.host], ['', 'guest', m.guest]);
  }
  return ['dbos probe', '', table(facts), '', 'mechanisms (capability, runtime, mechanism)', '', table(mechanisms), ''].join('\n');
}

/**
 * Load every @dbos capability package resolvable from the current directory (or from beside this
 * CLI), so each registers its mechanism report. A package that is not installed stays unreported.
 */
async function loadInstalledPackages(): Promise<void> {
  const resolvers = [createRequire(path.join(process.cwd(), 'package.json')), createRequire(import.meta.url)];
  for (const name of Object.values(CAPABILITY_PACKAGES)) {
    for (const resolver of resolvers) {
      let entry: string;
      try {
        entry = resolver.resolve(name);
      } catch {
        continue;
      }
      await import(pathToFileURL(entry).href);
      break;
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command !== 'probe' || rest.some((arg) => arg !== '--json')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  await loadInstalledPackages();
  const result = probe();
  process.stdout.write(rest.includes('--json') ? `${JSON.stringify(result, null, 2)}\n` : renderProbe(result));
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
