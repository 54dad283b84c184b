/*
 * probe_kvm.c - is there a KVM, and is it hardware virtualization or PVM?
 *
 * /dev/kvm opening says nothing about the flavour: PVM ("pagetable-based
 * virtual machine", module kvm_pvm) serves the same ioctls with shadow
 * paging and emulated ring 0, on CPUs that expose no VT-x/AMD-V.  So the
 * flavour comes from which vendor module is loaded and whether the CPU
 * flags show vmx/svm.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "probe_host.h"

#define PROBE_CPUINFO_SIZE 65536
#define KVM_API_VERSION_EXPECTED 12

/* True if the first "flags" line of /proc/cpuinfo has the word `flag`. */
static bool cpu_has_flag(const char *cpuinfo, const char *flag)
{
	const char *line = strstr(cpuinfo, "\nflags");
	if (!line)
		return false;
	const char *colon = strchr(line, ':');
	const char *end = strchr(line + 1, '\n');
	if (!colon || !end)
		return false;
	size_t length = strlen(flag);
	for (const char *p = colon + 1; p + length <= end; p++) {
		if (p[-1] == ' ' && strncmp(p, flag, length) == 0 && (p[length] == ' ' || p[length] == '\n'))
			return true;
	}
	return false;
}

static void probe_kvm_device(dbos_probe_kvm *kvm)
{
	kvm->api_version = -1;
	kvm->device_present = probe_path_exists("/dev/kvm");
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		kvm->open_errno = errno;
		return;
	}
	kvm->device_opens = true;
	kvm->api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
	int vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm >= 0) {
		kvm->vm_creates = true;
		close(vm);
	}
	close(fd);
}

/*
 * The one KVM verdict: probe() reports it and the guest runtime boots by it.
 * kvm_pvm wins over a vendor module: where both are loaded we cannot tell
 * from user space which one serves /dev/kvm, and the PVM configuration
 * (engine in ring 3 behind a trap gate, no instructions PVM cannot emulate)
 * also runs on hardware virtualization, while the reverse crashes the guest.
 * A working /dev/kvm with neither vmx/svm nor a vendor module is software
 * virtualization too, whatever its module is called.
 */
void dbos_probe_kvm_classify(dbos_probe_kvm *kvm)
{
	char *r = kvm->reason;
	size_t n = sizeof(kvm->reason);
	const char *flag = kvm->cpu_vmx ? "vmx" : kvm->cpu_svm ? "svm" : NULL;
	bool vendor = (kvm->module_intel && kvm->cpu_vmx) || (kvm->module_amd && kvm->cpu_svm);
	kvm->kind = DBOS_KVM_NONE;
	if (!kvm->device_present) {
		probe_format(r, n, "/dev/kvm does not exist (no KVM module loaded%s)",
			     flag ? "" : "; CPU shows no vmx/svm flag");
	} else if (!kvm->device_opens) {
		probe_format(r, n, "open /dev/kvm failed: %s", strerror(kvm->open_errno));
	} else if (kvm->api_version != KVM_API_VERSION_EXPECTED) {
		probe_format(r, n, "KVM_GET_API_VERSION=%d, expected %d", kvm->api_version, KVM_API_VERSION_EXPECTED);
	} else if (!kvm->vm_creates) {
		probe_format(r, n, "/dev/kvm opens but KVM_CREATE_VM fails");
	} else if (kvm->module_pvm) {
		kvm->kind = DBOS_KVM_PVM;
		probe_format(r, n, "/dev/kvm opens, KVM_GET_API_VERSION=12, /sys/module/kvm_pvm present, %s",
			     vendor ? "beside a vendor module: PVM assumed (its configuration runs on both)"
			     : flag ? "CPU also shows vmx/svm but no vendor module is loaded"
				    : "no vmx/svm in /proc/cpuinfo");
	} else if (vendor) {
		kvm->kind = DBOS_KVM_HARDWARE;
		probe_format(r, n, "/dev/kvm opens, KVM_GET_API_VERSION=12, %s loaded, CPU flag %s",
			     kvm->module_intel && kvm->cpu_vmx ? "kvm_intel" : "kvm_amd", flag);
	} else if (flag) {
		kvm->kind = DBOS_KVM_HARDWARE;
		probe_format(r, n,
			     "/dev/kvm opens, KVM_GET_API_VERSION=12, CPU flag %s (vendor module not visible in "
			     "/sys/module)",
			     flag);
	} else {
		kvm->kind = DBOS_KVM_PVM;
		probe_format(r, n,
			     "/dev/kvm opens, KVM_GET_API_VERSION=12, no vmx/svm in /proc/cpuinfo and no "
			     "kvm_intel/kvm_amd: software (PVM-like) virtualization");
	}
}

void probe_kvm(dbos_probe_kvm *kvm)
{
	memset(kvm, 0, sizeof(*kvm));
	char *cpuinfo = malloc(PROBE_CPUINFO_SIZE);
	if (cpuinfo && probe_read_text("/proc/cpuinfo", cpuinfo, PROBE_CPUINFO_SIZE)) {
		kvm->cpu_vmx = cpu_has_flag(cpuinfo, "vmx");
		kvm->cpu_svm = cpu_has_flag(cpuinfo, "svm");
	}
	free(cpuinfo);
	kvm->module_pvm = probe_path_exists("/sys/module/kvm_pvm");
	kvm->module_intel = probe_path_exists("/sys/module/kvm_intel");
	kvm->module_amd = probe_path_exists("/sys/module/kvm_amd");
	probe_kvm_device(kvm);
	dbos_probe_kvm_classify(kvm);
}
