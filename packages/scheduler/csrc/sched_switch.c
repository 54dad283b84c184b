/*
 * sched_switch.c - the x86-64 context switch, the preemption trampoline and
 * their sanitizer annotations.
 *
 * A switch saves the callee-saved registers (rbx, rbp, r12-r15) on the old
 * stack, stores rsp, loads the new rsp and pops the new context's registers:
 * everything else is dead across a call by the System V ABI.  The x87 control
 * word and MXCSR are callee-saved too but are not switched: tasks share the
 * process's floating-point modes (nothing in dbos changes them).
 *
 * The preemption trampoline is the other way in: the signal handler makes the
 * interrupted task "call" it at the instruction it interrupted, so it saves
 * every register the interrupted code may be using (all general registers,
 * flags, and the full vector state with XSAVE) before calling C.
 */
#include "sched_internal.h"

/* void sched_swap(void **save_sp, void *load_sp) */
__asm__(".text\n"
	".p2align 4\n"
	".type sched_swap, @function\n"
	"sched_swap:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size sched_swap, .-sched_swap\n"

	/* A new fiber's first return lands here: entry(argument) from r13(r12). */
	".p2align 4\n"
	".type sched_fiber_start, @function\n"
	"sched_fiber_start:\n"
	"	movq %r12, %rdi\n"
	"	callq *%r13\n"
	"	ud2\n" /* entries never return */
	".size sched_fiber_start, .-sched_fiber_start\n");

void sched_swap(void **save_sp, void *load_sp);
void sched_fiber_start(void);

/*
 * Entered from the signal handler's redirect with the interrupted rip on the
 * stack, 128 bytes (the red zone) below the interrupted rsp.  Saves what the
 * interrupted code may hold, calls sched_preempt_immediate(), restores, and
 * returns to the interrupted rip with `ret $128`, which also gives the red
 * zone back.
 */
__asm__(".text\n"
	".p2align 4\n"
	".globl sched_preempt_trampoline\n"
	".hidden sched_preempt_trampoline\n"
	".type sched_preempt_trampoline, @function\n"
	"sched_preempt_trampoline:\n"
	"	pushfq\n"
	"	cld\n" /* the ABI wants DF clear at calls */
	"	pushq %rax\n"
	"	pushq %rcx\n"
	"	pushq %rdx\n"
	"	pushq %rsi\n"
	"	pushq %rdi\n"
	"	pushq %r8\n"
	"	pushq %r9\n"
	"	pushq %r10\n"
	"	pushq %r11\n"
	"	pushq %rbx\n"
	"	movq %rsp, %rbx\n"
	"	movl sched_xsave_bytes(%rip), %eax\n"
	"	subq %rax, %rsp\n"
	"	andq $-64, %rsp\n"
	"	xorl %eax, %eax\n" /* XRSTOR faults on a header with stale reserved bytes */
	"	movq %rax, 512(%rsp)\n"
	"	movq %rax, 520(%rsp)\n"
	"	movq %rax, 528(%rsp)\n"
	"	movq %rax, 536(%rsp)\n"
	"	movq %rax, 544(%rsp)\n"
	"	movq %rax, 552(%rsp)\n"
	"	movq %rax, 560(%rsp)\n"
	"	movq %rax, 568(%rsp)\n"
	"	cmpb $0, sched_use_xsave(%rip)\n"
	"	je 1f\n"
	"	movl $-1, %eax\n"
	"	movl $-1, %edx\n"
	"	xsave64 (%rsp)\n"
	"	jmp 2f\n"
	"1:	fxsave64 (%rsp)\n"
	"2:	call sched_preempt_immediate\n"
	"	cmpb $0, sched_use_xsave(%rip)\n"
	"	je 3f\n"
	"	movl $-1, %eax\n"
	"	movl $-1, %edx\n"
	"	xrstor64 (%rsp)\n"
	"	jmp 4f\n"
	"3:	fxrstor64 (%rsp)\n"
	"4:	movq %rbx, %rsp\n"
	"	popq %rbx\n"
	"	popq %r11\n"
	"	popq %r10\n"
	"	popq %r9\n"
	"	popq %r8\n"
	"	popq %rdi\n"
	"	popq %rsi\n"
	"	popq %rdx\n"
	"	popq %rcx\n"
	"	popq %rax\n"
	"	popfq\n"
	"	ret $128\n"
	".size sched_preempt_trampoline, .-sched_preempt_trampoline\n");

/* Read by the trampoline: bytes of the save area (+64 for alignment), and XSAVE or FXSAVE. */
SCHED_HIDDEN uint32_t sched_xsave_bytes = 512 + 64 + 64;
SCHED_HIDDEN uint8_t sched_use_xsave;

static void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	__asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3]) : "a"(leaf), "c"(subleaf));
}

/* Size the trampoline's save area for the vector state this CPU and kernel enabled. */
void sched_switch_probe(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	bool osxsave = (r[2] >> 27) & 1;
	if (!osxsave)
		return; /* FXSAVE: x87 and SSE, 512 bytes */
	cpuid(0xd, 0, r);
	if (r[1] < 576)
		return;
	__atomic_store_n(&sched_xsave_bytes, r[1] + 64, __ATOMIC_RELAXED);
	__atomic_store_n(&sched_use_xsave, 1, __ATOMIC_RELAXED);
}

/* ---- Sanitizer annotations ---------------------------------------------------------- */

#ifdef SCHED_ASAN
void __asan_unpoison_memory_region(const volatile void *address, size_t size);
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif
#ifdef SCHED_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

