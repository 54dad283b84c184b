/*
 * kernel.h - the guest kernel's internal functions, grouped by defining
 * file (xv6 defs.h style), and the few x86 instructions it needs.
 * Everything here runs in guest ring 0 unless its comment says otherwise.
 */
#ifndef DBOS_GUEST_INTERNAL_KERNEL_H
#define DBOS_GUEST_INTERNAL_KERNEL_H

#include "dbos/guest_kernel.h"

/* ---- x86 (ring 0 only) -------------------------------------------------- */

static inline uint64_t x86_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void x86_wrmsr(uint32_t msr, uint64_t value)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
}

static inline uint64_t x86_read_cr2(void)
{
	uint64_t value;
	__asm__ volatile("mov %%cr2, %0" : "=r"(value));
	return value;
}

static inline uint64_t x86_read_cr3(void)
{
	uint64_t value;
	__asm__ volatile("mov %%cr3, %0" : "=r"(value));
	return value;
}

static inline void x86_write_cr3(uint64_t value)
{
	__asm__ volatile("mov %0, %%cr3" ::"r"(value) : "memory");
}

static inline void x86_invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}

/* The MMIO doorbell page (no memory slot behind it). */
static inline void dbos_guest_doorbell(uint32_t offset, uint32_t value)
{
	*(volatile uint32_t *)(uintptr_t)(DBOS_GUEST_MMIO_GPA + offset) = value;
}

/* ---- entry.S ------------------------------------------------------------ */
_Noreturn void dbos_engine_enter_ring3(void (*loop)(struct dbos_guest_cpu *), struct dbos_guest_cpu *cpu, uint64_t rsp);
_Noreturn void dbos_engine_enter_ring0(void (*loop)(struct dbos_guest_cpu *), struct dbos_guest_cpu *cpu, uint64_t rsp);

/* The upcall frame entry.S builds on the engine stack for a ring-3 #PF (lowest address first). */
struct dbos_fault_upcall_frame {
	uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax, rbx, rbp, r12, r13, r14, r15;
	uint64_t error_code, cr2, rflags, rip;
	/* rip + 8 + 128 (the red zone) is the faulting code's rsp */
};

/* ---- main.c ------------------------------------------------------------- */
_Noreturn void dbos_kernel_main(struct dbos_guest_cpu *cpu);

/* ---- trap.c ------------------------------------------------------------- */
void dbos_trap(struct dbos_guest_regs *frame);

/* ---- panic.c ------------------------------------------------------------ */
_Noreturn void dbos_kernel_panic(const struct dbos_guest_regs *frame, const char *message);
/* The same with the fault address given (CR2 may have changed since the fault). */
_Noreturn void dbos_kernel_panic_fault(const struct dbos_guest_regs *frame, uint64_t cr2, const char *message);

/* ---- apic.c ------------------------------------------------------------- */
void dbos_apic_init(void);
void dbos_apic_timer_start(uint64_t period_ns);
void dbos_apic_timer_stop(void);
void dbos_apic_eoi(void);

/* ---- fault.c ------------------------------------------------------------ */
/* Ring 3: a #PF of the engine, delivered by upcall; true when the access can be retried. */
bool dbos_fault_upcall(struct dbos_fault_upcall_frame *frame);
/* Ring 0: report an upcall fault nobody resolved as a panic with the faulting context. */
_Noreturn void dbos_fault_unhandled(const struct dbos_guest_regs *gate_frame,
				    const struct dbos_fault_upcall_frame *frame);
/* True when a registered handler (or a stale TLB entry) explains the fault. */
bool dbos_fault_dispatch(uint64_t address, uint64_t error_code);
int64_t dbos_fault_register_kernel(uint64_t start, uint64_t end, uint64_t handler, uint64_t context);
void dbos_fault_unregister_kernel(uint64_t slot);

/* ---- engine.c (runs in the engine's ring) ------------------------------- */
void dbos_engine_loop(struct dbos_guest_cpu *cpu);

#endif
