// alloc_probe.cc - the host mechanism line (dbos_alloc_host_mechanism_format) and the KVM facts
// the guest line is judged by, for probe().mechanisms.alloc of @dbos/platform.
#include <napi.h>

extern "C" {
#include "dbos/alloc.h"
#include "dbos/probe.h"
}

namespace dbos {

// hostMechanism() -> what a pool with the default flags gets here, as one line
static Napi::Value HostMechanism(const Napi::CallbackInfo &info)
{
	char line[DBOS_ALLOC_MECHANISM_LINE_SIZE];
	size_t length = dbos_alloc_host_mechanism_format(line, sizeof(line));
	return Napi::String::New(info.Env(), line, length < sizeof(line) ? length : sizeof(line) - 1);
}

// kvm() -> { kind, reason } from the process's platform probe (the facts probe().kvm shows)
static Napi::Value Kvm(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	const dbos_probe *facts = dbos_probe_cached();
	Napi::Object result = Napi::Object::New(env);
	result.Set("kind", dbos_kvm_kind_name(facts->kvm.kind));
	result.Set("reason", facts->kvm.reason);
	return result;
}

void InitAllocProbe(Napi::Env env, Napi::Object exports)
{
	exports.Set("hostMechanism", Napi::Function::New(env, HostMechanism, "hostMechanism"));
	exports.Set("kvm", Napi::Function::New(env, Kvm, "kvm"));
}

} // namespace dbos
