/*
 * vmm_vm.c - the VM: probe /dev/kvm, create a guest (image, memory, irqchip,
 * vCPUs, doorbells), boot it, hand out calls, stop it and free everything.
 *
 * Start order matters: the caller's image is copied and checked before
 * /dev/kvm is opened, the irqchip comes before any vCPU (LAPIC timer, MSI), the
 * image is loaded before the boot tables (the IDT comes from its vector table), vCPU 0
 * before the boot block (it reports the TSC rate), the doorbells before the
 * first KVM_RUN.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "dbos/probe.h"
#include "vmm.h"

#define KVM_API_VERSION_EXPECTED 12

void vmm_set_reason(char *reason, size_t reason_size, const char *format, ...)
{
	if (!reason || reason_size == 0)
		return;
	va_list args;
	va_start(args, format);
	vsnprintf(reason, reason_size, format, args);
	va_end(args);
}

int vmm_ioctl(int fd, unsigned long request, unsigned long argument)
{
	int result;
	unsigned attempts = 0;
	do
		result = ioctl(fd, request, argument);
	while (result < 0 && errno == EINTR && ++attempts < 1000);
	return result;
}

_Static_assert((int)DBOS_GUEST_KVM_NONE == (int)DBOS_KVM_NONE &&
		       (int)DBOS_GUEST_KVM_HARDWARE == (int)DBOS_KVM_HARDWARE &&
		       (int)DBOS_GUEST_KVM_PVM == (int)DBOS_KVM_PVM,
	       "dbos_guest_kvm names the probe's dbos_kvm_kind values");

/*
 * The flavour is the probe's one verdict (dbos_probe_kvm_classify, the same
 * one probe().kvm.kind reports), never a second guess here.  The probe
 * looks at /dev/kvm; where it found none usable but the device this VMM
 * opened works (DBOS_KVM_DEVICE, or a permission that changed since), the
 * PVM layout is the safe one: it also runs on hardware virtualization,
 * while the hardware layout crashes on PVM.
 */
enum dbos_guest_kvm vmm_kvm_flavour(void)
{
	return dbos_probe_cached()->kvm.kind == DBOS_KVM_HARDWARE ? DBOS_GUEST_KVM_HARDWARE : DBOS_GUEST_KVM_PVM;
}

/* Ring 0 where it runs natively (hardware); ring 3 behind the int3 gate where it is emulated (PVM). */
uint32_t vmm_engine_ring_default(enum dbos_guest_kvm kvm)
{
	return kvm == DBOS_GUEST_KVM_PVM ? 3 : 0;
}

static const struct {
	int capability;
	const char *name;
} required_capabilities[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },   { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },       { KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },   { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" }, { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
};

/* The KVM device; DBOS_KVM_DEVICE overrides it (tests use it to exercise the refusals). */
static const char *kvm_device_path(void)
{
	const char *path = getenv("DBOS_KVM_DEVICE");
	return path && path[0] ? path : "/dev/kvm";
}

/* Opens /dev/kvm and checks the API; returns the fd or -1 with status and reason set. */
static int kvm_open_checked(dbos_status *status, char *reason, size_t reason_size)
{
	const char *device = kvm_device_path();
	int fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int error = errno;
		*status = (error == EACCES || error == EPERM) ? DBOS_EPERM : DBOS_ENOTSUP;
		vmm_set_reason(reason, reason_size, "%s: %s%s", device, strerror(error),
			       *status == DBOS_EPERM ? " (add this user to the kvm group)" : "");
		return -1;
	}
	int version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION_EXPECTED) {
		vmm_set_reason(reason, reason_size, "%s: not a usable KVM device (KVM_GET_API_VERSION %d, need %d)",
			       device, version, KVM_API_VERSION_EXPECTED);
		close(fd);
		*status = DBOS_ENOTSUP;
		return -1;
	}
	for (size_t i = 0; i < sizeof(required_capabilities) / sizeof(required_capabilities[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, required_capabilities[i].capability) <= 0) {
			vmm_set_reason(reason, reason_size, "/dev/kvm lacks %s", required_capabilities[i].name);
			close(fd);
			*status = DBOS_ENOTSUP;
			return -1;
		}
	}
	*status = DBOS_OK;
	return fd;
}

dbos_status dbos_guest_probe(enum dbos_guest_kvm *kvm, char *reason, size_t reason_size)
{
	dbos_status status;
	int fd = kvm_open_checked(&status, reason, reason_size);
	if (kvm)
		*kvm = fd >= 0 ? vmm_kvm_flavour() : DBOS_GUEST_KVM_NONE;
	if (fd >= 0)
		close(fd);
	return status;
}

