// addon.cc - the @dbos/scheduler addon's entry: each binding file registers its exports here.
#include <napi.h>

#include "dbos/binding.h"

namespace dbos {
void InitScheduler(Napi::Env env, Napi::Object exports); // binding/scheduler.cc: native tasks on fibers
void InitTasks(Napi::Env env, Napi::Object exports);     // binding/tasks.cc: JavaScript tasks' yield flags
} // namespace dbos

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	dbos::InitScheduler(env, exports);
	dbos::InitTasks(env, exports);
	return exports;
}

NODE_API_MODULE(dbos_scheduler, Init)
