/*
 * vmm_vcpu.c - one vCPU: its KVM setup, its host thread, and the exit loop.
 *
 * The thread parks until a call is in the mailbox, then runs KVM_RUN until
 * the guest rings DONE (or fails).  Every exit is handled in one switch; a
 * guest failure is recorded with the registers and the vCPU is dead from then
 * on: nothing a guest does ends in abort() or a host crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dbos/platform.h"
#include "vmm.h"

#define CR0_BOOT 0x80010033ull /* PG, WP, NE, ET, MP, PE */
#define CR4_BOOT 0x620ull      /* PAE, OSFXSR, OSXMMEXCPT */
#define EFER_BOOT 0xd01ull     /* LME, LMA, NXE, SCE */
#define RFLAGS_RESERVED 0x2ull
#define CPUID_ENTRIES_MAX 256

/* ---- Kicking a vCPU out of KVM_RUN ---------------------------------------- */

static int kick_signal;
static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

static void kick_handler(int signal_number)
{
	(void)signal_number; /* its only job is to make KVM_RUN / futex return EINTR */
}

/*
 * Take the first real-time signal from SIGRTMIN + 6 up that nobody in this
 * process handles (Node and libuv use none; an embedding application might).
 */
static void kick_install(void)
{
	kick_signal = SIGRTMIN + 6;
	for (int candidate = SIGRTMIN + 6; candidate <= SIGRTMAX; candidate++) {
		struct sigaction current;
		if (sigaction(candidate, NULL, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
		    current.sa_handler == SIG_DFL) {
			kick_signal = candidate;
			break;
		}
	}
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_handler = kick_handler; /* no SA_RESTART: blocking calls return EINTR */
	sigemptyset(&action.sa_mask);
	sigaction(kick_signal, &action, NULL);
}

void vmm_thread_kick(pthread_t thread)
{
	pthread_once(&kick_once, kick_install);
	pthread_kill(thread, kick_signal);
}

void vmm_vcpu_kick(struct vmm_vcpu *vcpu)
{
	if (vcpu->run)
		__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	/*
	 * The service thread kicks too, while dbos_guest_stop joins: the thread
	 * clears thread_live under kick_lock before it returns, so the signal
	 * only ever reaches a thread that still runs.
	 */
	pthread_mutex_lock(&vcpu->kick_lock);
	if (vcpu->thread_live)
		pthread_kill(vcpu->thread, kick_signal);
	pthread_mutex_unlock(&vcpu->kick_lock);
}

/* ---- Setup ---------------------------------------------------------------- */

static dbos_status vcpu_cpuid(struct dbos_guest *vm, struct vmm_vcpu *vcpu, char *reason, size_t reason_size)
{
	size_t size = sizeof(struct kvm_cpuid2) + CPUID_ENTRIES_MAX * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = calloc(1, size);
	if (!cpuid)
		return DBOS_ENOMEM;
	cpuid->nent = CPUID_ENTRIES_MAX;
	dbos_status status = DBOS_OK;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) != 0 || ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) != 0) {
		vmm_set_reason(reason, reason_size, "CPUID setup: %s", strerror(errno));
		status = DBOS_ENOTSUP;
	}
	free(cpuid);
	return status;
}

static void segment_set(struct kvm_segment *segment, uint16_t selector, uint8_t type, bool code64)
{
	memset(segment, 0, sizeof(*segment));
	segment->base = 0;
	segment->limit = 0xffffffffu;
	segment->selector = selector;
	segment->type = type;
	segment->present = 1;
	segment->dpl = 0;
	segment->s = 1;
	segment->l = code64;
	segment->db = !code64;
	segment->g = 1;
}