void vmm_fail(struct dbos_guest *vm, const struct dbos_guest_failure *failure)
{
	pthread_mutex_lock(&vm->failure_lock);
	if (!vm->failed) { /* the first failure is the cause; later ones are consequences */
		vm->failed = true;
		vm->failure = *failure;
	}
	pthread_mutex_unlock(&vm->failure_lock);
}

bool vmm_failure_copy(struct dbos_guest *vm, struct dbos_guest_failure *failure)
{
	pthread_mutex_lock(&vm->failure_lock);
	bool failed = vm->failed;
	if (failed)
		*failure = vm->failure;
	else
		memset(failure, 0, sizeof(*failure));
	pthread_mutex_unlock(&vm->failure_lock);
	return failed;
}

bool dbos_guest_failure_get(dbos_guest *vm, struct dbos_guest_failure *failure)
{
	return vm && failure && vmm_failure_copy(vm, failure);
}

static uint64_t monotonic_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static dbos_status config_check(const struct dbos_guest_config *config, char *reason, size_t reason_size)
{
	if (!config || config->vcpu_count == 0 || config->vcpu_count > DBOS_GUEST_VCPU_MAX) {
		vmm_set_reason(reason, reason_size, "vcpus must be 1..%u", DBOS_GUEST_VCPU_MAX);
		return DBOS_EINVAL;
	}
	if (config->memory_size < DBOS_GUEST_RAM_MIN || config->memory_size > DBOS_GUEST_RAM_MAX ||
	    config->memory_size % DBOS_GUEST_RAM_ALIGN != 0) {
		vmm_set_reason(reason, reason_size, "memory must be a multiple of 2 MiB in 16 MiB .. 3 GiB");
		return DBOS_EINVAL;
	}
	if (config->engine_ring != -1 && config->engine_ring != 0 && config->engine_ring != 3) {
		vmm_set_reason(reason, reason_size, "engineRing must be 0 or 3");
		return DBOS_EINVAL;
	}
	return DBOS_OK;
}

static struct dbos_guest *guest_alloc(const struct dbos_guest_config *config)
{
	struct dbos_guest *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	vm->kvm_fd = vm->vm_fd = vm->memory_fd = vm->epoll_fd = vm->service_stop_fd = -1;
	vm->ram_size = config->memory_size;
	vm->vcpu_count = config->vcpu_count;
	atomic_init(&vm->stopping, false);
	pthread_mutex_init(&vm->calls_lock, NULL);
	pthread_cond_init(&vm->calls_cond, NULL);
	pthread_mutex_init(&vm->fd_lock, NULL);
	pthread_mutex_init(&vm->log_lock, NULL);
	pthread_mutex_init(&vm->failure_lock, NULL);
	for (uint32_t i = 0; i < DBOS_GUEST_VCPU_MAX; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];
		vcpu->fd = vcpu->async_fd = vcpu->irq_fd = -1;
		pthread_mutex_init(&vcpu->lock, NULL);
		pthread_mutex_init(&vcpu->ring_lock, NULL);
		pthread_mutex_init(&vcpu->kick_lock, NULL);
		pthread_cond_init(&vcpu->cond, NULL);
	}
	vmm_fds_init(vm);
	vm->info.vcpu_count = config->vcpu_count;
	vm->info.memory_size = config->memory_size;
	return vm;
}

/* Create everything up to (not including) the vCPU threads. */
static dbos_status guest_create(struct dbos_guest *vm, char *reason, size_t reason_size)
{
	dbos_status status;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS) < (int)vm->vcpu_count) {
		vmm_set_reason(reason, reason_size, "/dev/kvm allows fewer than %u vCPUs", vm->vcpu_count);
		return DBOS_ENOTSUP;
	}
	vm->vm_fd = vmm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		vmm_set_reason(reason, reason_size, "KVM_CREATE_VM: %s", strerror(errno));
		return errno == ENOMEM ? DBOS_ENOMEM : DBOS_ENOTSUP;
	}
	if (vmm_ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_TSS_ADDR) != 0 ||
	    vmm_ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) != 0) {
		vmm_set_reason(reason, reason_size, "KVM_SET_TSS_ADDR / KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return DBOS_ENOTSUP;
	}
	if ((status = vmm_memory_create(vm, reason, reason_size)) != DBOS_OK)
		return status;
	vmm_image_load(vm);
	for (uint32_t i = 0; i < vm->vcpu_count; i++)
		if ((status = vmm_vcpu_create(vm, i, reason, reason_size)) != DBOS_OK)
			return status;
	vmm_memory_build_tables(vm);
	return vmm_doorbell_create(vm, reason, reason_size);
}

