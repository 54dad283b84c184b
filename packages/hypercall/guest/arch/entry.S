/*
 * entry.S - the dbos guest kernel's only assembly: boot entry, trap stubs,
 * the common trap path and the drop to ring 3.
 *
 *   void kernel_entry(struct dbos_guest_cpu *cpu);            rdi = cpu, rsp = kernel stack
 *   void dbos_trap(struct dbos_guest_regs *frame);            C, called for every vector
 *   _Noreturn void dbos_engine_enter_ring3(void (*loop)(struct dbos_guest_cpu *),
 *                                          struct dbos_guest_cpu *cpu, uint64_t rsp);
 *   uint64_t dbos_trap_vectors[256];                          stub address per vector
 *
 * The host enters kernel_entry in 64-bit mode with paging on, GDT/IDT/TSS
 * loaded (KVM_SET_SREGS), so there is no real-mode code.  Under PVM every
 * ring-0 instruction is emulated (~0.7 us each): the paths here are short on
 * purpose.
 */
	.code64
	.section .text.entry, "ax"

	.globl kernel_entry
kernel_entry:
	xor %ebp, %ebp			/* terminate frame-pointer walks */
	call dbos_kernel_main		/* (rdi = cpu) never returns */
1:	hlt
	jmp 1b

/*
 * dbos_engine_enter_ring3(loop, cpu, rsp): iretq into ring 3 at loop(cpu)
 * with interrupts enabled.  iretq, not sysret: sysret raises #GP in PVM's
 * emulated ring 0 (docs/guest-boot.md).
 */
	.globl dbos_engine_enter_ring3
dbos_engine_enter_ring3:
	mov %rdi, %rax			/* loop */
	mov %rsi, %rdi			/* its argument: cpu */
	pushq $0x23			/* SS: user data, RPL 3 */
	pushq %rdx			/* RSP: engine stack top */
	pushq $0x202			/* RFLAGS: IF | reserved bit 1 */
	pushq $0x2b			/* CS: user code64, RPL 3 */
	pushq %rax			/* RIP */
	xor %esi, %esi
	xor %edx, %edx
	xor %ebp, %ebp
	iretq

/*
 * dbos_engine_enter_ring0(loop, cpu, rsp): hardware virtualization runs the
 * engine in ring 0 on its own stack with interrupts enabled.
 */
	.globl dbos_engine_enter_ring0
dbos_engine_enter_ring0:
	mov %rdi, %rax			/* loop */
	mov %rsi, %rdi			/* cpu */
	mov %rdx, %rsp			/* engine stack top */
	xor %ebp, %ebp
	sti
	call *%rax			/* never returns */
1:	hlt
	jmp 1b

/*
 * Trap stubs: one per vector, so the common path knows the vector.  The CPU
 * pushes an error code for vectors 8, 10-14, 17, 21, 29, 30; the other stubs
 * push 0 so every frame has the same shape (struct dbos_guest_regs).
 */
	.macro TRAP_STUB vector, has_error
	.p2align 4
trap_stub_\vector:
	.if \has_error == 0
	pushq $0
	.endif
	pushq $\vector
	jmp trap_common
	.endm

	.irp v, 0,1,2,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31,255
	TRAP_STUB \v, 0
	.endr
	.irp v, 8,10,11,12,13,17,21,29,30
	TRAP_STUB \v, 1
	.endr

/*
 * Fast paths.  Under PVM every ring-0 instruction is emulated and each memory
 * access costs a shadow-MMU walk (~2-3 us), so the hottest vectors skip the
 * full frame: the engine's INVLPG and NOP kernel calls, and the two
 * interrupts that only count and EOI.  Everything else takes trap_common.
 *
 * #BP from ring 3 (CS.RPL = 3 at 8(%rsp): no error code on this vector):
 *   rax = DBOS_KCALL_NOP (0)             -> return 0
 *   rax = DBOS_KCALL_INVLPG (1)          -> invlpg (%rdi), return 0
 *   rax = DBOS_KCALL_DOORBELL_SYNC (10)  -> out to DBOS_GUEST_PORT_SYNC, return 0
 *   rax = DBOS_KCALL_DOORBELL_DONE (11)  -> out to DBOS_GUEST_PORT_DONE, return 0
 */
	.p2align 4
trap_stub_3:
	testb $3, 8(%rsp)
	jz 2f				/* int3 in ring 0 is a real breakpoint: panic */
	cmp $1, %rax			/* DBOS_KCALL_INVLPG */
	jne 1f
	invlpg (%rdi)
	xor %eax, %eax
	iretq
1:	cmp $10, %rax			/* DBOS_KCALL_DOORBELL_SYNC */
	jne 3f
	out %al, $0xdb			/* DBOS_GUEST_PORT_SYNC: exits; the ring is served on return */
	xor %eax, %eax
	iretq
3:	cmp $11, %rax			/* DBOS_KCALL_DOORBELL_DONE */
	jne 4f
	out %al, $0xdc			/* DBOS_GUEST_PORT_DONE */
	xor %eax, %eax
	iretq
4:	test %rax, %rax			/* DBOS_KCALL_NOP */
	jnz 2f
	iretq
2:	pushq $0
	pushq $3
	jmp trap_common

