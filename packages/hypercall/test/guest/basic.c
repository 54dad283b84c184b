/*
 * basic.c - the smallest entry points: they tell a VMM failure from a kernel
 * failure (kvmtool's tests/kernel idea) and report where the engine runs.
 */
#include "dbos/guest_kernel.h"

/* Returns a0 + a1: arguments and result cross the mailbox intact. */
DBOS_GUEST_ENTRY(add)
{
	return (int64_t)(a0 + a1);
}

/* Which vCPU, which ring, how many vCPUs: (ring << 32) | (count << 16) | index. */
DBOS_GUEST_ENTRY(whoami)
{
	uint64_t index = dbos_platform_cpu_id();
	uint64_t count = dbos_platform_cpu_count();
	return (int64_t)(((uint64_t)dbos_guest_cpl() << 32) | (count << 16) | index);
}

/* a0 kernel calls (NOP) through the gate; returns elapsed guest ns. */
DBOS_GUEST_ENTRY(kcall_nop_loop)
{
	uint64_t start = dbos_platform_now_ns();
	for (uint64_t i = 0; i < a0; i++)
		dbos_guest_kcall(DBOS_KCALL_NOP, 0, 0, 0, 0);
	return (int64_t)(dbos_platform_now_ns() - start);
}

/* Spin natively for a0 ns; returns the guest clock's elapsed ns. */
DBOS_GUEST_ENTRY(spin_ns)
{
	uint64_t start = dbos_platform_now_ns();
	while (dbos_platform_now_ns() - start < a0)
		dbos_platform_relax();
	return (int64_t)(dbos_platform_now_ns() - start);
}

/* Atomically add 1 to the u64 at guest-physical a0, a1 times (two-vCPU test). */
DBOS_GUEST_ENTRY(atomic_add_loop)
{
	uint64_t *word = (uint64_t *)(uintptr_t)a0;
	if (a0 < DBOS_GUEST_POOL_GPA || !DBOS_IS_ALIGNED(a0, 8))
		return -(int64_t)DBOS_EINVAL;
	for (uint64_t i = 0; i < a1; i++)
		__atomic_fetch_add(word, 1, __ATOMIC_RELAXED);
	return (int64_t)__atomic_load_n(word, __ATOMIC_RELAXED);
}

/*
 * Periodic LAPIC timer with period a0 ns while spinning a1 ns with
 * interrupts on; returns ticks received.
 */
DBOS_GUEST_ENTRY(timer_ticks)
{
	struct dbos_guest_cpu *cpu = dbos_guest_cpu_self();
	volatile uint64_t *ticks = &cpu->timer_ticks;
	uint64_t before = *ticks;
	dbos_guest_kcall(DBOS_KCALL_TIMER_START, a0, 0, 0, 0);
	uint64_t start = dbos_platform_now_ns();
	while (dbos_platform_now_ns() - start < a1)
		dbos_platform_relax();
	dbos_guest_kcall(DBOS_KCALL_TIMER_STOP, 0, 0, 0, 0);
	return (int64_t)(*ticks - before);
}

/* Recurse a0 frames deep, each with 1 KiB on the stack: past ~180 the engine stack's guard faults. */
DBOS_GUEST_ENTRY(stack_depth)
{
	volatile uint8_t frame[1024];
	frame[0] = (uint8_t)a0;
	if (a0 == 0)
		return frame[0];
	return stack_depth(a0 - 1, a1, a2, a3) + frame[0] - frame[0] + 1;
}
