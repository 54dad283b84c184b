/*
 * timer.c - benchmark-only entry points (bench/guest.ts): what the guest's
 * timer costs an engine, measured the way bench/host/host_baseline.c
 * measures the host's SIGALRM.
 */
#include "dbos/guest_kernel.h"

/*
 * Time one LAPIC timer tick takes from the engine: spin on the clock for a1 ns
 * with a periodic timer of a0 ns and add up the gaps (a clock step over 1 us:
 * the engine was not running).  Gaps over 500 us are the host descheduling
 * the vCPU, not the tick, and are left out.  Returns ns per delivered tick.
 * The host's bench_timer (bench/host/host_baseline.c) measures SIGALRM the same way.
 */
DBOS_GUEST_ENTRY(timer_gap_ns)
{
	volatile uint64_t *ticks = &dbos_guest_cpu_self()->timer_ticks;
	uint64_t before = *ticks, lost = 0;
	dbos_guest_kcall(DBOS_KCALL_TIMER_START, a0, 0, 0, 0);
	uint64_t start = dbos_platform_now_ns(), last = start;
	while (last - start < a1) {
		uint64_t now = dbos_platform_now_ns();
		if (now - last > 1000 && now - last < 500000)
			lost += now - last;
		last = now;
	}
	dbos_guest_kcall(DBOS_KCALL_TIMER_STOP, 0, 0, 0, 0);
	uint64_t delivered = *ticks - before;
	return delivered ? (int64_t)(lost / delivered) : -1;
}
