/*
 * trap.c - every vector lands in dbos_trap (entry.S builds the frame).
 *
 *   #BP from ring 3      the engine's kernel-call gate (dbos_guest_kcall)
 *   #PF                  registered fault handlers (fault.c), else panic
 *   timer / completion   count, EOI
 *   spurious             ignore (no EOI, by the APIC's rules)
 *   anything else        guest panic with the frame: the host reports it
 */
#include "kernel.h"

#define VECTOR_BREAKPOINT 3u
#define VECTOR_PAGE_FAULT 14u

static const char *const exception_names[32] = {
	"#DE divide error",
	"#DB debug",
	"NMI",
	"#BP breakpoint",
	"#OF overflow",
	"#BR bound range",
	"#UD invalid opcode",
	"#NM device not available",
	"#DF double fault",
	"coprocessor overrun",
	"#TS invalid TSS",
	"#NP segment not present",
	"#SS stack fault",
	"#GP general protection",
	"#PF page fault",
	"reserved 15",
	"#MF x87 error",
	"#AC alignment check",
	"#MC machine check",
	"#XM SIMD error",
	"#VE virtualization",
	"#CP control protection",
	"reserved 22",
	"reserved 23",
	"reserved 24",
	"reserved 25",
	"reserved 26",
	"reserved 27",
	"#HV hypervisor injection",
	"#VC VMM communication",
	"#SX security",
	"reserved 31",
};

void dbos_trap(struct dbos_guest_regs *frame)
{
	uint64_t vector = frame->vector;
	struct dbos_guest_cpu *cpu = dbos_guest_cpu_self();

	if (vector == DBOS_GUEST_VECTOR_TIMER) {
		cpu->timer_ticks++;
		dbos_apic_eoi();
		return;
	}
	if (vector == DBOS_GUEST_VECTOR_COMPLETION) {
		cpu->completion_irqs++;
		dbos_apic_eoi();
		return;
	}
	if (vector == DBOS_GUEST_VECTOR_SPURIOUS)
		return;
	if (vector == VECTOR_BREAKPOINT && (frame->cs & 3u) == 3u) {
		if (frame->rax == DBOS_KCALL_FAULT_UNHANDLED)
			dbos_fault_unhandled(frame, (const struct dbos_fault_upcall_frame *)(uintptr_t)frame->rdi);
		cpu->kcall_count++;
		frame->rax = dbos_kcall_dispatch(frame->rax, frame->rdi, frame->rsi, frame->rdx, frame->r10);
		return;
	}
	if (vector == VECTOR_PAGE_FAULT) {
		if (dbos_fault_dispatch(x86_read_cr2(), frame->error_code))
			return;
		dbos_kernel_panic(frame, "unhandled page fault");
	}
	dbos_kernel_panic(frame, vector < 32 ? exception_names[vector] : "unexpected interrupt");
}
