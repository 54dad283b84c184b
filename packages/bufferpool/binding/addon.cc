// addon.cc - the @dbos/bufferpool addon's entry: each binding file registers its exports here.
#include <napi.h>

#include "dbos/binding.h"

namespace dbos {
void InitBufferPool(Napi::Env env, Napi::Object exports);
void InitConstants(Napi::Env env, Napi::Object exports);
} // namespace dbos

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	dbos::InitConstants(env, exports);
	dbos::InitBufferPool(env, exports);
	return exports;
}

NODE_API_MODULE(dbos_bufferpool, Init)
