// probe(): what this machine offers the dbos runtimes, found by trying each mechanism.
import { errnoName } from './errno.js';
import { DbosError } from './errors.js';
import { mechanismReports, mechanismsVersion, type CapabilityMechanism, type Capability } from './mechanisms.js';
import { addon } from './native.js';

/** The KVM flavour: hardware VT-x/AMD-V, PVM (software: shadow paging, emulated ring 0), or none. */
export type KvmKind = 'hardware' | 'pvm' | 'none';

/** The raw object the addon returns (dbos_probe, field for field). @internal */
export interface NativeProbe {
  kernelRelease: string;
  kernelVersion: string;
  cpuModel: string;
  cpuCount: number;
  isRoot: boolean;
  kvm: {
    kind: KvmKind;
    reason: string;
    devicePresent: boolean;
    deviceOpens: boolean;
    openErrno: number;
    apiVersion: number;
    vmCreates: boolean;
    modulePvm: boolean;
    moduleIntel: boolean;
    moduleAmd: boolean;
    cpuVmx: boolean;
    cpuSvm: boolean;
  };
  uffd: {
    available: boolean;
    viaSyscall: boolean;
    viaDevice: boolean;
    userModeOnly: boolean;
    unprivilegedSysctl: number;
    unprivileged: boolean;
    features: number;
    error: number;
  };
  pagemapScan: boolean;
  pagemapScanErrno: number;
  ioUring: {
    disabledSysctl: number;
    setupWorks: boolean;
    setupErrno: number;
    features: number;
    opFtruncate: boolean;
    opStatx: boolean;
    opOpenat: boolean;
    opFallocate: boolean;
  };
  thpEnabled: string;
  thpShmemEnabled: string;
  hugetlbTotal: number;
  hugetlbFree: number;
  hugetlbPageSize: number;
  memfd: boolean;
  memfdErrno: number;
  softDirty: boolean;
}

/** KVM as found: the flavour, why, and the evidence. */
export interface KvmProbe {
  /** 'hardware' (kvm_intel/kvm_amd with vmx/svm), 'pvm' (KVM without hardware virtualization), 'none'. */
  kind: KvmKind;
  /** One line of evidence, e.g. "/dev/kvm opens, KVM_GET_API_VERSION=12, /sys/module/kvm_pvm present, no vmx/svm in /proc/cpuinfo". */
  reason: string;
  /** /dev/kvm exists. */
  devicePresent: boolean;
  /** open("/dev/kvm", O_RDWR) succeeded. */
  deviceOpens: boolean;
  /** errno name of a failed open (e.g. 'EACCES'), else null. */
  openError: string | null;
  /** KVM_GET_API_VERSION (12), or null when /dev/kvm does not open. */
  apiVersion: number | null;
  /** KVM_CREATE_VM succeeded. */
  vmCreates: boolean;
  /** Loaded KVM modules seen in /sys/module: 'kvm_pvm', 'kvm_intel', 'kvm_amd'. */
  modules: string[];
  /** The CPU's hardware-virtualization flag in /proc/cpuinfo ('vmx', 'svm'), or null. */
  cpuFlag: 'vmx' | 'svm' | null;
}

/** userfaultfd as found. */
export interface UserfaultfdProbe {
  /** A userfaultfd could be created and answered UFFDIO_API. */
  available: boolean;
  /** How: the userfaultfd(2) system call, /dev/userfaultfd, both, or null. */
  via: Array<'syscall' | 'device'>;
  /** This process gets one only with UFFD_USER_MODE_ONLY (faults from user space only). */
  userModeOnly: boolean;
  /** An unprivileged process could create one (sysctl = 1, or UFFD_USER_MODE_ONLY works). */
  unprivileged: boolean;
  /** vm.unprivileged_userfaultfd, or null when unreadable. */
  unprivilegedSysctl: number | null;
  /** The feature bits dbos uses. */
  features: { wp: boolean; wpAsync: boolean; wpUnpopulated: boolean; minorShmem: boolean; move: boolean };
  /** All UFFDIO_API feature bits, as a hex string ("0x1ffff"). */
  featureBits: string;
  /** errno name of the failure when not available, else null. */
  error: string | null;
}