void sched_switch(struct sched_context *from, struct sched_context *to, bool from_exits)
{
#ifdef SCHED_ASAN
	__sanitizer_start_switch_fiber(from_exits ? NULL : &from->asan_fake_stack, to->stack_bottom, to->stack_size);
#endif
#ifdef SCHED_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	(void)from_exits;
	sched_swap(&from->sp, to->sp);
#ifdef SCHED_ASAN
	/* Back in `from`: note whose stack we came from (a worker's, which the core cannot ask for). */
	__sanitizer_finish_switch_fiber(from->asan_fake_stack, &from->resumer_bottom, &from->resumer_size);
#endif
}

/*
 * First thing a new fiber does: complete the sanitizer's half of the switch
 * that started it, and learn the bounds of the stack it came from (a
 * worker's thread stack, which the core has no other way to know).
 */
void sched_fiber_entered(struct sched_context *from)
{
#ifdef SCHED_ASAN
	const void *bottom = NULL;
	size_t size = 0;
	__sanitizer_finish_switch_fiber(NULL, &bottom, &size);
	from->stack_bottom = bottom;
	from->stack_size = size;
#else
	(void)from;
#endif
}

/* The calling thread's own context (a worker's loop, or the creator during calibration). */
void sched_context_self(struct sched_context *context)
{
	*context = (struct sched_context){ 0 };
#ifdef SCHED_TSAN
	context->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void sched_context_init(struct sched_context *context, struct sched_stack *stack, void (*entry)(void *), void *argument)
{
	/*
	 * The frame sched_swap pops: r15 r14 r13 r12 rbx rbp, then the return
	 * into sched_fiber_start, after which rsp must be 16-byte aligned so
	 * that its call gives entry the alignment the ABI promises.
	 */
	uintptr_t top = DBOS_ALIGN_DOWN(sched_stack_high(stack), 16) - 16;
	uint64_t *frame = (uint64_t *)(top - 7 * sizeof(uint64_t));
	frame[0] = 0;                             /* r15 */
	frame[1] = 0;                             /* r14 */
	frame[2] = (uint64_t)(uintptr_t)entry;    /* r13 */
	frame[3] = (uint64_t)(uintptr_t)argument; /* r12 */
	frame[4] = 0;                             /* rbx */
	frame[5] = 0;                             /* rbp: ends frame-pointer walks */
	frame[6] = (uint64_t)(uintptr_t)sched_fiber_start;
	*context = (struct sched_context){ .sp = frame };
#ifdef SCHED_ASAN
	/* A reused stack still carries the poisoned redzones of the frames its last fiber left. */
	__asan_unpoison_memory_region((const void *)sched_stack_low(stack),
				      sched_stack_high(stack) - sched_stack_low(stack));
	context->stack_bottom = (const void *)sched_stack_low(stack);
	context->stack_size = sched_stack_high(stack) - sched_stack_low(stack);
#endif
#ifdef SCHED_TSAN
	if (!stack->tsan_fiber)
		stack->tsan_fiber = __tsan_create_fiber(0);
	context->tsan_fiber = stack->tsan_fiber;
#endif
}

/* A fiber resumed by `resumer` (a worker): teach the worker's context its stack bounds. */
void sched_fiber_resumed(struct sched_context *self, struct sched_context *resumer)
{
#ifdef SCHED_ASAN
	resumer->stack_bottom = self->resumer_bottom;
	resumer->stack_size = self->resumer_size;
#else
	(void)self;
	(void)resumer;
#endif
}

/* The stack is about to be unmapped: drop what the sanitizers keep for it (from another fiber). */
void sched_stack_sanitizer_release(struct sched_stack *stack)
{
#ifdef SCHED_TSAN
	if (stack->tsan_fiber)
		__tsan_destroy_fiber(stack->tsan_fiber);
	stack->tsan_fiber = NULL;
#endif
	(void)stack;
}

/* ---- Measuring the switch --------------------------------------------------------------- */

/*
 * Batches of round trips; the fastest batch is the answer, so a batch the
 * kernel interrupted (the machine is shared) does not count.
 */
#define CALIBRATION_BATCHES 16u
#define CALIBRATION_ROUNDS 1000u

struct calibration {
	struct sched_context self, fiber;
	uint32_t rounds;
	bool stop;
};

static void calibration_fiber(void *opaque)
{
	struct calibration *c = opaque;
	sched_fiber_entered(&c->self);
	for (;;) {
		c->rounds++;
		sched_switch(&c->fiber, &c->self, c->stop);
	}
}

/* Nanoseconds for one switch (half a round trip), measured on the calling thread. */
uint64_t sched_measure_switch_ns(struct dbos_sched *sched)
{
	struct sched_stack *stack;
	if (sched_stack_get(sched, &stack) != DBOS_OK)
		return 0;
	struct calibration c = { .rounds = 0 };
	sched_context_self(&c.self);
	sched_context_init(&c.fiber, stack, calibration_fiber, &c);
	sched_switch(&c.self, &c.fiber, false); /* warm up: first entry */
	uint64_t best = UINT64_MAX;
	for (uint32_t batch = 0; batch < CALIBRATION_BATCHES; batch++) {
		uint64_t start = dbos_platform_now_ns();
		for (uint32_t i = 0; i < CALIBRATION_ROUNDS; i++)
			sched_switch(&c.self, &c.fiber, false);
		uint64_t elapsed = dbos_platform_now_ns() - start;
		if (elapsed < best)
			best = elapsed;
	}
	c.stop = true; /* one more round trip: the fiber leaves for good */
	sched_switch(&c.self, &c.fiber, false);
	sched_stack_sanitizer_release(stack); /* the calibration fiber ended mid-frame; tasks start afresh */
	sched_stack_put(sched, stack);
	return best / (2u * CALIBRATION_ROUNDS);
}