/* Long mode straight from the host: no real-mode code (docs/guest-boot.md). */
static dbos_status vcpu_registers(struct dbos_guest *vm, struct vmm_vcpu *vcpu, char *reason, size_t reason_size)
{
	struct kvm_sregs sregs;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) != 0)
		goto failed;
	sregs.cr0 = CR0_BOOT;
	sregs.cr4 = CR4_BOOT;
	sregs.efer = EFER_BOOT;
	sregs.cr3 = DBOS_GUEST_PT_GPA;
	segment_set(&sregs.cs, DBOS_GUEST_SEL_KCODE, 11, true);
	segment_set(&sregs.ds, DBOS_GUEST_SEL_KDATA, 3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.base = DBOS_GUEST_TSS_GPA + (uint64_t)vcpu->index * DBOS_GUEST_TSS_STRIDE;
	sregs.tr.limit = 103;
	sregs.tr.selector = (uint16_t)(DBOS_GUEST_SEL_TSS0 + 16u * vcpu->index);
	sregs.tr.type = 11; /* busy 64-bit TSS */
	sregs.tr.present = 1;
	sregs.gdt.base = DBOS_GUEST_GDT_GPA;
	sregs.gdt.limit = (uint16_t)(DBOS_GUEST_SEL_TSS0 + 16u * vm->vcpu_count - 1);
	sregs.idt.base = DBOS_GUEST_IDT_GPA;
	sregs.idt.limit = 256 * 16 - 1;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) != 0)
		goto failed;

	uint64_t cpu = DBOS_GUEST_CPU_GPA + (uint64_t)vcpu->index * DBOS_GUEST_CPU_SIZE;
	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	regs.rip = vm->image->kernel_entry;
	regs.rsp = cpu + DBOS_GUEST_CPU_KSTACK_TOP;
	regs.rdi = cpu;
	regs.rflags = RFLAGS_RESERVED;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) != 0)
		goto failed;

	/* With the in-kernel irqchip, vCPUs other than 0 wait for INIT/SIPI: wake them. */
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	if (vcpu->index > 0 && ioctl(vcpu->fd, KVM_SET_MP_STATE, &runnable) != 0)
		goto failed;
	return DBOS_OK;
failed:
	vmm_set_reason(reason, reason_size, "vCPU %u register setup: %s", vcpu->index, strerror(errno));
	return DBOS_ENOTSUP;
}

dbos_status vmm_vcpu_create(struct dbos_guest *vm, uint32_t index, char *reason, size_t reason_size)
{
	struct vmm_vcpu *vcpu = &vm->vcpus[index];
	pthread_once(&kick_once, kick_install);
	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = vmm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0) {
		vmm_set_reason(reason, reason_size, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
		return DBOS_ENOTSUP;
	}
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0) {
		vmm_set_reason(reason, reason_size, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return DBOS_ENOTSUP;
	}
	void *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		vmm_set_reason(reason, reason_size, "mmap kvm_run: %s", strerror(errno));
		return DBOS_ENOMEM;
	}
	vcpu->run = run;
	vcpu->run_size = (size_t)size;
	if (index == 0) {
		int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
		vm->info.tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	}
	dbos_status status = vcpu_cpuid(vm, vcpu, reason, reason_size);
	return status != DBOS_OK ? status : vcpu_registers(vm, vcpu, reason, reason_size);
}

void vmm_vcpu_destroy(struct vmm_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

/* ---- Failures ------------------------------------------------------------- */

static void failure_registers(struct vmm_vcpu *vcpu, struct dbos_guest_failure *failure)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) != 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) != 0)
		return;
	struct dbos_guest_regs *r = &failure->registers;
	r->rax = regs.rax, r->rbx = regs.rbx, r->rcx = regs.rcx, r->rdx = regs.rdx;
	r->rsi = regs.rsi, r->rdi = regs.rdi, r->rbp = regs.rbp, r->rsp = regs.rsp;
	r->r8 = regs.r8, r->r9 = regs.r9, r->r10 = regs.r10, r->r11 = regs.r11;
	r->r12 = regs.r12, r->r13 = regs.r13, r->r14 = regs.r14, r->r15 = regs.r15;
	r->rip = regs.rip, r->rflags = regs.rflags, r->cs = sregs.cs.selector, r->ss = sregs.ss.selector;
	failure->cr2 = sregs.cr2;
	failure->cr3 = sregs.cr3;
	failure->registers_valid = 1;
}

static dbos_status vcpu_fail(struct vmm_vcpu *vcpu, enum dbos_guest_failure_kind kind, const char *message)
{
	struct dbos_guest_failure failure;
	memset(&failure, 0, sizeof(failure));
	failure.kind = kind;
	failure.vcpu = vcpu->index;
	failure.exit_reason = vcpu->run->exit_reason;
	if (kind == DBOS_GUEST_FAILURE_INTERNAL_ERROR)
		failure.suberror = vcpu->run->internal.suberror;
	if (kind == DBOS_GUEST_FAILURE_FAIL_ENTRY)
		failure.suberror = (uint32_t)vcpu->run->fail_entry.hardware_entry_failure_reason;
	failure_registers(vcpu, &failure);
	snprintf(failure.message, sizeof(failure.message), "vCPU %u: %s", vcpu->index, message);
	vmm_fail(vcpu->vm, &failure);
	return DBOS_EGUEST;
}

