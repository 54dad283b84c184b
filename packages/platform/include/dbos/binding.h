/*
 * dbos/binding.h - Node-API helpers shared by every @dbos binding (C++ only).
 *
 * Bindings convert arguments, make one C call and convert the status.  A
 * dbos_status becomes a JavaScript Error in exactly one place, here: its
 * `code` is the stable status name ("DBOS_ENOMEM"), the message is the C
 * message plus context.  Misuse (wrong argument types) is a TypeError with
 * code DBOS_EINVAL.
 */
#ifndef DBOS_BINDING_H
#define DBOS_BINDING_H

#include <napi.h>

#include <cstdint>
#include <string>

extern "C" {
#include "dbos/status.h"
}

namespace dbos {

inline Napi::Error StatusError(Napi::Env env, dbos_status status, const std::string &context)
{
	std::string message =
		context.empty() ? dbos_status_message(status) : context + ": " + dbos_status_message(status);
	Napi::Error error = Napi::Error::New(env, message);
	error.Set("code", Napi::String::New(env, dbos_status_name(status)));
	return error;
}

inline void ThrowIfFailed(Napi::Env env, dbos_status status, const char *context)
{
	if (status != DBOS_OK)
		throw StatusError(env, status, context);
}

inline Napi::TypeError ArgumentError(Napi::Env env, const std::string &message)
{
	Napi::TypeError error = Napi::TypeError::New(env, message);
	error.Set("code", Napi::String::New(env, "DBOS_EINVAL"));
	return error;
}

inline void RequireArguments(const Napi::CallbackInfo &info, size_t count)
{
	if (info.Length() < count)
		throw ArgumentError(info.Env(), "expected " + std::to_string(count) + " arguments");
}

/* A non-negative integer that fits in uint64 and in a double without loss. */
inline uint64_t ToUint64(const Napi::Value &value, const char *name)
{
	if (value.IsBigInt()) {
		bool lossless = false;
		uint64_t result = value.As<Napi::BigInt>().Uint64Value(&lossless);
		if (!lossless)
			throw ArgumentError(value.Env(), std::string(name) + " is out of range");
		return result;
	}
	if (!value.IsNumber())
		throw ArgumentError(value.Env(), std::string(name) + " must be a number");
	double number = value.As<Napi::Number>().DoubleValue();
	if (!(number >= 0) || number > 9007199254740991.0 || number != (double)(uint64_t)number)
		throw ArgumentError(value.Env(), std::string(name) + " must be a non-negative integer");
	return (uint64_t)number;
}

} // namespace dbos

#endif /* DBOS_BINDING_H */
