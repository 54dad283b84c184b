// What this machine offers @dbos/pagetable.
import { addon, type NativeProbe } from './native.js';

/** Mechanisms @dbos/pagetable uses on this machine (cached after the first call). */
export type PagetableProbe = NativeProbe;

let cached: PagetableProbe | null = null;

/**
 * Which mechanism each capability uses here: `dirty` ('uffd-wp-async' or the
 * 'shadow-compare' fallback), `faults` ('userfaultfd', or
 * 'userfaultfd-user-mode-only' for unprivileged processes under
 * vm.unprivileged_userfaultfd=0, or 'none'), `faultsMinor` (frame slots),
 * `accessed` ('none' on the host), `present`, `hugePages` ('thp' or 'none'),
 * `frames` (memfd frame pools).  Does not block beyond a few system calls.
 */
export function probe(): PagetableProbe {
  cached ??= Object.freeze(addon.probe());
  return cached;
}