/*
 * #PF from ring 3 (the PVM engine): an upcall, like a signal.  Emulated ring
 * 0 costs microseconds per instruction, so instead of running fault handlers
 * here, write the fault on the engine's stack and return to ring 3 at
 * dbos_fault_upcall_entry, where the handler runs natively.  Below the
 * interrupted rsp, past a 128-byte red zone:
 *   rsp-136 rip, rsp-144 rflags, rsp-152 cr2, rsp-160 error code
 * Faults in ring 0 (the kernel, or the engine on hardware) take trap_common.
 * Stack on entry: error code, rip, cs, rflags, rsp, ss.
 */
	.p2align 4
trap_stub_14:
	testb $3, 16(%rsp)
	jz 1f
	push %rax
	push %rdx
	mov 48(%rsp), %rax		/* the engine's rsp */
	mov 24(%rsp), %rdx		/* rip */
	mov %rdx, -136(%rax)
	mov 40(%rsp), %rdx		/* rflags */
	mov %rdx, -144(%rax)
	mov %cr2, %rdx
	mov %rdx, -152(%rax)
	mov 16(%rsp), %rdx		/* error code */
	mov %rdx, -160(%rax)
	sub $160, %rax
	mov %rax, 48(%rsp)		/* return onto the upcall frame ... */
	movq $dbos_fault_upcall_entry, 24(%rsp) /* ... at the trampoline */
	pop %rdx
	pop %rax
	add $8, %rsp			/* error code */
	iretq
1:	pushq $14
	jmp trap_common

/*
 * dbos_fault_upcall_entry (ring 3): save every register, call
 *   bool dbos_fault_upcall(struct dbos_fault_upcall_frame *frame);
 * and resume the faulting instruction with everything restored (popfq then
 * `ret $128` pops rip and skips the red zone: rsp is back where it was).
 * If no handler resolved the fault, kernel call DBOS_KCALL_FAULT_UNHANDLED
 * (rdi = frame) reports a panic with the faulting context; it never returns.
 */
	.p2align 4
	.globl dbos_fault_upcall_entry
dbos_fault_upcall_entry:
	push %r15
	push %r14
	push %r13
	push %r12
	push %rbp
	push %rbx
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	mov %rsp, %rbx			/* the frame; rbx survives the call */
	mov %rsp, %rdi
	and $-16, %rsp			/* C ABI alignment */
	cld
	call dbos_fault_upcall
	mov %rbx, %rsp
	test %al, %al
	jz 2f
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	pop %rbx
	pop %rbp
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	add $16, %rsp			/* error code, cr2 */
	popfq				/* the faulting code's flags */
	ret $128
2:	mov %rbx, %rdi
	mov $9, %eax			/* DBOS_KCALL_FAULT_UNHANDLED */
	int3
	ud2				/* not reached */

/*
 * Timer (0x40) and completion (0x41) interrupts: bump a counter in this
 * vCPU's struct dbos_guest_cpu (found from rsp: every stack of a vCPU lies in
 * its 256 KiB-aligned area) and EOI (x2APIC MSR 0x80b).  The offsets are
 * pinned by _Static_assert in kernel/header.c.
 */
	.macro COUNT_AND_EOI vector, offset
	.p2align 4
trap_stub_\vector:
	push %rax
	push %rcx
	push %rdx
	mov %rsp, %rax
	and $~0x3ffff, %rax		/* DBOS_GUEST_CPU_SIZE - 1 */
	incq \offset(%rax)
	mov $0x80b, %ecx		/* x2APIC EOI */
	xor %eax, %eax
	xor %edx, %edx
	wrmsr
	pop %rdx
	pop %rcx
	pop %rax
	iretq
	.endm
	COUNT_AND_EOI 64, 72		/* DBOS_GUEST_VECTOR_TIMER: offsetof(cpu, timer_ticks) */
	COUNT_AND_EOI 65, 80		/* DBOS_GUEST_VECTOR_COMPLETION: offsetof(cpu, completion_irqs) */

/*
 * Common path.  Pushes the 15 general registers (rax first, r15 last, so r15
 * sits at the lowest address: struct dbos_guest_regs), calls dbos_trap, pops
 * them back (dbos_trap may have changed rax: a kernel call's result) and
 * returns with iretq.  Alignment: the CPU aligns rsp to 16 before its 5-word
 * push; with error code and vector that is 7 words, plus 15 here = 22 words:
 * rsp is 16-byte aligned at the call.
 */
trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi			/* frame */
	cld				/* the C ABI wants DF clear */
	call dbos_trap
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp			/* vector, error code */
	iretq

/* Stub address per vector for the host, which builds the IDT from it. */
	.section .rodata.vectors, "a"
	.p2align 3
	.globl dbos_trap_vectors
dbos_trap_vectors:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad trap_stub_\v
	.endr
	.fill 32, 8, 0			/* 32..63: unused */
	.quad trap_stub_64		/* DBOS_GUEST_VECTOR_TIMER */
	.quad trap_stub_65		/* DBOS_GUEST_VECTOR_COMPLETION */
	.fill 189, 8, 0			/* 66..254: unused */
	.quad trap_stub_255		/* DBOS_GUEST_VECTOR_SPURIOUS */

	.section .note.GNU-stack, "", @progbits
