/*
 * pt_runtime.h - the hooks a runtime implements for the pagetable core.
 *
 * The core (the csrc top level) validates page sets, keeps per-page state, coalesces
 * pages into runs and calls one hook per run.  Each runtime implements every
 * function below once:
 *
 *   csrc/host/   Linux user space: mmap MAP_FIXED, mremap, madvise,
 *                memfd, userfaultfd, PAGEMAP_SCAN
 *   csrc/guest/  the dbos guest kernel: PTE writes, INVLPG, #PF handler,
 *                hardware accessed/dirty bits
 *
 * Runs are given as (first page index, page count) in the region; the
 * address is region->base + first * DBOS_PAGE_SIZE.  The core guarantees:
 * count >= 1, the run lies inside the region, the run's pages all had the
 * same state before the call, and calls on one region's overlapping runs
 * never race.  Hooks return DBOS_OK or an operating error; they never
 * update the core's page entries (the core does, after DBOS_OK).
 *
 * A batch (one public operation) ends with dbos_pt_rt_batch_end(), where a
 * runtime that defers work (TLB flushes, queued PTE writes) must finish it:
 * after batch_end returns, every thread sees the new mappings.
 */
#ifndef DBOS_PT_RUNTIME_H
#define DBOS_PT_RUNTIME_H

#include "dbos/pagetable.h"

/* Runtime-private state, defined by each runtime (host: pt_host.h). */
struct dbos_pt_rt_region;
struct dbos_pt_rt_frames;

/* ---- Capabilities ------------------------------------------------------ */

/* Fill every field (the core caches the result). */
void dbos_pt_rt_probe(dbos_pt_capabilities *capabilities);

/*
 * Bytes of memory the runtime can back at most (host: the machine's RAM).
 * The core refuses one operation that would need more than half of it
 * (dbos_pt_memory_check), so no page set is large enough to exhaust it.
 */
uint64_t dbos_pt_rt_memory_bytes(void);

/* ---- Region lifecycle -------------------------------------------------- */

/*
 * Reserve region->size bytes (2 MiB aligned, nothing accessible), set
 * region->base and region->rt.  With DBOS_PT_REGION_HUGE_PAGES in
 * region->flags, anonymous runs should prefer 2 MiB pages.
 */
dbos_status dbos_pt_rt_region_init(dbos_pt_region *region);

/* Stop tracking and fault service, release all mappings, the reservation and region->rt. */
void dbos_pt_rt_region_fini(dbos_pt_region *region);

/* ---- Per-run page operations ------------------------------------------ */

/* UNMAPPED/ANON/FRAME → fresh anonymous zero pages with `prot`. */
dbos_status dbos_pt_rt_map_anon(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_prot prot);

/* → frames [frame_first, frame_first + count) of `frames`, shared, with `prot`. */
dbos_status dbos_pt_rt_map_frames(dbos_pt_region *region, uint64_t first, uint64_t count, dbos_pt_frames *frames,
				  uint64_t frame_first, enum dbos_prot prot);

/* → UNMAPPED: inaccessible, anonymous memory freed, the address range stays reserved. */
dbos_status dbos_pt_rt_unmap(dbos_pt_region *region, uint64_t first, uint64_t count);

/* ANON run: drop contents (reads zeros), keep mapped with the same protection. */
dbos_status dbos_pt_rt_discard_anon(dbos_pt_region *region, uint64_t first, uint64_t count);

/*
 * Several ANON runs at once (firsts[i], counts[i]; 1 <= run_count <=
 * DBOS_PT_RUNS_MAX): the same as dbos_pt_rt_discard_anon on each, in as few
 * calls as the runtime can make (host: one process_madvise).  Optional: the
 * core has a weak default that calls dbos_pt_rt_discard_anon per run.
 */
#define DBOS_PT_RUNS_MAX 64
dbos_status dbos_pt_rt_discard_anon_runs(dbos_pt_region *region, const uint64_t *firsts, const uint64_t *counts,
					 uint32_t run_count);

/* ANON or FRAME run: new protection. */
dbos_status dbos_pt_rt_protect(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_prot prot);

/* ANON or FRAME run: back with memory now. */
dbos_status dbos_pt_rt_populate(dbos_pt_region *region, uint64_t first, uint64_t count);

/*
 * ANON run at `source` → `target` (disjoint), without copying: target shows
 * the source's pages with their protection; source becomes UNMAPPED.
 */
dbos_status dbos_pt_rt_move_anon(dbos_pt_region *region, uint64_t source, uint64_t target, uint64_t count);

/* End of one public operation: make deferred work visible to every thread. */
void dbos_pt_rt_batch_end(dbos_pt_region *region);

/* ---- Frame pools ------------------------------------------------------- */

/* Create the backing for frames->count frames; set frames->address (its own RW mapping) and frames->rt. */
dbos_status dbos_pt_rt_frames_init(dbos_pt_frames *frames);
void dbos_pt_rt_frames_fini(dbos_pt_frames *frames);

/* Free the memory of frames [first, first + count) (they read zeros afterwards, everywhere). */
dbos_status dbos_pt_rt_frames_release(dbos_pt_frames *frames, uint64_t first, uint64_t count);

/* ---- Dirty, present and accessed pages ---------------------------------- */

/* Arm write tracking over the region (mechanism is what the runtime probed, never SHADOW_COMPARE). */
dbos_status dbos_pt_rt_dirty_start(dbos_pt_region *region, enum dbos_pt_dirty_mechanism mechanism);
dbos_status dbos_pt_rt_dirty_stop(dbos_pt_region *region);

/* Same contract as dbos_pt_dirty_collect / dbos_pt_dirty_reset (arguments already validated). */
dbos_status dbos_pt_rt_dirty_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
				     uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out);
dbos_status dbos_pt_rt_dirty_reset(dbos_pt_region *region, uint64_t first, uint64_t count);

/* Called only where the runtime's probe reported `present`. */
dbos_status dbos_pt_rt_present_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t *pages,
				       uint64_t capacity, uint64_t *found_out, uint64_t *next_out);
dbos_status dbos_pt_rt_accessed_collect(dbos_pt_region *region, uint64_t first, uint64_t count, uint32_t flags,
					uint32_t *pages, uint64_t capacity, uint64_t *found_out, uint64_t *next_out);

/* ---- Faults ------------------------------------------------------------ */

/*
 * Start delivering first touches of the region's mapped pages to
 * dbos_pt_fault_dispatch() (MISSING for ANON runs, MINOR for FRAME runs
 * where supported); runs mapped later must be covered as well.
 */
dbos_status dbos_pt_rt_fault_enable(dbos_pt_region *region);
dbos_status dbos_pt_rt_fault_disable(dbos_pt_region *region);

/* Resolve a fault delivered by this runtime (see dbos_pt_fault_copy and friends). */
dbos_status dbos_pt_rt_fault_copy(const dbos_pt_fault *fault, const void *bytes);
dbos_status dbos_pt_rt_fault_zero(const dbos_pt_fault *fault);
dbos_status dbos_pt_rt_fault_continue(const dbos_pt_fault *fault);

/* Leave the page failing (poison where possible, zeros otherwise): the handler did not resolve it. */
void dbos_pt_rt_fault_fail(const dbos_pt_fault *fault);

/* ---- Called by runtimes, implemented by the core ------------------------ */

/*
 * Hand one fault to the region's handler; returns after it is resolved
 * (calls dbos_pt_rt_fault_fail when the handler did not resolve it).
 */
void dbos_pt_fault_dispatch(dbos_pt_fault *fault);

#endif /* DBOS_PT_RUNTIME_H */
