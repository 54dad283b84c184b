// pt_binding.h - shared by the @dbos/pagetable binding files: argument conversion only.
//
// binding.gyp defines NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: when a worker is terminated in the
// middle of a call, Node-API can no longer throw into JavaScript, and without it node-addon-api
// answers the failed throw with a C++ exception out of the callback (std::terminate, an abort).
#ifndef DBOS_PT_BINDING_H
#define DBOS_PT_BINDING_H

#include "dbos/binding.h"

extern "C" {
#include "dbos/pagetable.h"
}

namespace dbos {

// The longest view (bytes): the largest ArrayBuffer Node 20 can hold (buffer.constants.MAX_LENGTH
// there), so a view is valid on every Node we support.  TypeScript reads it as VIEW_LENGTH_MAX.
constexpr uint64_t kViewLengthMax = (uint64_t)1 << 32;

// A page set from three arguments: (list: Uint32Array | null | undefined, first, count).
inline dbos_pt_pages ToPages(const Napi::CallbackInfo &info, size_t index)
{
	Napi::Value list = info[index];
	if (list.IsTypedArray()) {
		Napi::TypedArray typed = list.As<Napi::TypedArray>();
		if (typed.TypedArrayType() != napi_uint32_array)
			throw ArgumentError(info.Env(), "page lists must be Uint32Array");
		Napi::Uint32Array pages = list.As<Napi::Uint32Array>();
		return dbos_pt_list(pages.Data(), pages.ElementLength());
	}
	if (!list.IsNull() && !list.IsUndefined())
		throw ArgumentError(info.Env(), "page list must be a Uint32Array or null");
	return dbos_pt_range(ToUint64(info[index + 1], "first"), ToUint64(info[index + 2], "count"));
}

// A non-negative integer no larger than `max` (a C enum, flags): never truncated by a cast.
inline uint64_t ToUint64Max(const Napi::Value &value, const char *name, uint64_t max)
{
	uint64_t number = ToUint64(value, name);
	if (number > max)
		throw ArgumentError(value.Env(), std::string(name) + " is out of range");
	return number;
}

inline enum dbos_prot ToProt(const Napi::Value &value)
{
	return (enum dbos_prot)ToUint64Max(value, "prot", DBOS_PROT_READ_WRITE);
}

// What the addon keeps per Node environment (the main thread and each worker load it apart):
// never a static, which one environment would overwrite under another's feet.
struct PtAddonData {
	Napi::FunctionReference frames_constructor; // NativeFrames of this environment
};

inline PtAddonData *AddonData(Napi::Env env)
{
	PtAddonData *data = env.GetInstanceData<PtAddonData>();
	if (data == nullptr) {
		data = new PtAddonData();
		env.SetInstanceData(data); // deleted with the environment
	}
	return data;
}

// NativeFrames (pt_frames.cc): the pool behind a JS object, or a thrown DBOS_ECLOSED / TypeError.
dbos_pt_frames *FramesOf(Napi::Env env, const Napi::Value &value);

} // namespace dbos

#endif
