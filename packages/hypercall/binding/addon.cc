// addon.cc - the @dbos/hypercall addon's entry: each binding file registers its exports here.
#include <napi.h>

#include "dbos/binding.h"

namespace dbos {
void InitGateway(Napi::Env env, Napi::Object exports);
void InitGuest(Napi::Env env, Napi::Object exports);
} // namespace dbos

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	dbos::InitGateway(env, exports);
	dbos::InitGuest(env, exports);
	return exports;
}

NODE_API_MODULE(dbos_hypercall, Init)
