/*
 * vmm.h - the dbos VMM's internal state and cross-file functions, grouped by
 * defining file (kvmtool-style split: one job per file).
 *
 *   vmm_vm.c         open /dev/kvm, checks, create and destroy the VM, start/stop
 *   vmm_memory.c     guest RAM (memfd), bounds-checked translation, x86 boot tables
 *   vmm_image.c      the caller's guest image: copy, validate, load, entry points
 *   vmm_vcpu.c       vCPU setup, the per-vCPU thread and its exit loop, failures
 *   vmm_doorbell.c   ioeventfd doorbells, irqfd completions, the service thread
 *   vmm_hypercall.c  the hypercall ring and every operation; the fd table
 *   vmm_mechanism.c  what this VMM does here, in one line (probe().mechanisms)
 */
#ifndef DBOS_VMM_H
#define DBOS_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "dbos/guest.h"
#include "dbos/hypercall_abi.h"

#define VMM_LOG_SIZE_MAX (64u << 10) /* buffered LOG output per guest */
#define VMM_WAIT_SLICE_NS 50000000u  /* a WAIT re-checks for stop this often */
#define VMM_TSS_ADDR 0xfffbd000u     /* KVM_SET_TSS_ADDR: 3 pages no one uses */

enum vmm_vcpu_state {
	VMM_VCPU_IDLE,      /* parked in its engine loop (not in KVM_RUN) */
	VMM_VCPU_REQUESTED, /* a call is in the mailbox */
	VMM_VCPU_RUNNING,
	VMM_VCPU_DONE, /* result ready for the caller */
	VMM_VCPU_DEAD, /* failed or stopped: never runs again */
};

struct vmm_vcpu {
	struct dbos_guest *vm;
	uint32_t index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started; /* the starting/stopping thread's own record: join it at stop */
	/*
	 * True from pthread_create until the thread is about to return; the
	 * thread clears it itself.  Read and written under kick_lock only, so
	 * a kick from the service thread never signals a thread that stop may
	 * already have joined.
	 */
	pthread_mutex_t kick_lock;
	bool thread_live;
	int async_fd; /* ioeventfd: the async doorbell */
	int irq_fd;   /* irqfd: completion interrupt into this vCPU */

	/* Ring indices the host owns; the copies in guest memory are for the guest only. */
	pthread_mutex_t ring_lock;
	uint32_t sq_head;
	uint32_t cq_tail;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vmm_vcpu_state state;
	bool busy; /* a caller owns this vCPU */
	uint64_t call_function;
	uint64_t call_args[DBOS_GUEST_ENTRY_ARGS];
	uint64_t call_seq;
	int64_t call_result;
	dbos_status call_status;
	/* An async call's completion (dbos_guest_call_async), run on this vCPU's thread; NULL: a caller waits. */
	dbos_guest_call_done_fn call_done;
	void *call_context;
};

/*
 * One guest descriptor.  Its rights are fixed when it is made: a grant
 * records the access mode the host gave (dbos_guest_fd_grant), an OPENAT
 * inherits the rights of the directory it resolved beneath.
 */
struct vmm_fd {
	int host_fd; /* -1: free */
	uint32_t users;
	bool closing;
	bool writable;  /* false: writes, creation and truncation are refused (read-only grant) */
	bool directory; /* the host fd is a directory (OPENAT's dirfd) */
};

struct dbos_guest {
	int kvm_fd;
	int vm_fd;
	int memory_fd;
	uint8_t *ram;
	uint64_t ram_size;
	struct dbos_guest_info info;
	/* The VMM's own copy of the image, kept until destroy: never read back from guest memory. */
	uint8_t *image_bytes;
	const struct dbos_guest_image_header *image; /* the header at image_bytes */
	uint64_t image_size;

	uint32_t vcpu_count;
	struct vmm_vcpu vcpus[DBOS_GUEST_VCPU_MAX];

	atomic_bool stopping;
	bool stopped; /* dbos_guest_stop ran: only the struct is left */
	pthread_mutex_t calls_lock;
	pthread_cond_t calls_cond;
	uint32_t calls_in_flight;

	int epoll_fd;
	int service_stop_fd;
	pthread_t service_thread;
	bool service_started;

	pthread_mutex_t fd_lock;
	struct vmm_fd fds[DBOS_HC_FD_MAX];

	pthread_mutex_t log_lock;
	char log[VMM_LOG_SIZE_MAX];
	size_t log_length;

	pthread_mutex_t failure_lock;
	bool failed;
	struct dbos_guest_failure failure;
};