/* The guest kernel's own report: its trap frame beats what KVM_GET_REGS sees now. */
static dbos_status vcpu_fail_panic(struct vmm_vcpu *vcpu)
{
	const struct dbos_guest_cpu *cpu = vmm_memory_cpu(vcpu->vm, vcpu->index);
	struct dbos_guest_failure failure;
	memset(&failure, 0, sizeof(failure));
	failure.kind = DBOS_GUEST_FAILURE_PANIC;
	failure.vcpu = vcpu->index;
	failure.exit_reason = KVM_EXIT_MMIO;
	if (__atomic_load_n(&cpu->panic.valid, __ATOMIC_ACQUIRE) == 1) {
		struct dbos_guest_panic panic;
		memcpy(&panic, &cpu->panic, sizeof(panic)); /* one snapshot of guest memory */
		panic.message[sizeof(panic.message) - 1] = 0;
		failure.registers = panic.regs;
		failure.registers_valid = panic.regs.rip != 0;
		failure.cr2 = panic.cr2;
		failure.cr3 = panic.cr3;
		snprintf(failure.message, sizeof(failure.message), "vCPU %u: guest panic: %s", vcpu->index,
			 panic.message);
	} else {
		snprintf(failure.message, sizeof(failure.message), "vCPU %u: guest rang PANIC without a panic record",
			 vcpu->index);
	}
	if (!failure.registers_valid)
		failure_registers(vcpu, &failure);
	vmm_fail(vcpu->vm, &failure);
	return DBOS_EGUEST;
}

/* ---- The exit loop --------------------------------------------------------- */

static bool vm_failed(struct dbos_guest *vm)
{
	pthread_mutex_lock(&vm->failure_lock);
	bool failed = vm->failed;
	pthread_mutex_unlock(&vm->failure_lock);
	return failed;
}

static dbos_status vcpu_doorbell(struct vmm_vcpu *vcpu, uint32_t doorbell, bool *done);

/* An MMIO exit: only writes to the doorbell page are part of the ABI. */
static dbos_status vcpu_mmio(struct vmm_vcpu *vcpu, bool *done)
{
	uint64_t address = vcpu->run->mmio.phys_addr;
	if (!vcpu->run->mmio.is_write || address < DBOS_GUEST_MMIO_GPA || address >= DBOS_GUEST_MMIO_GPA + 0x1000) {
		char message[128];
		snprintf(message, sizeof(message), "%s of unbacked guest-physical address 0x%llx",
			 vcpu->run->mmio.is_write ? "write" : "read", (unsigned long long)address);
		return vcpu_fail(vcpu, DBOS_GUEST_FAILURE_PROTOCOL, message);
	}
	return vcpu_doorbell(vcpu, (uint32_t)(address - DBOS_GUEST_MMIO_GPA), done);
}

/* One doorbell, rung by MMIO write or port write. */
static dbos_status vcpu_doorbell(struct vmm_vcpu *vcpu, uint32_t doorbell, bool *done)
{
	switch (doorbell) {
	case DBOS_GUEST_DOORBELL_SYNC:
		return vmm_hypercall_serve(vcpu, true) == VMM_SERVE_FAILED ? DBOS_EGUEST : DBOS_OK;
	case DBOS_GUEST_DOORBELL_DONE: {
		const struct dbos_guest_cpu *cpu = vmm_memory_cpu(vcpu->vm, vcpu->index);
		if (__atomic_load_n(&cpu->done_seq, __ATOMIC_ACQUIRE) != vcpu->call_seq)
			return vcpu_fail(vcpu, DBOS_GUEST_FAILURE_PROTOCOL, "DONE for a call that was not made");
		vcpu->call_result = (int64_t)__atomic_load_n(&cpu->call_result, __ATOMIC_ACQUIRE);
		*done = true;
		return DBOS_OK;
	}
	case DBOS_GUEST_DOORBELL_PANIC: return vcpu_fail_panic(vcpu);
	default: return vcpu_fail(vcpu, DBOS_GUEST_FAILURE_PROTOCOL, "write to an unknown doorbell");
	}
}

