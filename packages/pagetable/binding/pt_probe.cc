// pt_probe.cc - dbos_pt_probe() as a plain object.
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

void InitProbe(Napi::Env env, Napi::Object exports)
{
	exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
}

} // namespace dbos
