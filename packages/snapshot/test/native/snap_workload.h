/*
 * snap_workload.h - native writer threads for the tests and benchmarks (never shipped).
 *
 * Writers rewrite pages with a self-describing pattern (every 8-byte word is
 * (page << 32) | version), continuously, through the write barrier or raw, and record when each
 * write finished, so a test can check a snapshot byte for byte and a benchmark can see how long
 * writers stood still.
 *
 * The workload is a C engine of its own: it is compiled into a test-only addon without the
 * snapshot core (test/support/writers.ts builds it with buildTestAddon) and attaches to a space
 * created from JavaScript through the space's handle (dbos/snapshot_handle.h), exactly as an
 * engine in another addon would.  Every snapshot call goes through the handle's function table;
 * the quiesce hook it attaches parks every writer between two writes for UFFD_WP and FORK takes.
 */
#ifndef DBOS_SNAP_WORKLOAD_H
#define DBOS_SNAP_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "dbos/snapshot_handle.h"

#define SNAP_WORKLOAD_WRITERS_MAX 8u
/* Quiesces whose captured versions are kept (raw snapshots checked later). */
#define SNAP_WORKLOAD_CAPTURES 16u
/* Epochs whose last versions are kept per page when tracking (tests). */
#define SNAP_WORKLOAD_EPOCHS_MAX 32u

typedef struct snap_workload snap_workload;

typedef struct snap_workload_options {
	uint32_t writer_count;   /* 1..SNAP_WORKLOAD_WRITERS_MAX */
	bool barrier;            /* write through the handle's write_begin / write_end (EPOCH) */
	bool whole_page;         /* rewrite the whole page (tests); else one 64-byte line (benchmarks) */
	bool track_epochs;       /* keep per-epoch versions so snapshot_expected works for EPOCH */
	uint64_t hot_page_count; /* writes go to the first N pages; 0: all pages */
	bool realtime;           /* ask for SCHED_FIFO (benchmarks: other processes cannot preempt writers) */
} snap_workload_options;

typedef struct snap_workload_stats {
	uint64_t writes;
	uint64_t gap_ns_max; /* longest time between two writes of one writer since the last reset */
	uint64_t quiesces;
	uint32_t realtime_writers; /* writers that got SCHED_FIFO */
} snap_workload_stats;

/*
 * A workload over the handle's space, attached to it (its quiesce hook and detach callback):
 * DBOS_EBUSY when another engine is attached, DBOS_ECLOSED when the space closed, DBOS_EINVAL
 * for a handle of another ABI version or page size.
 */
dbos_status snap_workload_create(dbos_snap_handle *handle, snap_workload **workload_out);
/* Stop the writers, leave the space (when still attached) and free. */
void snap_workload_destroy(snap_workload *workload);

/* False once the space closed (its detach callback stopped the writers). */
bool snap_workload_attached(const snap_workload *workload);
uint64_t snap_workload_page_count(const snap_workload *workload);

/* Fill every page with version 0. */
void snap_workload_fill(snap_workload *workload);

dbos_status snap_workload_start(snap_workload *workload, const snap_workload_options *options);
void snap_workload_stop(snap_workload *workload);
bool snap_workload_running(const snap_workload *workload);

/* Stats; `reset_gap` restarts the gap maximum. */
void snap_workload_stats_get(snap_workload *workload, bool reset_gap, snap_workload_stats *stats_out);

/*
 * Versions a snapshot must show, into expected[page_count]: for raw writers the versions
 * captured by quiesce number `quiesce` (stats.quiesces right after the take; the last
 * SNAP_WORKLOAD_CAPTURES are kept); for barrier writers with track_epochs, the last version of
 * an epoch older than `epoch`.  DBOS_ENOTSUP when neither applies.
 */
dbos_status snap_workload_expected(snap_workload *workload, uint64_t epoch, uint64_t quiesce, uint32_t *expected);

/*
 * Count pages of a snapshot image in memory (`pages`, page_count pages) that are not exactly
 * the pattern of expected[page]; *first_bad_out gets the first or UINT64_MAX.
 */
uint64_t snap_workload_mismatches(const snap_workload *workload, const uint8_t *pages, const uint32_t *expected,
				  uint64_t *first_bad_out);

/*
 * Write one word into each of `count` pages from `first` (stride pages apart), one thread,
 * through the barrier when `barrier`; *ns_out gets nanoseconds per write.  DBOS_ERANGE unless
 * every one of those pages is in the space (checked without a product that could wrap).
 */
dbos_status snap_workload_first_writes(snap_workload *workload, bool barrier, uint64_t first, uint64_t count,
				       uint64_t stride, uint64_t *ns_out);

/* The handle entry points snap_workload_entry calls with a caller's values, unchecked here. */
enum snap_workload_entry {
	SNAP_WORKLOAD_PAGE_PREPARE = 0, /* enter, page_prepare(a), leave */
	SNAP_WORKLOAD_WRITE_BEGIN = 1,  /* write_begin(a), write_end */
	SNAP_WORKLOAD_WRITE_COPY = 2,   /* write_copy(offset a, length b) from a source as long as the space */
};

/*
 * Call one entry point of the handle's table with page indexes, offsets and lengths as given (the
 * hostile-call tests: the core must refuse what is outside the space); a writer is registered for
 * the call.  The entry's status; DBOS_EINVAL for an unknown entry.  Aborts if the core hands back
 * an address outside the space.
 */
dbos_status snap_workload_entry(snap_workload *workload, enum snap_workload_entry entry, uint64_t a, uint64_t b);

/*
 * The benchmark's fork peer (snap_fork_peer.c): a fork() child writes `size` raw bytes from
 * `base` to `fd` with pwrite(2) and exits; *ns_out gets the time from the fork to its exit.
 */
dbos_status snap_fork_peer_write(const uint8_t *base, uint64_t size, int fd, uint64_t *ns_out);
/* The peer over the workload's whole space. */
dbos_status snap_workload_fork_pwrite(snap_workload *workload, int fd, uint64_t *ns_out);

#endif