/* Start the vCPU threads and run each vCPU to its idle engine loop (a call of nothing). */
static dbos_status guest_boot(struct dbos_guest *vm, char *reason, size_t reason_size)
{
	for (uint32_t i = 0; i < vm->vcpu_count; i++)
		if (vmm_vcpu_thread_start(&vm->vcpus[i]) != DBOS_OK) {
			vmm_set_reason(reason, reason_size, "cannot start vCPU thread %u", i);
			return DBOS_ENOMEM;
		}
	const uint64_t none[DBOS_GUEST_ENTRY_ARGS] = { 0 };
	for (uint32_t i = 0; i < vm->vcpu_count; i++) {
		int64_t result;
		dbos_status status = vmm_vcpu_call(&vm->vcpus[i], 0, none, &result);
		if (status != DBOS_OK) {
			struct dbos_guest_failure failure;
			vmm_set_reason(reason, reason_size, "boot failed: %s",
				       vmm_failure_copy(vm, &failure) ? failure.message : "stopped");
			return status;
		}
	}
	return DBOS_OK;
}

dbos_status dbos_guest_start(const struct dbos_guest_config *config, dbos_guest **guest_out, char *reason,
			     size_t reason_size)
{
	if (!guest_out)
		return DBOS_EINVAL;
	*guest_out = NULL;
	dbos_status status = config_check(config, reason, reason_size);
	if (status != DBOS_OK)
		return status;
	uint64_t start_ns = monotonic_ns();
	struct dbos_guest *vm = guest_alloc(config);
	if (!vm)
		return DBOS_ENOMEM;
	/* The image first: a bad one is the caller's mistake, whatever /dev/kvm says. */
	status = vmm_image_copy(vm, config->image, config->image_size, reason, reason_size);
	if (status != DBOS_OK) {
		dbos_guest_destroy(vm);
		return status;
	}
	vm->kvm_fd = kvm_open_checked(&status, reason, reason_size);
	if (vm->kvm_fd < 0) {
		dbos_guest_destroy(vm);
		return status;
	}
	vm->info.kvm = vmm_kvm_flavour();
	if (config->engine_ring == -1)
		vm->info.engine_ring = vmm_engine_ring_default(vm->info.kvm);
	else
		vm->info.engine_ring = (uint32_t)config->engine_ring;
	status = guest_create(vm, reason, reason_size);
	if (status == DBOS_OK)
		status = guest_boot(vm, reason, reason_size);
	if (status != DBOS_OK) {
		dbos_guest_destroy(vm);
		return status;
	}
	vm->info.boot_ns = monotonic_ns() - start_ns;
	*guest_out = vm;
	return DBOS_OK;
}

void dbos_guest_stop(dbos_guest *vm)
{
	if (!vm || vm->stopped)
		return;
	vm->stopped = true;
	/* 1. No new calls; wake idle vCPU threads, kick running ones out of KVM_RUN or a WAIT. */
	atomic_store(&vm->stopping, true);
	for (uint32_t i = 0; i < vm->vcpu_count; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];
		pthread_mutex_lock(&vcpu->lock);
		pthread_cond_broadcast(&vcpu->cond);
		pthread_mutex_unlock(&vcpu->lock);
		vmm_vcpu_kick(vcpu);
	}
	/*
	 * 2. Join the vCPU threads; a kick can race with entering KVM_RUN, so
	 * repeat it.  The service thread may kick them at the same time (a guest
	 * failure on the async doorbell): kicks go through kick_lock, so neither
	 * signals a thread that has returned.  Posted calls are answered
	 * (DBOS_ECLOSED) by their vCPU's thread before it returns.
	 */
	for (uint32_t i = 0; i < vm->vcpu_count; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];
		if (!vcpu->thread_started)
			continue;
		for (;;) {
			struct timespec deadline;
			clock_gettime(CLOCK_REALTIME, &deadline);
			deadline.tv_nsec += 10000000; /* 10 ms */
			if (deadline.tv_nsec >= 1000000000) {
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(vcpu->thread, NULL, &deadline) == 0)
				break;
			vmm_vcpu_kick(vcpu);
		}
		vcpu->thread_started = false;
	}
	/* 3. Callers still inside dbos_guest_call have been answered (DBOS_ECLOSED): let them leave. */
	pthread_mutex_lock(&vm->calls_lock);
	while (vm->calls_in_flight > 0)
		pthread_cond_wait(&vm->calls_cond, &vm->calls_lock);
	pthread_mutex_unlock(&vm->calls_lock);
	/* 4. Service thread, then every descriptor and mapping. */
	vmm_doorbell_stop(vm);
	for (uint32_t i = 0; i < vm->vcpu_count; i++)
		vmm_vcpu_destroy(&vm->vcpus[i]);
	vmm_doorbell_destroy(vm);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	vmm_memory_destroy(vm);
	vmm_fds_close_all(vm);
}