/** io_uring as found. */
export interface IoUringProbe {
  /** io_uring_setup succeeded for this process. */
  available: boolean;
  /** kernel.io_uring_disabled (0 on, 1 privileged/io_uring_group only, 2 off), or null when unreadable. */
  disabledSysctl: number | null;
  /** errno name of the failed io_uring_setup (EPERM, ENOSYS), else null. */
  error: string | null;
  /** io_uring_params.features, as hex. */
  features: string;
  /** Which of the gateway's newer opcodes this kernel's io_uring has; others fall back to plain system calls. */
  ops: { ftruncate: boolean; statx: boolean; openat: boolean; fallocate: boolean };
}

/** The result of {@link probe}. */
export interface ProbeResult {
  /** uname(2): release ("6.18.44-...") and version string. */
  kernel: { release: string; version: string };
  /** The CPU model from /proc/cpuinfo and the online CPU count. */
  cpu: { model: string; count: number };
  /** Whether this process runs as root (several mechanisms differ). */
  root: boolean;
  /** KVM and its flavour. */
  kvm: KvmProbe;
  /** userfaultfd availability and features. */
  userfaultfd: UserfaultfdProbe;
  /** The PAGEMAP_SCAN ioctl on /proc/self/pagemap (Linux 6.7) works; error is its errno name otherwise. */
  pagemapScan: { available: boolean; error: string | null };
  /** Soft-dirty bits in /proc/self/pagemap (CONFIG_MEM_SOFT_DIRTY). */
  softDirty: boolean;
  /** io_uring availability for this process. */
  ioUring: IoUringProbe;
  /** Transparent huge pages: /sys/kernel/mm/transparent_hugepage/{enabled,shmem_enabled}. */
  thp: { enabled: string; shmemEnabled: string };
  /** hugetlbfs pages reserved by an administrator (HugePages_Total), free, and their size in bytes. */
  hugetlb: { pagesTotal: number; pagesFree: number; pageSize: number };
  /** memfd_create works. */
  memfd: { available: boolean; error: string | null };
  /**
   * Per capability, the mechanism each runtime uses on this machine, as reported by the
   * package's own code. Only packages loaded in this process report (`loaded: false` otherwise).
   */
  mechanisms: Record<Capability, CapabilityMechanism>;
}

const UFFD_FEATURE = { wp: 1 << 0, minorShmem: 1 << 10, wpUnpopulated: 1 << 13, wpAsync: 1 << 15, move: 1 << 16 };

function errorName(errno: number): string | null {
  return errno ? errnoName(errno) : null;
}

