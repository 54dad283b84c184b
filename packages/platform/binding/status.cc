// status.cc - exposes the dbos_status names, so JavaScript and C agree on error codes.
#include "dbos/binding.h"

namespace dbos {

static Napi::Value StatusNames(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Array names = Napi::Array::New(env, DBOS_STATUS_COUNT);
	for (uint32_t status = 0; status < DBOS_STATUS_COUNT; status++)
		names.Set(status, Napi::String::New(env, dbos_status_name((dbos_status)status)));
	return names;
}

void InitStatus(Napi::Env env, Napi::Object exports)
{
	exports.Set("statusNames", Napi::Function::New(env, StatusNames, "statusNames"));
}

} // namespace dbos
