/* main.c - per-vCPU boot: check the host's setup, enable the APIC, start the engine loop. */
#include "kernel.h"

/*
 * The host already loaded GDT, IDT, TSS and page tables (KVM_SET_SREGS) and
 * entered kernel_entry with rsp on this vCPU's kernel stack.  Everything here
 * runs in (possibly emulated) ring 0, so it stays short.
 */
_Noreturn void dbos_kernel_main(struct dbos_guest_cpu *cpu)
{
	const volatile struct dbos_guest_boot *boot = dbos_guest_boot_block();
	if (cpu->magic != DBOS_GUEST_CPU_MAGIC || cpu != dbos_guest_cpu_self() ||
	    boot->abi_version != DBOS_GUEST_ABI_VERSION)
		dbos_kernel_panic(0, "boot: cpu area or boot block does not match this kernel");

	dbos_apic_init();

	uint64_t engine_stack_top = (uint64_t)(uintptr_t)cpu + DBOS_GUEST_CPU_ESTACK_TOP;
	if (boot->engine_ring == 3)
		dbos_engine_enter_ring3(dbos_engine_loop, cpu, engine_stack_top);
	dbos_engine_enter_ring0(dbos_engine_loop, cpu, engine_stack_top);
}
