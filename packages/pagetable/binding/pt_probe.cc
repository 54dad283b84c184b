// pt_probe.cc - dbos_pt_probe() as a plain object and the host mechanism line.
#include "pt_binding.h"

namespace dbos {

static Napi::Value Probe(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	Napi::Object result = Napi::Object::New(env);
	result.Set("runtime", capabilities.runtime == DBOS_RUNTIME_GUEST ? "guest" : "host");
	result.Set("dirty", dbos_pt_dirty_mechanism_name(capabilities.dirty));
	result.Set("faults", dbos_pt_fault_mechanism_name(capabilities.faults));
	result.Set("faultsMinor", capabilities.faults_minor);
	result.Set("accessed", capabilities.accessed == DBOS_PT_ACCESSED_PTE_BITS ? "pte-accessed-bits" : "none");
	result.Set("present", capabilities.present);
	result.Set("hugePages", capabilities.huge_pages == DBOS_PT_HUGE_MADVISE ? "thp" : "none");
	result.Set("frames", capabilities.frames);
	return result;
}

// hostMechanism() -> the line dbos_pt_host_mechanism_format() writes
static Napi::Value HostMechanism(const Napi::CallbackInfo &info)
{
	char line[DBOS_PT_MECHANISM_LINE_SIZE];
	size_t length = dbos_pt_host_mechanism_format(line, sizeof(line));
	return Napi::String::New(info.Env(), line, length < sizeof(line) ? length : sizeof(line) - 1);
}

void InitProbe(Napi::Env env, Napi::Object exports)
{
	exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
	exports.Set("hostMechanism", Napi::Function::New(env, HostMechanism, "hostMechanism"));
}

} // namespace dbos