void dbos_guest_destroy(dbos_guest *vm)
{
	if (!vm)
		return;
	dbos_guest_stop(vm);
	for (uint32_t i = 0; i < DBOS_GUEST_VCPU_MAX; i++) {
		pthread_mutex_destroy(&vm->vcpus[i].lock);
		pthread_mutex_destroy(&vm->vcpus[i].ring_lock);
		pthread_mutex_destroy(&vm->vcpus[i].kick_lock);
		pthread_cond_destroy(&vm->vcpus[i].cond);
	}
	pthread_mutex_destroy(&vm->calls_lock);
	pthread_cond_destroy(&vm->calls_cond);
	pthread_mutex_destroy(&vm->fd_lock);
	pthread_mutex_destroy(&vm->log_lock);
	pthread_mutex_destroy(&vm->failure_lock);
	vmm_image_free(vm); /* kept past stop: entry names stay readable until here */
	free(vm);
}

void dbos_guest_info_get(const dbos_guest *vm, struct dbos_guest_info *info)
{
	*info = vm->info;
}

dbos_status dbos_guest_call(dbos_guest *vm, uint32_t vcpu, uint64_t function,
			    const uint64_t args[DBOS_GUEST_ENTRY_ARGS], int64_t *result_out,
			    struct dbos_guest_failure *failure)
{
	if (!vm || !result_out || vcpu >= vm->vcpu_count)
		return DBOS_EINVAL;
	pthread_mutex_lock(&vm->calls_lock);
	if (atomic_load(&vm->stopping)) {
		pthread_mutex_unlock(&vm->calls_lock);
		return DBOS_ECLOSED;
	}
	vm->calls_in_flight++;
	pthread_mutex_unlock(&vm->calls_lock);

	dbos_status status = DBOS_EGUEST;
	pthread_mutex_lock(&vm->failure_lock);
	bool failed = vm->failed;
	pthread_mutex_unlock(&vm->failure_lock);
	if (!failed)
		status = vmm_vcpu_call(&vm->vcpus[vcpu], function, args, result_out);
	if (status == DBOS_EGUEST && failure) {
		pthread_mutex_lock(&vm->failure_lock);
		*failure = vm->failure;
		pthread_mutex_unlock(&vm->failure_lock);
	}

	pthread_mutex_lock(&vm->calls_lock);
	vm->calls_in_flight--;
	pthread_cond_broadcast(&vm->calls_cond);
	pthread_mutex_unlock(&vm->calls_lock);
	return status;
}

dbos_status dbos_guest_call_async(dbos_guest *vm, uint32_t vcpu, uint64_t function,
				  const uint64_t args[DBOS_GUEST_ENTRY_ARGS], dbos_guest_call_done_fn done,
				  void *context)
{
	if (!vm || !args || !done || vcpu >= vm->vcpu_count)
		return DBOS_EINVAL;
	/*
	 * A stop that begins after these checks still answers the call: the
	 * vCPU's thread either refuses the post (it has ended: DBOS_ECLOSED) or
	 * answers it on its way out.
	 */
	if (atomic_load(&vm->stopping))
		return DBOS_ECLOSED;
	struct dbos_guest_failure failure;
	if (vmm_failure_copy(vm, &failure))
		return DBOS_EGUEST;
	return vmm_vcpu_call_post(&vm->vcpus[vcpu], function, args, done, context);
}

dbos_status dbos_guest_memory_read(const dbos_guest *vm, uint64_t gpa, void *target, size_t size)
{
	const void *source = vmm_memory_range(vm, gpa, size);
	if (!source)
		return DBOS_ERANGE;
	memcpy(target, source, size);
	return DBOS_OK;
}

dbos_status dbos_guest_memory_write(dbos_guest *vm, uint64_t gpa, const void *source, size_t size)
{
	void *target = vmm_memory_range_writable(vm, gpa, size);
	if (!target)
		return DBOS_ERANGE;
	memcpy(target, source, size);
	return DBOS_OK;
}

size_t dbos_guest_log_take(dbos_guest *vm, char *target, size_t size)
{
	pthread_mutex_lock(&vm->log_lock);
	size_t count = vm->log_length < size ? vm->log_length : size;
	memcpy(target, vm->log, count);
	memmove(vm->log, vm->log + count, vm->log_length - count);
	vm->log_length -= count;
	pthread_mutex_unlock(&vm->log_lock);
	return count;
}
