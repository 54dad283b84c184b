/*
 * kcall.c - the kernel calls the engine may make (dbos/guest_abi.h enum
 * dbos_kcall).  Reached by int3 from ring 3 or a direct call in ring 0;
 * arguments are engine values and are checked here.
 */
#include "kernel.h"

static uint64_t kcall_panic(uint64_t message)
{
	/* The engine's message is engine memory: mapped, since the engine just built it. */
	dbos_kernel_panic(0, message ? (const char *)(uintptr_t)message : "engine panic");
}

uint64_t dbos_kcall_dispatch(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	switch (number) {
	case DBOS_KCALL_NOP: return 0;
	case DBOS_KCALL_INVLPG: x86_invlpg(a0); return 0;
	case DBOS_KCALL_FLUSH_TLB: x86_write_cr3(x86_read_cr3()); return 0;
	case DBOS_KCALL_TIMER_START: dbos_apic_timer_start(a0); return 0;
	case DBOS_KCALL_TIMER_STOP: dbos_apic_timer_stop(); return 0;
	case DBOS_KCALL_FAULT_REGISTER: return (uint64_t)dbos_fault_register_kernel(a0, a1, a2, a3);
	case DBOS_KCALL_FAULT_UNREGISTER: dbos_fault_unregister_kernel(a0); return 0;
	case DBOS_KCALL_PANIC: return kcall_panic(a0);
	case DBOS_KCALL_DOORBELL_SYNC: /* ring 0 callers: the same port writes entry.S makes */
		__asm__ volatile("outb %%al, %0" ::"i"(DBOS_GUEST_PORT_SYNC), "a"(0) : "memory");
		return 0;
	case DBOS_KCALL_DOORBELL_DONE:
		__asm__ volatile("outb %%al, %0" ::"i"(DBOS_GUEST_PORT_DONE), "a"(0) : "memory");
		return 0;
	case DBOS_KCALL_HALT:
		/* sti takes effect after hlt, so no interrupt slips in between. */
		__asm__ volatile("sti; hlt; cli" ::: "memory");
		return 0;
	default: return (uint64_t) - (int64_t)DBOS_EINVAL;
	}
}