function shape(raw: NativeProbe): Omit<ProbeResult, 'mechanisms'> {
  const { kvm, uffd, ioUring } = raw;
  const modules = [...(kvm.modulePvm ? ['kvm_pvm'] : []), ...(kvm.moduleIntel ? ['kvm_intel'] : []), ...(kvm.moduleAmd ? ['kvm_amd'] : [])];
  const has = (bit: number) => uffd.available && (uffd.features & bit) !== 0;
  return {
    kernel: { release: raw.kernelRelease, version: raw.kernelVersion },
    cpu: { model: raw.cpuModel, count: raw.cpuCount },
    root: raw.isRoot,
    kvm: {
      kind: kvm.kind,
      reason: kvm.reason,
      devicePresent: kvm.devicePresent,
      deviceOpens: kvm.deviceOpens,
      openError: errorName(kvm.openErrno),
      apiVersion: kvm.apiVersion >= 0 ? kvm.apiVersion : null,
      vmCreates: kvm.vmCreates,
      modules,
      cpuFlag: kvm.cpuVmx ? 'vmx' : kvm.cpuSvm ? 'svm' : null,
    },
    userfaultfd: {
      available: uffd.available,
      via: [...(uffd.viaSyscall || uffd.userModeOnly ? ['syscall' as const] : []), ...(uffd.viaDevice ? ['device' as const] : [])],
      userModeOnly: uffd.userModeOnly,
      unprivileged: uffd.unprivileged,
      unprivilegedSysctl: uffd.unprivilegedSysctl >= 0 ? uffd.unprivilegedSysctl : null,
      features: {
        wp: has(UFFD_FEATURE.wp),
        wpAsync: has(UFFD_FEATURE.wpAsync),
        wpUnpopulated: has(UFFD_FEATURE.wpUnpopulated),
        minorShmem: has(UFFD_FEATURE.minorShmem),
        move: has(UFFD_FEATURE.move),
      },
      featureBits: `0x${uffd.features.toString(16)}`,
      error: uffd.available ? null : errorName(uffd.error),
    },
    pagemapScan: { available: raw.pagemapScan, error: raw.pagemapScan ? null : errorName(raw.pagemapScanErrno) },
    softDirty: raw.softDirty,
    ioUring: {
      available: ioUring.setupWorks,
      disabledSysctl: ioUring.disabledSysctl >= 0 ? ioUring.disabledSysctl : null,
      error: errorName(ioUring.setupErrno),
      features: `0x${ioUring.features.toString(16)}`,
      ops: { ftruncate: ioUring.opFtruncate, statx: ioUring.opStatx, openat: ioUring.opOpenat, fallocate: ioUring.opFallocate },
    },
    thp: { enabled: raw.thpEnabled, shmemEnabled: raw.thpShmemEnabled },
    hugetlb: { pagesTotal: raw.hugetlbTotal, pagesFree: raw.hugetlbFree, pageSize: raw.hugetlbPageSize },
    memfd: { available: raw.memfd, error: errorName(raw.memfdErrno) },
  };
}

let facts: Omit<ProbeResult, 'mechanisms'> | undefined;
let cached: ProbeResult | undefined;
let cachedVersion = -1;
let reporting = false;

/** Options of {@link probe}. */
export interface ProbeOptions {
  /** Probe again instead of returning the cached result. Default false. */
  refresh?: boolean;
}

/**
 * What this machine offers: kernel, KVM flavour (hardware, PVM or none, with the evidence),
 * userfaultfd and its features, PAGEMAP_SCAN, io_uring, THP, hugetlb, memfd, and per capability
 * the mechanism each runtime uses, as reported by the packages loaded in this process.
 *
 * Every answer comes from trying (opening /dev/kvm, io_uring_setup, UFFDIO_API, the PAGEMAP_SCAN
 * ioctl) or from /proc and /sys. Blocks for a few milliseconds the first time; the result is cached
 * for the process (a frozen object) unless `refresh` is set. Never throws for a missing mechanism.
 */
export function probe(options: ProbeOptions = {}): ProbeResult {
  if (typeof options !== 'object' || options === null)
    throw Object.assign(new TypeError('options must be an object'), { code: 'DBOS_EINVAL' });
  if (!facts || options.refresh) {
    facts = shape(addon.probeRun());
    cached = undefined;
  }
  // A package loaded since the last call adds its report: the facts stay cached, the result is new.
  if (!cached || cachedVersion !== mechanismsVersion()) {
    if (reporting)
      throw new DbosError('DBOS_EBUSY', 'probe() was called from inside a mechanism report: use the facts the report is given');
    reporting = true;
    try {
      const frozenFacts = deepFreeze(facts);
      cached = deepFreeze({ ...frozenFacts, mechanisms: mechanismReports(frozenFacts) });
      cachedVersion = mechanismsVersion();
    } finally {
      reporting = false;
    }
  }
  return cached;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
