// addon.cc - the @dbos/platform addon's entry: each binding file registers its exports here.
#include <napi.h>

#include "dbos/binding.h"

namespace dbos {
void InitStatus(Napi::Env env, Napi::Object exports);
void InitProbe(Napi::Env env, Napi::Object exports);
} // namespace dbos

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	dbos::InitStatus(env, exports);
	dbos::InitProbe(env, exports);
	return exports;
}

NODE_API_MODULE(dbos_platform, Init)
