/*
 * host_baseline.h - the host counterparts of the guest runtime's operations,
 * measured in C so the comparison has no JavaScript in it (bench/guest.ts).
 * Benchmark-only: built into .ctest/bench_host.node by buildTestAddon, never
 * into the package's addon.
 */
#ifndef DBOS_BENCH_HOST_BASELINE_H
#define DBOS_BENCH_HOST_BASELINE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum host_baseline_kind {
	HOST_BASELINE_SYSCALL = 1, /* a: calls;  ns per getppid() */
	HOST_BASELINE_UFFD = 2,    /* a: pages;  ns per userfaultfd-resolved first touch */
	HOST_BASELINE_REMAP = 3,   /* a: rounds; ns per mmap(MAP_FIXED) + write + madvise + unmap */
	HOST_BASELINE_TIMER = 4,   /* a: period ns, b: duration ns; ns a spinning thread loses per SIGALRM */
};

/* Measure `what`; 0 with *ns_out set, or a negative errno (-EINVAL for bad arguments). */
int host_baseline_run(enum host_baseline_kind what, uint64_t a, uint64_t b, double *ns_out);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_BENCH_HOST_BASELINE_H */
