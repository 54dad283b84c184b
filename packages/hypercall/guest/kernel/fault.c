/*
 * fault.c - page-fault handlers registered by address range.
 *
 * A slot is claimed by CAS on its handler word and published with release
 * order after its range, so the #PF path (any vCPU) reads a complete slot.
 * When no handler resolves it, a fault on an entry that is already present
 * with the rights the access needs is a stale TLB entry (another path edited
 * the PTE without an INVLPG this vCPU saw): flush it and retry.
 */
#include "kernel.h"

#define PF_ERROR_WRITE 0x2u

struct fault_slot {
	uint64_t start;
	uint64_t end;
	uint64_t context;
	uint64_t handler; /* 0: free; written last */
};

static struct fault_slot fault_slots[DBOS_GUEST_FAULT_HANDLER_MAX];
static uint32_t fault_slots_used;        /* high-water mark: the #PF path scans only this far */
static const uint64_t slot_claiming = 1; /* handler value while a slot is being filled */

int64_t dbos_fault_register_kernel(uint64_t start, uint64_t end, uint64_t handler, uint64_t context)
{
	if (start >= end || handler <= slot_claiming)
		return -(int64_t)DBOS_EINVAL;
	for (uint32_t i = 0; i < DBOS_GUEST_FAULT_HANDLER_MAX; i++) {
		uint64_t expected = 0;
		if (!__atomic_compare_exchange_n(&fault_slots[i].handler, &expected, slot_claiming, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		fault_slots[i].start = start;
		fault_slots[i].end = end;
		fault_slots[i].context = context;
		__atomic_store_n(&fault_slots[i].handler, handler, __ATOMIC_RELEASE);
		if (__atomic_load_n(&fault_slots_used, __ATOMIC_RELAXED) <= i)
			__atomic_store_n(&fault_slots_used, i + 1, __ATOMIC_RELEASE);
		return (int64_t)i;
	}
	return -(int64_t)DBOS_ELIMIT;
}

void dbos_fault_unregister_kernel(uint64_t slot)
{
	if (slot < DBOS_GUEST_FAULT_HANDLER_MAX)
		__atomic_store_n(&fault_slots[slot].handler, 0, __ATOMIC_RELEASE);
}

static bool fault_is_stale_tlb(uint64_t address, uint64_t error_code)
{
	uint64_t pte = dbos_guest_pte_query(address);
	if (!(pte & DBOS_PTE_PRESENT))
		return false;
	if ((error_code & PF_ERROR_WRITE) && !(pte & DBOS_PTE_WRITE))
		return false;
	dbos_guest_invlpg(address); /* runs in ring 0 (trap) or ring 3 (upcall) */
	return true;
}

bool dbos_fault_dispatch(uint64_t address, uint64_t error_code)
{
	struct dbos_guest_cpu *cpu = dbos_guest_cpu_self();
	uint32_t used = __atomic_load_n(&fault_slots_used, __ATOMIC_ACQUIRE);
	/* Handlers first: under emulation every instruction on this path costs microseconds. */
	for (uint32_t i = 0; i < used; i++) {
		uint64_t handler = __atomic_load_n(&fault_slots[i].handler, __ATOMIC_ACQUIRE);
		if (handler <= slot_claiming)
			continue;
		if (address < fault_slots[i].start || address >= fault_slots[i].end)
			continue;
		dbos_guest_fault_fn fn = (dbos_guest_fault_fn)(uintptr_t)handler;
		if (fn((void *)(uintptr_t)fault_slots[i].context, address, error_code)) {
			cpu->fault_count++;
			return true;
		}
		return fault_is_stale_tlb(address, error_code);
	}
	return fault_is_stale_tlb(address, error_code);
}

/* ---- The engine's side: the same registry through the kernel-call gate. ---- */

int64_t dbos_guest_fault_register(uint64_t start, uint64_t end, dbos_guest_fault_fn handler, void *context)
{
	return (int64_t)dbos_guest_kcall(DBOS_KCALL_FAULT_REGISTER, start, end, (uint64_t)(uintptr_t)handler,
					 (uint64_t)(uintptr_t)context);
}

void dbos_guest_fault_unregister(int64_t slot)
{
	dbos_guest_kcall(DBOS_KCALL_FAULT_UNREGISTER, (uint64_t)slot, 0, 0, 0);
}

/* ---- Ring-3 delivery (PVM): entry.S turns an engine #PF into this call. ---- */

bool dbos_fault_upcall(struct dbos_fault_upcall_frame *frame)
{
	return dbos_fault_dispatch(frame->cr2, frame->error_code);
}

_Noreturn void dbos_fault_unhandled(const struct dbos_guest_regs *gate_frame,
				    const struct dbos_fault_upcall_frame *frame)
{
	/* Report the faulting context, not the trampoline's: the upcall frame holds it all. */
	struct dbos_guest_regs regs = *gate_frame;
	regs.r11 = frame->r11, regs.r10 = frame->r10, regs.r9 = frame->r9, regs.r8 = frame->r8;
	regs.rdi = frame->rdi, regs.rsi = frame->rsi, regs.rdx = frame->rdx, regs.rcx = frame->rcx;
	regs.rax = frame->rax, regs.rbx = frame->rbx, regs.rbp = frame->rbp, regs.r12 = frame->r12;
	regs.r13 = frame->r13, regs.r14 = frame->r14, regs.r15 = frame->r15;
	regs.vector = 14;
	regs.error_code = frame->error_code;
	regs.rip = frame->rip;
	regs.rflags = frame->rflags;
	regs.rsp = (uint64_t)(uintptr_t)&frame->rip + 8 + 128;
	dbos_kernel_panic_fault(&regs, frame->cr2, "unhandled page fault");
}
