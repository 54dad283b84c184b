// alloc_binding.h - what the @dbos/alloc binding files share: the pool holder, argument conversion.
//
// binding.gyp defines NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: when a worker is terminated in the
// middle of a call, Node-API can no longer throw into JavaScript, and without it node-addon-api
// answers the failed throw with a C++ exception out of the callback (std::terminate, an abort).
#ifndef DBOS_ALLOC_BINDING_H
#define DBOS_ALLOC_BINDING_H

#include <napi.h>

#include <cstdint>
#include <string>

#include "dbos/binding.h"

extern "C" {
#include "dbos/alloc.h"
}

namespace dbos {

// The C pool plus the references that keep its memory mapped.  The holder
// outlives the pool: external ArrayBuffers' finalizers may run after close.
struct AllocHolder {
	dbos_alloc_pool *pool = nullptr;
	uint8_t *base = nullptr;
	size_t size = 0;
	uint32_t refs = 1;         // the NativePool wrapper + the memory ArrayBuffer, if made
	uint64_t live_buffers = 0; // per-allocation external ArrayBuffers not yet detached
	uint32_t live_arenas = 0;
	bool memory_exposed = false;  // the whole-pool ArrayBuffer exists (shared views)
	bool buffers_movable = false; // DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE: JS may move buffers away
};

void AllocHolderUnref(AllocHolder *holder);

// A non-negative integer no larger than `max` (a size, a count, flags): never truncated by a cast.
inline uint64_t ToUint64Max(const Napi::Value &value, const char *name, uint64_t max)
{
	uint64_t number = ToUint64(value, name);
	if (number > max)
		throw ArgumentError(value.Env(), std::string(name) + " is out of range");
	return number;
}

// The open pool, or throw DBOS_ECLOSED.
dbos_alloc_pool *AllocHolderPool(Napi::Env env, AllocHolder *holder);

// An external ArrayBuffer over [data, data + size) that is detached, not freed, by dbos.
Napi::ArrayBuffer AllocExternalBuffer(Napi::Env env, AllocHolder *holder, void *data, size_t size);

// A Float64Array of at least one element that receives an offset, or throw a TypeError.
Napi::Float64Array OffsetOut(Napi::Env env, Napi::Value value);

class NativePool;
AllocHolder *NativePoolHolder(Napi::Env env, Napi::Value value);

} // namespace dbos

#endif
