// alloc_probe.cc - the host mechanism line (dbos_alloc_host_mechanism_format)
// for probe().mechanisms.alloc of @dbos/platform.
#include <napi.h>

extern "C" {
#include "dbos/alloc.h"
}

namespace dbos {

// hostMechanism() -> what a pool with the default flags gets here, as one line
static Napi::Value HostMechanism(const Napi::CallbackInfo &info)
{
	char line[DBOS_ALLOC_MECHANISM_LINE_SIZE];
	size_t length = dbos_alloc_host_mechanism_format(line, sizeof(line));
	return Napi::String::New(info.Env(), line, length < sizeof(line) ? length : sizeof(line) - 1);
}

void InitAllocProbe(Napi::Env env, Napi::Object exports)
{
	exports.Set("hostMechanism", Napi::Function::New(env, HostMechanism, "hostMechanism"));
}

} // namespace dbos
