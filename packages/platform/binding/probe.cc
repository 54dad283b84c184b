// probe.cc - dbos_probe_run for JavaScript: the C struct as a plain object (src/probe.ts shapes it).
#include "dbos/binding.h"

extern "C" {
#include "dbos/probe.h"
}

namespace dbos {

static Napi::Object ProbeKvm(Napi::Env env, const dbos_probe_kvm &kvm)
{
	Napi::Object out = Napi::Object::New(env);
	out.Set("kind", dbos_kvm_kind_name(kvm.kind));
	out.Set("reason", kvm.reason);
	out.Set("devicePresent", kvm.device_present);
	out.Set("deviceOpens", kvm.device_opens);
	out.Set("openErrno", kvm.open_errno);
	out.Set("apiVersion", kvm.api_version);
	out.Set("vmCreates", kvm.vm_creates);
	out.Set("modulePvm", kvm.module_pvm);
	out.Set("moduleIntel", kvm.module_intel);
	out.Set("moduleAmd", kvm.module_amd);
	out.Set("cpuVmx", kvm.cpu_vmx);
	out.Set("cpuSvm", kvm.cpu_svm);
	return out;
}

static Napi::Object ProbeUffd(Napi::Env env, const dbos_probe_uffd &uffd)
{
	Napi::Object out = Napi::Object::New(env);
	out.Set("available", uffd.available);
	out.Set("viaSyscall", uffd.via_syscall);
	out.Set("viaDevice", uffd.via_device);
	out.Set("userModeOnly", uffd.user_mode_only);
	out.Set("unprivilegedSysctl", uffd.unprivileged_sysctl);
	out.Set("unprivileged", uffd.unprivileged);
	out.Set("features", Napi::Number::New(env, (double)uffd.features));
	out.Set("error", uffd.error);
	return out;
}

static Napi::Object ProbeUring(Napi::Env env, const dbos_probe_uring &uring)
{
	Napi::Object out = Napi::Object::New(env);
	out.Set("disabledSysctl", uring.disabled_sysctl);
	out.Set("setupWorks", uring.setup_works);
	out.Set("setupErrno", uring.setup_errno);
	out.Set("features", Napi::Number::New(env, uring.features));
	out.Set("opFtruncate", uring.op_ftruncate);
	out.Set("opStatx", uring.op_statx);
	out.Set("opOpenat", uring.op_openat);
	out.Set("opFallocate", uring.op_fallocate);
	return out;
}

static Napi::Value ProbeRun(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	dbos_probe probe;
	ThrowIfFailed(env, dbos_probe_run(&probe), "probe");
	Napi::Object out = Napi::Object::New(env);
	out.Set("kernelRelease", probe.kernel_release);
	out.Set("kernelVersion", probe.kernel_version);
	out.Set("cpuModel", probe.cpu_model);
	out.Set("cpuCount", probe.cpu_count);
	out.Set("isRoot", probe.is_root);
	out.Set("kvm", ProbeKvm(env, probe.kvm));
	out.Set("uffd", ProbeUffd(env, probe.uffd));
	out.Set("pagemapScan", probe.pagemap_scan);
	out.Set("pagemapScanErrno", probe.pagemap_scan_errno);
	out.Set("ioUring", ProbeUring(env, probe.io_uring));
	out.Set("thpEnabled", probe.thp_enabled);
	out.Set("thpShmemEnabled", probe.thp_shmem_enabled);
	out.Set("hugetlbTotal", Napi::Number::New(env, (double)probe.hugetlb_total));
	out.Set("hugetlbFree", Napi::Number::New(env, (double)probe.hugetlb_free));
	out.Set("hugetlbPageSize", Napi::Number::New(env, (double)probe.hugetlb_page_size));
	out.Set("memfd", probe.memfd);
	out.Set("memfdErrno", probe.memfd_errno);
	out.Set("softDirty", probe.soft_dirty);
	return out;
}

void InitProbe(Napi::Env env, Napi::Object exports)
{
	exports.Set("probeRun", Napi::Function::New(env, ProbeRun, "probeRun"));
}

} // namespace dbos
