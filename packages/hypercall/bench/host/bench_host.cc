// bench_host.cc - the benchmark's own addon (bench/guest.ts builds it with buildTestAddon):
// the host baselines of host_baseline.c as one JavaScript function, so no benchmark code ships
// in the package's addon.
#include <napi.h>

#include <cstring>
#include <string>

#include "host_baseline.h"

namespace {

uint64_t Argument(const Napi::CallbackInfo &info, size_t index)
{
	if (info.Length() <= index || !info[index].IsNumber())
		throw Napi::TypeError::New(info.Env(), "hostBaseline(what, a, b): numbers expected");
	return static_cast<uint64_t>(info[index].As<Napi::Number>().DoubleValue());
}

// hostBaseline(what: 1 syscall | 2 uffd | 3 remap | 4 timer, a, b) -> ns per operation.
Napi::Value HostBaseline(const Napi::CallbackInfo &info)
{
	double ns = 0;
	int result = host_baseline_run(static_cast<host_baseline_kind>(Argument(info, 0)), Argument(info, 1),
				       Argument(info, 2), &ns);
	if (result < 0)
		throw Napi::Error::New(info.Env(), std::string("host baseline failed: ") + std::strerror(-result));
	return Napi::Number::New(info.Env(), ns);
}

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("hostBaseline", Napi::Function::New(env, HostBaseline, "hostBaseline"));
	return exports;
}

} // namespace

NODE_API_MODULE(dbos_bench_host, Init)
