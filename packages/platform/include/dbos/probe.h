/*
 * dbos/probe.h - what this machine offers the dbos runtimes, measured by trying.
 *
 * Every field comes from an attempt (open /dev/kvm, io_uring_setup,
 * UFFDIO_API, the PAGEMAP_SCAN ioctl, memfd_create) or from /proc and /sys,
 * never from a version number.  Host code picks its mechanism from it
 * (pagetable: userfaultfd WP_ASYNC or not; snapshot: userfaultfd or fork;
 * the gateway: io_uring or threads) and each package reports what it picked
 * to probe() in JavaScript, so the facts and the choices come from one place.
 *
 * Host only: the implementation lives in csrc/host/probe_*.c.  Probing costs
 * a few milliseconds (it opens devices and sets up a ring): call it once.
 */
#ifndef DBOS_PROBE_H
#define DBOS_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DBOS_PROBE_TEXT_SIZE 192

enum dbos_kvm_kind {
	DBOS_KVM_NONE = 0,     /* no usable /dev/kvm */
	DBOS_KVM_HARDWARE = 1, /* VT-x or AMD-V: kvm_intel / kvm_amd */
	DBOS_KVM_PVM = 2,      /* pagetable-based VM (kvm_pvm): no hardware virtualization */
};

/* userfaultfd feature bits (UFFD_FEATURE_*, Linux ABI) that dbos cares about. */
#define DBOS_UFFD_FEATURE_WP ((uint64_t)1 << 0) /* PAGEFAULT_FLAG_WP */
#define DBOS_UFFD_FEATURE_MINOR_SHMEM ((uint64_t)1 << 10)
#define DBOS_UFFD_FEATURE_WP_UNPOPULATED ((uint64_t)1 << 13)
#define DBOS_UFFD_FEATURE_WP_ASYNC ((uint64_t)1 << 15)
#define DBOS_UFFD_FEATURE_MOVE ((uint64_t)1 << 16)

typedef struct dbos_probe_kvm {
	enum dbos_kvm_kind kind;
	bool device_present; /* /dev/kvm exists */
	bool device_opens;   /* open(O_RDWR) worked */
	int open_errno;      /* errno of a failed open, else 0 */
	int api_version;     /* KVM_GET_API_VERSION (12), or -1 */
	bool vm_creates;     /* KVM_CREATE_VM worked */
	bool module_pvm;     /* /sys/module/kvm_pvm */
	bool module_intel;   /* /sys/module/kvm_intel */
	bool module_amd;     /* /sys/module/kvm_amd */
	bool cpu_vmx;        /* "vmx" in /proc/cpuinfo flags */
	bool cpu_svm;        /* "svm" in /proc/cpuinfo flags */
	char reason[DBOS_PROBE_TEXT_SIZE];
} dbos_probe_kvm;

typedef struct dbos_probe_uffd {
	bool available;          /* a userfaultfd could be created and UFFDIO_API answered */
	bool via_syscall;        /* userfaultfd(2) worked */
	bool via_device;         /* /dev/userfaultfd + USERFAULTFD_IOC_NEW worked */
	bool user_mode_only;     /* available only with UFFD_USER_MODE_ONLY */
	int unprivileged_sysctl; /* vm.unprivileged_userfaultfd, -1 if unreadable */
	bool unprivileged;       /* an unprivileged process could create one */
	uint64_t features;       /* UFFDIO_API features */
	int error;               /* errno of the failure when !available */
} dbos_probe_uffd;

typedef struct dbos_probe_uring {
	int disabled_sysctl; /* kernel.io_uring_disabled: 0 on, 1 privileged/group only, 2 off; -1 unreadable */
	bool setup_works;    /* io_uring_setup succeeded for this process */
	int setup_errno;
	uint32_t features; /* io_uring_params.features */
	bool op_ftruncate; /* IORING_OP_FTRUNCATE (Linux 6.9) */
	bool op_statx;
	bool op_openat;
	bool op_fallocate;
} dbos_probe_uring;

typedef struct dbos_probe {
	char kernel_release[65];
	char kernel_version[DBOS_PROBE_TEXT_SIZE];
	char cpu_model[DBOS_PROBE_TEXT_SIZE];
	uint32_t cpu_count;
	bool is_root;

	dbos_probe_kvm kvm;
	dbos_probe_uffd uffd;

	bool pagemap_scan; /* PAGEMAP_SCAN ioctl on /proc/self/pagemap (Linux 6.7) */
	int pagemap_scan_errno;

	dbos_probe_uring io_uring;

	char thp_enabled[16];       /* always | madvise | never | unknown */
	char thp_shmem_enabled[16]; /* always | within_size | advise | never | deny | force | unknown */
	uint64_t hugetlb_total;     /* HugePages_Total */
	uint64_t hugetlb_free;
	uint64_t hugetlb_page_size; /* bytes */

	bool memfd;
	int memfd_errno;
	bool soft_dirty; /* /proc/self/pagemap bit 55 honoured (CONFIG_MEM_SOFT_DIRTY) */
} dbos_probe;

/* Fill `probe` by trying each mechanism.  DBOS_OK even when mechanisms are missing. */
dbos_status dbos_probe_run(dbos_probe *probe);

/*
 * The same probe, taken once per process (thread-safe) and kept: what the
 * packages' host code selects its mechanisms from.  Never NULL.
 */
const dbos_probe *dbos_probe_cached(void);

/*
 * Decide kvm->kind and kvm->reason from the evidence fields of `kvm` (device,
 * API version, VM creation, modules, CPU flags).  The one verdict: probe()
 * reports it and the guest runtime configures guests by it.
 */
void dbos_probe_kvm_classify(dbos_probe_kvm *kvm);

/* "hardware", "pvm", "none". */
const char *dbos_kvm_kind_name(enum dbos_kvm_kind kind);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_PROBE_H */
