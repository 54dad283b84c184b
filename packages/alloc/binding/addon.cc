// addon.cc - the @dbos/alloc addon's entry: each binding file registers its exports here.
#include <napi.h>

#include "dbos/binding.h"

namespace dbos {
void InitAllocPool(Napi::Env env, Napi::Object exports);
void InitAllocArena(Napi::Env env, Napi::Object exports);
void InitAllocProbe(Napi::Env env, Napi::Object exports);
} // namespace dbos

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	dbos::InitAllocPool(env, exports);
	dbos::InitAllocArena(env, exports);
	dbos::InitAllocProbe(env, exports);
	return exports;
}

NODE_API_MODULE(dbos_alloc, Init)
