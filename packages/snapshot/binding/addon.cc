// addon.cc - the @dbos/snapshot addon's entry: each binding file registers its exports here.
#include <napi.h>

#include "dbos/binding.h"

namespace dbos {
void InitSnapshot(Napi::Env env, Napi::Object exports);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	dbos::InitSnapshot(env, exports);
	return exports;
}

NODE_API_MODULE(dbos_snapshot, Init)