/* A port exit: only OUTs to the two doorbell ports are part of the ABI. */
static dbos_status vcpu_port(struct vmm_vcpu *vcpu, bool *done)
{
	const struct kvm_run *run = vcpu->run;
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.count != 1 ||
	    (run->io.port != DBOS_GUEST_PORT_SYNC && run->io.port != DBOS_GUEST_PORT_DONE)) {
		char message[96];
		snprintf(message, sizeof(message), "port %s 0x%x is not part of the dbos ABI",
			 run->io.direction == KVM_EXIT_IO_OUT ? "write to" : "read from", run->io.port);
		return vcpu_fail(vcpu, DBOS_GUEST_FAILURE_PROTOCOL, message);
	}
	return vcpu_doorbell(
		vcpu, run->io.port == DBOS_GUEST_PORT_SYNC ? DBOS_GUEST_DOORBELL_SYNC : DBOS_GUEST_DOORBELL_DONE, done);
}

/* KVM_RUN until the call is done, the guest fails or the guest is stopping. */
static dbos_status vcpu_run_call(struct vmm_vcpu *vcpu)
{
	struct dbos_guest *vm = vcpu->vm;
	struct kvm_run *run = vcpu->run;
	for (;;) {
		if (atomic_load(&vm->stopping))
			return DBOS_ECLOSED;
		if (vm_failed(vm))
			return DBOS_EGUEST;
		if (ioctl(vcpu->fd, KVM_RUN, 0) != 0) {
			if (errno == EINTR || errno == EAGAIN) {
				if (!atomic_load(&vm->stopping))
					__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			char message[96];
			snprintf(message, sizeof(message), "KVM_RUN: %s", strerror(errno));
			return vcpu_fail(vcpu, DBOS_GUEST_FAILURE_HOST, message);
		}
		bool done = false;
		dbos_status status;
		switch (run->exit_reason) {
		case KVM_EXIT_MMIO: status = vcpu_mmio(vcpu, &done); break;
		case KVM_EXIT_INTR: status = DBOS_OK; break;
		case KVM_EXIT_SHUTDOWN:
			status = vcpu_fail(vcpu, DBOS_GUEST_FAILURE_SHUTDOWN, "triple fault (KVM_EXIT_SHUTDOWN)");
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			status = vcpu_fail(vcpu, DBOS_GUEST_FAILURE_INTERNAL_ERROR,
					   "KVM could not emulate an instruction (KVM_EXIT_INTERNAL_ERROR)");
			break;
		case KVM_EXIT_FAIL_ENTRY:
			status = vcpu_fail(vcpu, DBOS_GUEST_FAILURE_FAIL_ENTRY,
					   "invalid guest state (KVM_EXIT_FAIL_ENTRY)");
			break;
		case KVM_EXIT_IO: status = vcpu_port(vcpu, &done); break;
		default: {
			char message[64];
			snprintf(message, sizeof(message), "unexpected exit reason %u", run->exit_reason);
			status = vcpu_fail(vcpu, DBOS_GUEST_FAILURE_PROTOCOL, message);
			break;
		}
		}
		if (status != DBOS_OK || done)
			return status;
	}
}

/*
 * Answer a posted (async) call: take its completion out of the mailbox and
 * run it without the lock (it may post the next call).  vcpu->lock held on
 * entry and on return.
 */
static void vcpu_answer_posted(struct vmm_vcpu *vcpu, dbos_status status)
{
	dbos_guest_call_done_fn done = vcpu->call_done;
	void *context = vcpu->call_context;
	int64_t result = status == DBOS_OK ? vcpu->call_result : 0;
	DBOS_ASSERT(done != NULL && vcpu->busy);
	vcpu->call_done = NULL;
	vcpu->call_context = NULL;
	vcpu->busy = false;
	if (vcpu->state == VMM_VCPU_DONE)
		vcpu->state = VMM_VCPU_IDLE;
	pthread_mutex_unlock(&vcpu->lock);
	struct dbos_guest_failure failure;
	bool failed = status == DBOS_EGUEST && vmm_failure_copy(vcpu->vm, &failure);
	done(context, status, result, failed ? &failure : NULL);
	pthread_mutex_lock(&vcpu->lock);
}

static void *vcpu_thread(void *opaque)
{
	struct vmm_vcpu *vcpu = opaque;
	struct dbos_guest *vm = vcpu->vm;
	struct dbos_guest_cpu *cpu = vmm_memory_cpu(vm, vcpu->index);
	pthread_mutex_lock(&vcpu->lock);
	for (;;) {
		while (vcpu->state != VMM_VCPU_REQUESTED && !atomic_load(&vm->stopping))
			pthread_cond_wait(&vcpu->cond, &vcpu->lock);
		if (atomic_load(&vm->stopping))
			break;
		vcpu->state = VMM_VCPU_RUNNING;
		/* The mailbox: written while the vCPU is out of KVM_RUN, so the guest sees it whole. */
		vcpu->call_seq++;
		__atomic_store_n(&cpu->call_function, vcpu->call_function, __ATOMIC_RELAXED);
		memcpy((void *)cpu->call_args, vcpu->call_args, sizeof(vcpu->call_args));
		__atomic_store_n(&cpu->call_seq, vcpu->call_seq, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&vcpu->lock);

		dbos_status status = vcpu_run_call(vcpu);

		pthread_mutex_lock(&vcpu->lock);
		vcpu->call_status = status;
		vcpu->state = status == DBOS_OK ? VMM_VCPU_DONE : VMM_VCPU_DEAD;
		if (vcpu->call_done)
			vcpu_answer_posted(vcpu, status);
		pthread_cond_broadcast(&vcpu->cond);
		if (status != DBOS_OK)
			break;
	}
	vcpu->state = VMM_VCPU_DEAD;
	if (vcpu->call_status == DBOS_OK)
		vcpu->call_status = DBOS_ECLOSED;
	/* A call posted while the guest was stopping never ran: it ends closed. */
	if (vcpu->call_done)
		vcpu_answer_posted(vcpu, vcpu->call_status);
	pthread_cond_broadcast(&vcpu->cond);
	pthread_mutex_unlock(&vcpu->lock);
	pthread_mutex_lock(&vcpu->kick_lock);
	vcpu->thread_live = false; /* no kick may target this thread from here on */
	pthread_mutex_unlock(&vcpu->kick_lock);
	return NULL;
}

dbos_status vmm_vcpu_thread_start(struct vmm_vcpu *vcpu)
{
	/* The kick signal must reach only threads in KVM_RUN or a blocking call: keep it unblocked. */
	pthread_mutex_lock(&vcpu->kick_lock); /* the thread's first touch of thread_live waits for this */
	vcpu->thread_live = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu) == 0;
	pthread_mutex_unlock(&vcpu->kick_lock);
	vcpu->thread_started = vcpu->thread_live;
	return vcpu->thread_started ? DBOS_OK : DBOS_ENOMEM;
}