/* vmm_vm.c */
enum dbos_guest_kvm vmm_kvm_flavour(void);
uint32_t vmm_engine_ring_default(enum dbos_guest_kvm kvm);
void vmm_fail(struct dbos_guest *vm, const struct dbos_guest_failure *failure);
/* Copy the first failure into *failure; false (and *failure zeroed) when the guest has not failed. */
bool vmm_failure_copy(struct dbos_guest *vm, struct dbos_guest_failure *failure);
void vmm_set_reason(char *reason, size_t reason_size, const char *format, ...) __attribute__((format(printf, 3, 4)));
/*
 * ioctl for the setup calls (create VM, vCPU, memory slots): restarted when a signal lands
 * in it.  KVM_CREATE_VM gives EINTR when the process has a signal pending while KVM builds
 * the VM (seen on PVM under a Node process); the call has no effect then, so it is repeated.
 */
int vmm_ioctl(int fd, unsigned long request, unsigned long argument);

/* vmm_memory.c */
dbos_status vmm_memory_create(struct dbos_guest *vm, char *reason, size_t reason_size);
void vmm_memory_destroy(struct dbos_guest *vm);
/* Host pointer for [gpa, gpa + size) when it lies in guest RAM, else NULL. */
void *vmm_memory_range(const struct dbos_guest *vm, uint64_t gpa, uint64_t size);
/* Same, for buffers the host will write: the boot tables below the image are refused too. */
void *vmm_memory_range_writable(const struct dbos_guest *vm, uint64_t gpa, uint64_t size);
void vmm_memory_build_tables(struct dbos_guest *vm);
struct dbos_guest_cpu *vmm_memory_cpu(const struct dbos_guest *vm, uint32_t index);
struct dbos_hc_ring *vmm_memory_ring(const struct dbos_guest *vm, uint32_t index);

/* vmm_image.c */
/* Copy the caller's image and check its header: DBOS_EINVAL (malformed) or DBOS_ENOTSUP (other ABI). */
dbos_status vmm_image_copy(struct dbos_guest *vm, const void *bytes, uint64_t size, char *reason, size_t reason_size);
void vmm_image_load(struct dbos_guest *vm); /* into guest RAM at DBOS_GUEST_IMAGE_GPA */
const uint64_t *vmm_image_vectors(const struct dbos_guest *vm);
void vmm_image_free(struct dbos_guest *vm);

/* vmm_vcpu.c */
dbos_status vmm_vcpu_create(struct dbos_guest *vm, uint32_t index, char *reason, size_t reason_size);
dbos_status vmm_vcpu_thread_start(struct vmm_vcpu *vcpu);
/* Make the vCPU leave KVM_RUN or a blocking call.  Any thread, any time until destroy. */
void vmm_vcpu_kick(struct vmm_vcpu *vcpu);
/* The same signal for another VMM thread (the service thread): its blocking call returns EINTR. */
void vmm_thread_kick(pthread_t thread);
void vmm_vcpu_destroy(struct vmm_vcpu *vcpu);
/* Run a call and wait for it (done == NULL), or post it: `done` then runs once on the vCPU's thread. */
dbos_status vmm_vcpu_call(struct vmm_vcpu *vcpu, uint64_t function, const uint64_t args[DBOS_GUEST_ENTRY_ARGS],
			  int64_t *result_out);
dbos_status vmm_vcpu_call_post(struct vmm_vcpu *vcpu, uint64_t function, const uint64_t args[DBOS_GUEST_ENTRY_ARGS],
			       dbos_guest_call_done_fn done, void *context);

/* vmm_mechanism.c: dbos_guest_mechanism only (dbos/guest.h) */

/* vmm_doorbell.c */
dbos_status vmm_doorbell_create(struct dbos_guest *vm, char *reason, size_t reason_size);
void vmm_doorbell_stop(struct dbos_guest *vm);
void vmm_doorbell_destroy(struct dbos_guest *vm);

/* vmm_hypercall.c */
enum vmm_serve_result {
	VMM_SERVE_OK,
	VMM_SERVE_INTERRUPT, /* OK, and a request asked for the completion interrupt */
	VMM_SERVE_FAILED,    /* the guest failed (corrupt ring, EXIT): vmm_fail was called */
};
enum vmm_serve_result vmm_hypercall_serve(struct vmm_vcpu *vcpu, bool may_block);
void vmm_fds_init(struct dbos_guest *vm);
void vmm_fds_close_all(struct dbos_guest *vm);

#endif
