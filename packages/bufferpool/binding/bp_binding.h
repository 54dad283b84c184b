// bp_binding.h - what the @dbos/bufferpool binding files share: argument conversion and errors.
//
// binding.gyp defines NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (see @dbos/native-build): a call
// cut short by a terminating worker cannot throw, and must not abort the process instead.
#ifndef DBOS_BP_BINDING_H
#define DBOS_BP_BINDING_H

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dbos/binding.h"

extern "C" {
#include "dbos/bufferpool.h"
}

namespace dbos {

// A non-negative integer no larger than `max` (a size, a count, flags): never truncated by a cast.
inline uint64_t ToUint64Max(const Napi::Value &value, const char *name, uint64_t max)
{
	uint64_t number = ToUint64(value, name);
	if (number > max)
		throw ArgumentError(value.Env(), std::string(name) + " is out of range");
	return number;
}

// Page ids from a Float64Array (the TypeScript layer checked them; a bad one is still refused).
inline std::vector<uint64_t> ToPids(const Napi::Value &value, uint32_t max)
{
	Napi::Env env = value.Env();
	if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
		throw ArgumentError(env, "pids must be a Float64Array");
	Napi::Float64Array array = value.As<Napi::Float64Array>();
	size_t count = array.ElementLength();
	if (count > max)
		throw ArgumentError(env, "too many pids for one call");
	std::vector<uint64_t> pids(count);
	for (size_t i = 0; i < count; i++) {
		double pid = array[i];
		if (!(pid >= 0) || pid > 9007199254740991.0 || pid != (double)(uint64_t)pid)
			throw ArgumentError(env, "pids must be non-negative integers");
		pids[i] = (uint64_t)pid;
	}
	return pids;
}

// A failure with the pool's detail of it (which page, which check) in the message, and as
// `pid` / `reason` properties.  `detail` is the failing call's record (dbos_bp_last_error).
inline Napi::Error DetailedError(Napi::Env env, dbos_status status, const std::string &context,
				 const dbos_bp_error *detail)
{
	std::string message = context;
	bool described = detail != nullptr && detail->status == status && detail->reason != DBOS_BP_REASON_NONE;
	if (described) {
		char text[256];
		dbos_bp_error_format(detail, text, sizeof text);
		message += std::string(" (") + text + ")";
	}
	Napi::Error error = StatusError(env, status, message);
	if (described) {
		error.Set("pid", Napi::Number::New(env, (double)detail->pid));
		error.Set("reason", Napi::String::New(env, dbos_bp_reason_text(detail->reason)));
	}
	return error;
}

} // namespace dbos

#endif