/* Put a call in the mailbox.  vcpu->lock held. */
static dbos_status vcpu_post(struct vmm_vcpu *vcpu, uint64_t function, const uint64_t args[DBOS_GUEST_ENTRY_ARGS],
			     dbos_guest_call_done_fn done, void *context)
{
	if (vcpu->busy)
		return DBOS_EBUSY;
	if (vcpu->state == VMM_VCPU_DEAD)
		return vcpu->call_status; /* the thread has ended (or will not take calls): ECLOSED, EGUEST */
	DBOS_ASSERT(vcpu->state == VMM_VCPU_IDLE);
	vcpu->busy = true;
	vcpu->call_function = function;
	memcpy(vcpu->call_args, args, sizeof(vcpu->call_args));
	vcpu->call_done = done;
	vcpu->call_context = context;
	vcpu->state = VMM_VCPU_REQUESTED;
	pthread_cond_broadcast(&vcpu->cond);
	return DBOS_OK;
}

dbos_status vmm_vcpu_call_post(struct vmm_vcpu *vcpu, uint64_t function, const uint64_t args[DBOS_GUEST_ENTRY_ARGS],
			       dbos_guest_call_done_fn done, void *context)
{
	DBOS_ASSERT(done != NULL);
	pthread_mutex_lock(&vcpu->lock);
	dbos_status status = vcpu_post(vcpu, function, args, done, context);
	pthread_mutex_unlock(&vcpu->lock);
	return status;
}

dbos_status vmm_vcpu_call(struct vmm_vcpu *vcpu, uint64_t function, const uint64_t args[DBOS_GUEST_ENTRY_ARGS],
			  int64_t *result_out)
{
	pthread_mutex_lock(&vcpu->lock);
	dbos_status status = vcpu_post(vcpu, function, args, NULL, NULL);
	if (status != DBOS_OK) {
		pthread_mutex_unlock(&vcpu->lock);
		return status;
	}
	while (vcpu->state == VMM_VCPU_REQUESTED || vcpu->state == VMM_VCPU_RUNNING)
		pthread_cond_wait(&vcpu->cond, &vcpu->lock);
	status = vcpu->call_status;
	if (status == DBOS_OK) {
		*result_out = vcpu->call_result;
		vcpu->state = VMM_VCPU_IDLE;
	}
	vcpu->busy = false;
	pthread_mutex_unlock(&vcpu->lock);
	return status;
}
