// addon.cc - the @dbos/kv addon's entry: each binding file registers its exports here.
#include <napi.h>

#include "kv_binding.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	dbos::InitConstants(env, exports);
	dbos::InitStore(env, exports);
	return exports;
}

NODE_API_MODULE(dbos_kv, Init)
