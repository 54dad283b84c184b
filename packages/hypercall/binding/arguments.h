// arguments.h - exact argument checks shared by the hypercall bindings (gateway.cc, guest.cc).
//
// A JavaScript number reaches C only through these: every integer is checked
// against the range of the C type it becomes, so no value is truncated
// (2 ** 32 + 1 never becomes fd 1).  Misuse is a TypeError DBOS_EINVAL, a
// value outside its range a RangeError DBOS_ERANGE (dbos/binding.h's
// conventions).
#ifndef DBOS_HYPERCALL_ARGUMENTS_H
#define DBOS_HYPERCALL_ARGUMENTS_H

#include <cmath>
#include <cstdint>
#include <string>

#include "dbos/binding.h"

namespace dbos {

inline Napi::RangeError RangeFailure(Napi::Env env, const std::string &message)
{
	Napi::RangeError error = Napi::RangeError::New(env, message);
	error.Set("code", Napi::String::New(env, "DBOS_ERANGE"));
	return error;
}

// An integer Number (no fraction, NaN or infinity) in [min, max]; a BigInt is refused.
inline int64_t ToIntegerIn(const Napi::Value &value, const char *name, int64_t min, int64_t max)
{
	if (!value.IsNumber())
		throw ArgumentError(value.Env(), std::string(name) + " must be a number");
	double number = value.As<Napi::Number>().DoubleValue();
	if (!std::isfinite(number) || number != std::floor(number))
		throw ArgumentError(value.Env(), std::string(name) + " must be an integer");
	if (number < (double)min || number > (double)max)
		throw RangeFailure(value.Env(), std::string(name) + " must be between " + std::to_string(min) +
							" and " + std::to_string(max));
	return (int64_t)number;
}

// A descriptor number: 0 … 2^31 - 1.
inline int32_t ToDescriptor(const Napi::Value &value, const char *name)
{
	return (int32_t)ToIntegerIn(value, name, 0, INT32_MAX);
}

} // namespace dbos

#endif // DBOS_HYPERCALL_ARGUMENTS_H
