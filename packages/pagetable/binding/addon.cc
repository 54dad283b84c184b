// addon.cc - the @dbos/pagetable addon's entry: each binding file registers its exports here.
#include <napi.h>

#include "dbos/binding.h"

namespace dbos {
void InitFrames(Napi::Env env, Napi::Object exports);
void InitProbe(Napi::Env env, Napi::Object exports);
void InitRegion(Napi::Env env, Napi::Object exports);
} // namespace dbos

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	dbos::InitFrames(env, exports);
	dbos::InitProbe(env, exports);
	dbos::InitRegion(env, exports);
	return exports;
}

NODE_API_MODULE(dbos_pagetable, Init)
