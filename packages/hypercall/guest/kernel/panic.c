/*
 * panic.c - a guest failure becomes a report the host can read: the trap
 * frame's registers, CR2/CR3 and a message go into this vCPU's panic record,
 * then the PANIC doorbell exits to the VMM, which never resumes this vCPU.
 */
#include "kernel.h"

_Noreturn void dbos_kernel_panic(const struct dbos_guest_regs *frame, const char *message)
{
	dbos_kernel_panic_fault(frame, x86_read_cr2(), message);
}

_Noreturn void dbos_kernel_panic_fault(const struct dbos_guest_regs *frame, uint64_t cr2, const char *message)
{
	struct dbos_guest_cpu *cpu = dbos_guest_cpu_self();
	struct dbos_guest_panic *panic = &cpu->panic;
	if (frame)
		panic->regs = *frame;
	panic->cr2 = cr2;
	panic->cr3 = x86_read_cr3();
	size_t length = 0;
	/* Bounded copy: the message may come from a broken engine. */
	while (message && length + 1 < DBOS_GUEST_PANIC_MESSAGE_SIZE && message[length]) {
		panic->message[length] = message[length];
		length++;
	}
	panic->message[length] = 0;
	__atomic_store_n(&panic->valid, 1, __ATOMIC_RELEASE);
	for (;;) {
		dbos_guest_doorbell(DBOS_GUEST_DOORBELL_PANIC, 1);
		__asm__ volatile("cli; hlt");
	}
}
