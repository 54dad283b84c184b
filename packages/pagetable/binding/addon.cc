// addon.cc - the @dbos/pagetable addon's entry: each binding file registers its exports here.
#include <napi.h>

#include "dbos/binding.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	return exports;
}

NODE_API_MODULE(dbos_pagetable, Init)
