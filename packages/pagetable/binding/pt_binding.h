// pt_binding.h - shared by the @dbos/pagetable binding files: argument conversion only.
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

inline enum dbos_prot ToProt(const Napi::Value &value)
{
	uint64_t prot = ToUint64(value, "prot");
	if (prot > DBOS_PROT_READ_WRITE)
		throw ArgumentError(value.Env(), "prot must be 0..3");
	return (enum dbos_prot)prot;
}

// NativeFrames (pt_frames.cc): the pool behind a JS object, or a thrown DBOS_ECLOSED / TypeError.
dbos_pt_frames *FramesOf(Napi::Env env, const Napi::Value &value);

} // namespace dbos

#endif
