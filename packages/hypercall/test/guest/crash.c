/*
 * crash.c - deliberate failures: each must come back to the host as a
 * DBOS_EGUEST failure report, never take the host process down.  Cases 5
 * and 6 use instructions PVM cannot run in ring 0, which guest images
 * refuse anywhere else (buildGuestImage's allowPvmForbiddenIn: ['crash']).
 */
#include "dbos/guest_kernel.h"

/*
 * a0: 0 platform panic, 1 NULL read, 2 ud2, 3 divide by zero, 4 write to a read-only page at a1;
 * with the engine in ring 0 (engineRing: 0) also 5 rdtscp, which PVM cannot emulate
 * (KVM_EXIT_INTERNAL_ERROR), and 6 a triple fault (an empty IDT, then ud2: KVM_EXIT_SHUTDOWN).
 */
DBOS_GUEST_ENTRY(crash)
{
	switch (a0) {
	case 0: dbos_platform_panic(__FILE__, __LINE__, "deliberate panic");
	case 1: {
		volatile uint64_t null_page = 8; /* hidden from the optimizer's bounds check */
		return (int64_t) * (volatile uint64_t *)(uintptr_t)null_page;
	}
	case 2: __asm__ volatile("ud2"); return 0;
	case 3: {
		volatile uint64_t zero = 0;
		return (int64_t)(a1 / zero);
	}
	case 4: *(volatile uint64_t *)(uintptr_t)a1 = 1; return 0;
	case 5: {
		uint32_t lo, hi, aux;
		__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
		return (int64_t)(((uint64_t)hi << 32) | lo);
	}
	case 6: {
		struct __attribute__((packed)) {
			uint16_t limit;
			uint64_t base;
		} empty = { 0, 0 };
		__asm__ volatile("lidt %0; ud2" : : "m"(empty));
		return 0;
	}
	default: return -(int64_t)DBOS_EINVAL;
	}
}
