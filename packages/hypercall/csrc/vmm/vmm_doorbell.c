/*
 * vmm_doorbell.c - notifications that do not stop a vCPU.
 *
 *   guest -> host  ioeventfd: a 4-byte write to the vCPU's async doorbell
 *                  makes an eventfd readable inside KVM (no exit to user
 *                  space; GUEST.md's table measures the round trip); the
 *                  service thread then serves that vCPU's ring.
 *   host -> guest  irqfd: writing the vCPU's irq eventfd injects an MSI with
 *                  DBOS_GUEST_VECTOR_COMPLETION into that vCPU.
 *
 * WAIT is refused on this path (it would block the one service thread); the
 * sync doorbell serves it on the vCPU's own thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

#define MSI_ADDRESS_BASE 0xfee00000u /* destination APIC id in bits 19:12 */
#define SERVICE_EVENTS_MAX 16

static dbos_status irq_routing(struct dbos_guest *vm, char *reason, size_t reason_size)
{
	size_t size = sizeof(struct kvm_irq_routing) + vm->vcpu_count * sizeof(struct kvm_irq_routing_entry);
	struct kvm_irq_routing *routing = calloc(1, size);
	if (!routing)
		return DBOS_ENOMEM;
	routing->nr = vm->vcpu_count;
	for (uint32_t i = 0; i < vm->vcpu_count; i++) {
		struct kvm_irq_routing_entry *entry = &routing->entries[i];
		entry->gsi = i;
		entry->type = KVM_IRQ_ROUTING_MSI;
		entry->u.msi.address_lo = MSI_ADDRESS_BASE | (i << 12);
		entry->u.msi.data = DBOS_GUEST_VECTOR_COMPLETION; /* fixed delivery, edge */
	}
	int rc = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, routing);
	free(routing);
	if (rc != 0) {
		vmm_set_reason(reason, reason_size, "KVM_SET_GSI_ROUTING: %s", strerror(errno));
		return DBOS_ENOTSUP;
	}
	return DBOS_OK;
}

static dbos_status vcpu_doorbells(struct dbos_guest *vm, struct vmm_vcpu *vcpu, char *reason, size_t reason_size)
{
	vcpu->async_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vcpu->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vcpu->async_fd < 0 || vcpu->irq_fd < 0) {
		vmm_set_reason(reason, reason_size, "eventfd: %s", strerror(errno));
		return DBOS_ENOMEM;
	}
	struct kvm_ioeventfd doorbell = {
		.addr = DBOS_GUEST_MMIO_GPA + DBOS_GUEST_DOORBELL_ASYNC + 8u * vcpu->index,
		.len = 4,
		.fd = vcpu->async_fd,
	};
	struct kvm_irqfd irqfd = { .fd = (uint32_t)vcpu->irq_fd, .gsi = vcpu->index };
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &doorbell) != 0 || ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) != 0) {
		vmm_set_reason(reason, reason_size, "KVM_IOEVENTFD / KVM_IRQFD: %s", strerror(errno));
		return DBOS_ENOTSUP;
	}
	struct epoll_event event = { .events = EPOLLIN, .data.u32 = vcpu->index };
	if (epoll_ctl(vm->epoll_fd, EPOLL_CTL_ADD, vcpu->async_fd, &event) != 0) {
		vmm_set_reason(reason, reason_size, "epoll_ctl: %s", strerror(errno));
		return DBOS_ENOMEM;
	}
	return DBOS_OK;
}

static void service_vcpu(struct vmm_vcpu *vcpu)
{
	uint64_t count;
	if (read(vcpu->async_fd, &count, sizeof(count)) != sizeof(count))
		return; /* spurious wake-up: nothing rang */
	enum vmm_serve_result result = vmm_hypercall_serve(vcpu, false);
	if (result == VMM_SERVE_INTERRUPT) {
		uint64_t one = 1;
		if (write(vcpu->irq_fd, &one, sizeof(one)) != sizeof(one))
			return; /* the counter is saturated: an interrupt is pending anyway */
	} else if (result == VMM_SERVE_FAILED) {
		vmm_vcpu_kick(vcpu); /* the vCPU thread sees vm->failed and ends the call */
	}
}

static void *service_thread(void *opaque)
{
	struct dbos_guest *vm = opaque;
	struct epoll_event events[SERVICE_EVENTS_MAX];
	for (;;) {
		int count = epoll_wait(vm->epoll_fd, events, SERVICE_EVENTS_MAX, -1);
		if (count < 0 && errno == EINTR)
			continue;
		if (count < 0)
			return NULL;
		for (int i = 0; i < count; i++) {
			if (events[i].data.u32 == UINT32_MAX)
				return NULL; /* the stop eventfd */
			if (events[i].data.u32 < vm->vcpu_count)
				service_vcpu(&vm->vcpus[events[i].data.u32]);
		}
	}
}

dbos_status vmm_doorbell_create(struct dbos_guest *vm, char *reason, size_t reason_size)
{
	vm->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	vm->service_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->epoll_fd < 0 || vm->service_stop_fd < 0) {
		vmm_set_reason(reason, reason_size, "epoll/eventfd: %s", strerror(errno));
		return DBOS_ENOMEM;
	}
	struct epoll_event stop = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
	if (epoll_ctl(vm->epoll_fd, EPOLL_CTL_ADD, vm->service_stop_fd, &stop) != 0)
		return DBOS_ENOMEM;
	dbos_status status = irq_routing(vm, reason, reason_size);
	for (uint32_t i = 0; status == DBOS_OK && i < vm->vcpu_count; i++)
		status = vcpu_doorbells(vm, &vm->vcpus[i], reason, reason_size);
	if (status != DBOS_OK)
		return status;
	if (pthread_create(&vm->service_thread, NULL, service_thread, vm) != 0) {
		vmm_set_reason(reason, reason_size, "cannot start the hypercall service thread");
		return DBOS_ENOMEM;
	}
	vm->service_started = true;
	return DBOS_OK;
}

void vmm_doorbell_stop(struct dbos_guest *vm)
{
	if (!vm->service_started)
		return;
	uint64_t one = 1;
	while (write(vm->service_stop_fd, &one, sizeof(one)) != sizeof(one) && errno == EINTR)
		;
	/*
	 * The thread may be inside a system call a guest asked for that blocks
	 * (an OPENAT of a FIFO on the async doorbell): kick it until it returns,
	 * as dbos_guest_stop does the vCPU threads.  It is not joined yet, so the
	 * signal always has a thread to reach.
	 */
	for (;;) {
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += 10000000; /* 10 ms */
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		if (pthread_timedjoin_np(vm->service_thread, NULL, &deadline) == 0)
			break;
		vmm_thread_kick(vm->service_thread);
	}
	vm->service_started = false;
}

void vmm_doorbell_destroy(struct dbos_guest *vm)
{
	for (uint32_t i = 0; i < vm->vcpu_count; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];
		if (vcpu->async_fd >= 0)
			close(vcpu->async_fd);
		if (vcpu->irq_fd >= 0)
			close(vcpu->irq_fd);
		vcpu->async_fd = vcpu->irq_fd = -1;
	}
	if (vm->epoll_fd >= 0)
		close(vm->epoll_fd);
	if (vm->service_stop_fd >= 0)
		close(vm->service_stop_fd);
	vm->epoll_fd = vm->service_stop_fd = -1;
}
